"""ArtSound's pairing phase (Art2Mus paper, section 3.3): what it reads,
its preflight, the embedding stores and each approach's pairs.

It reads an ArtSound folder written by the captioning phase::

    DIR/dataset.json            media_roots {"artworks": ROOT, "music": ROOT}
    DIR/artworks.parquet        schema.IMAGES (image_id, path, ..., style, genre, artist, title)
    DIR/tracks.parquet          schema.AUDIO (audio_id, path, ..., genre)
    DIR/image_captions.parquet  one row per attempt: image_id, attempt, caption, scores..., kept
    DIR/audio_captions.parquet  one row per attempt: audio_id, attempt, caption, scores..., kept

and adds ``embeddings/`` and ``pairings/`` here, then the final pairs
(:mod:`synesthesia.recipes.artsound.pairs`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import stable_hash
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND
from synesthesia.recipes.artsound.config import APPROACHES, CAPTION_TABLE, ID_COLUMN, MEDIA_ROOT, MODALITY_TABLE, ArtSoundPairingConfig
from synesthesia.stages import embedding_store as ES
from synesthesia.stages.embedding_store import supports
from synesthesia.stages.matching import match_ids, similarity_stats
from synesthesia.stages.shards import ShardRunner, run_serially


@dataclass
class PairingInputs:
    folder: Path
    media_roots: dict
    artworks: pa.Table
    tracks: pa.Table
    #: Kept caption rows per modality (None: no captions table in the folder).
    captions: dict = field(default_factory=dict)
    #: The captioning phase's ``--alpha-background`` (dataset.json), used for the raw image embeddings too.
    alpha_background: str = DEFAULT_ALPHA_BACKGROUND


def kept_captions(table: pa.Table, id_column: str, name: str) -> pa.Table:
    """The rows with ``kept`` true, checked to be at most one per item."""
    missing = [c for c in (id_column, "caption", "kept") if c not in table.column_names]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; expected one row per attempt with {id_column}, caption, kept")
    kept = table.filter(pc.fill_null(table.column("kept"), False))
    ids = kept.column(id_column).to_pylist()
    if len(set(ids)) != len(ids):
        dup = len(ids) - len(set(ids))
        raise ValueError(f"{name}: {dup} item(s) have more than one kept caption row")
    return kept


def read_inputs(folder: str | os.PathLike) -> PairingInputs:
    folder = Path(folder)
    manifest = dio.read_manifest(folder)
    roots = dict(manifest.get("media_roots") or {})
    for key in MEDIA_ROOT.values():
        if key not in roots:
            raise ValueError(f"{folder / dio.MANIFEST}: media_roots has no {key!r} entry")
    tables = {}
    for modality, name in MODALITY_TABLE.items():
        path = folder / name
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; run the ArtSound ingest/captioning phase first")
        tables[modality] = dio.read_table(path, S.IMAGES if modality == "image" else S.AUDIO)
    captions = {}
    for modality, name in CAPTION_TABLE.items():
        path = folder / name
        if path.exists():
            captions[modality] = kept_captions(pq.read_table(path), ID_COLUMN[modality], name)
    background = (manifest.get("config") or {}).get("alpha_background") or DEFAULT_ALPHA_BACKGROUND
    return PairingInputs(folder, roots, tables["image"], tables["audio"], captions, background)


# --- what to compute ---------------------------------------------------------------------

def _plan(config: ArtSoundPairingConfig, caption_modalities: set[str] | None) -> tuple[list[str], dict[str, str]]:
    """(approaches that can be computed, {approach that cannot: reason}), for
    captions available for ``caption_modalities`` (``None``: assume both)."""
    wanted = list(dict.fromkeys([*config.approaches, config.approach]))
    run, skipped = [], {}
    for name in wanted:
        a = APPROACHES[name]
        reasons = []
        for modality, view in (("image", a.image_view), ("audio", a.audio_view)):
            if not supports(config.embedder, modality, view):
                what = "text" if view == "caption" else modality
                reasons.append(f"embedder {config.embedder!r} does not embed {what}")
            if view == "caption" and caption_modalities is not None and modality not in caption_modalities:
                reasons.append(f"no {CAPTION_TABLE[modality]} in the folder")
        if reasons:
            skipped[name] = "; ".join(dict.fromkeys(reasons))
        else:
            run.append(name)
    return run, skipped


def plan_approaches(config: ArtSoundPairingConfig, inputs: PairingInputs) -> tuple[list[str], dict[str, str]]:
    """(approaches to compute, {skipped approach: reason}). The final approach
    is always computed; if it cannot be, that is an error."""
    run, skipped = _plan(config, set(inputs.captions))
    if config.approach in skipped:
        raise ValueError(f"the final approach {config.approach!r} cannot be computed: {skipped[config.approach]}")
    return run, skipped


# --- preflight -----------------------------------------------------------------------------

class PairingPreflightError(RuntimeError):
    """The pairing phase cannot start; the message lists every missing input
    and how to get it."""


def preflight_pairing(config: ArtSoundPairingConfig, folder: str | os.PathLike | None = None) -> None:
    """Fail before any work when the pairing phase could not finish.

    Always: the embedder is registered and importable, can embed what the
    final approach compares, accepts its options, and has its optional
    dependencies and local files (e.g. the ImageBind checkpoint), checked
    without loading any weights. With ``folder`` (pairing an existing
    ArtSound folder; not in a full build, whose captioning phase writes
    them): ``dataset.json`` with both media roots, ``artworks.parquet``,
    ``tracks.parquet``, the caption tables the final approach embeds (with
    their id / caption / kept columns), and the media folders of every raw
    view that will be embedded. Raises :class:`PairingPreflightError` naming
    every problem found."""
    problems = pairing_problems(config, folder)
    if problems:
        raise PairingPreflightError("the pairing phase cannot start:\n" + "\n".join(f"  - {p}" for p in problems))


def pairing_problems(config: ArtSoundPairingConfig, folder: str | os.PathLike | None = None) -> list[str]:
    """What :func:`preflight_pairing` checks, as a list of problems (empty: none)."""
    from synesthesia.models.embedders import embedder_class

    problems: list[str] = []
    try:
        cls = embedder_class(config.embedder)
    except (KeyError, RuntimeError) as exc:
        return [f"pairing: {exc.args[0] if exc.args else exc}"]
    final = APPROACHES[config.approach]
    cannot = sorted({"text" if view == "caption" else modality for modality, view in (("image", final.image_view), ("audio", final.audio_view)) if not supports(config.embedder, modality, view)})
    if cannot:
        problems.append(
            f"embedder {config.embedder!r} does not embed {' or '.join(cannot)}, which the final approach {config.approach!r} compares "
            f"(it embeds {', '.join(sorted(cls.modalities))}); choose another --embedder or --approach"
        )
    try:
        cls.preflight(**dict(config.embedder_options))
    except (RuntimeError, OSError, TypeError, ValueError) as exc:
        problems.append(str(exc))

    if folder is not None:
        problems += _folder_problems(config, Path(folder))
    return problems


def _folder_problems(config: ArtSoundPairingConfig, folder: Path) -> list[str]:
    run_captions = "run `synesthesia build artsound --captions-only` (the captioning phase) into it first"
    if not folder.is_dir():
        return [f"{folder}: no such folder; {run_captions}"]
    problems = []
    roots: dict = {}
    manifest_path = folder / dio.MANIFEST
    if not manifest_path.is_file():
        problems.append(f"{manifest_path}: missing; {run_captions}")
    else:
        try:
            roots = dict(dio.read_manifest(folder).get("media_roots") or {})
        except ValueError as exc:
            problems.append(f"{manifest_path}: not valid JSON ({exc})")
        missing = [key for key in MEDIA_ROOT.values() if key not in roots]
        if missing and not problems:
            problems.append(f"{manifest_path}: media_roots has no {' / '.join(repr(k) for k in missing)} entry")
    for name in MODALITY_TABLE.values():
        if not (folder / name).is_file():
            problems.append(f"{folder / name}: missing; {run_captions}")
    captions = set()
    for modality, name in CAPTION_TABLE.items():
        path = folder / name
        if not path.is_file():
            continue
        try:
            columns = set(pq.read_schema(path).names)
        except Exception as exc:  # unreadable file: say so, whatever the reason
            problems.append(f"{path}: cannot be read ({type(exc).__name__}: {exc})")
            continue
        lacking = [c for c in (ID_COLUMN[modality], "caption", "kept") if c not in columns]
        if lacking:
            problems.append(f"{path}: missing column(s) {lacking}; expected one row per attempt with {ID_COLUMN[modality]}, caption, kept")
        captions.add(modality)
    run, _ = _plan(config, captions)
    final = APPROACHES[config.approach]
    for modality, view in (("image", final.image_view), ("audio", final.audio_view)):
        if view == "caption" and modality not in captions:
            problems.append(
                f"the final approach {config.approach!r} embeds the {modality} captions, but {folder / CAPTION_TABLE[modality]} is missing; "
                f"{run_captions}, or choose an --approach that does not need them"
            )
    for modality in ("image", "audio"):
        key = MEDIA_ROOT[modality]
        if key in roots and any(getattr(APPROACHES[a], f"{modality}_view") == "raw" for a in run):
            root = Path(roots[key])
            if not root.is_dir():
                problems.append(f"media root {key!r} = {root} (from {manifest_path.name}) is not a folder, and {modality} files are embedded from it")
    return problems


def stores_needed(approaches: list[str]) -> list[tuple[str, str]]:
    out = []
    for name in approaches:
        a = APPROACHES[name]
        for mv in (("image", a.image_view), ("audio", a.audio_view)):
            if mv not in out:
                out.append(mv)
    return out


def store_inputs(inputs: PairingInputs, modality: str, view: str) -> tuple[list[str], dict]:
    """(item ids, keyword arguments for ``embedding_store.work_items``) and the media root."""
    table = inputs.artworks if modality == "image" else inputs.tracks
    ids = table.column(ID_COLUMN[modality]).to_pylist()
    if view == "caption":
        kept = inputs.captions[modality]
        text = dict(zip(kept.column(ID_COLUMN[modality]).to_pylist(), kept.column("caption").to_pylist()))
        return ids, {"texts": [text.get(i) for i in ids]}
    return ids, {"paths": table.column("path").to_pylist(), "fingerprints": table.column("sha256").to_pylist()}


def media_root(inputs: PairingInputs, modality: str) -> str:
    return str(inputs.media_roots[MEDIA_ROOT[modality]])


def compute_stores(
    inputs: PairingInputs, needed: list[tuple[str, str]], config: ArtSoundPairingConfig, run: ShardRunner = run_serially
) -> tuple[dict, list[pa.Table]]:
    """The sharded embedding stage for every needed store, all shards mapped
    over the task runner together; returns per-store summaries and the rejected rows."""
    plans, stage_of = {}, {}
    embed_config = dataclasses.replace(config.embed, alpha_background=inputs.alpha_background)
    for modality, view in needed:
        ids, kwargs = store_inputs(inputs, modality, view)
        items, prints = ES.work_items(ids, **kwargs)
        shards = ES.plan_store(modality, view, items, prints, embed_config, config.shard_size)
        folder = ES.store_dir(inputs.folder, modality, view)
        root = None if view == "caption" else media_root(inputs, modality)
        plans[(modality, view)] = (len(items), shards, folder)
        stage_of[f"embed-{modality}-{view}"] = (modality, view, root, str(folder))
    all_shards = [s for _, shards, _ in plans.values() for s in shards]
    results = run(ES.embed_any_shard_step, all_shards, stores=stage_of, config=embed_config)
    skipped = {}
    for shard, result in zip(all_shards, results):
        skipped[shard.stage] = skipped.get(shard.stage, 0) + bool(result.get("skipped"))
    info, rejected = {}, []
    for (modality, view), (n_items, shards, folder) in plans.items():
        bad = ES.collect_store(shards, folder)
        rejected.append(bad)
        info[(modality, view)] = {
            "items": n_items,
            "rejected": bad.num_rows,
            "shards": len(shards),
            "skipped_shards": skipped.get(f"embed-{modality}-{view}", 0),
            "files": sorted(p.name for p in dio.part_files(folder, "part-")),
        }
    return info, rejected


def _pairing_key(approach: str, method: str, config: ArtSoundPairingConfig, stores: dict) -> str:
    a = APPROACHES[approach]
    return stable_hash(approach, method, config.match(method), stores[("image", a.image_view)]["files"], stores[("audio", a.audio_view)]["files"])


def pair_approach(folder: Path, approach: str, method: str, config: ArtSoundPairingConfig, stores: dict, vectors: dict) -> tuple[pa.Table, dict]:
    """One approach's pairs (reused from ``pairings/`` when still valid) and its Table 5 row."""
    a = APPROACHES[approach]
    path = folder / "pairings" / method / f"{approach}.parquet"
    key = _pairing_key(approach, method, config, stores)
    a_ids, A, _ = vectors[("audio", a.audio_view)]
    i_ids, X, _ = vectors[("image", a.image_view)]
    if path.exists():
        cached = pq.read_table(path)
        meta = S.schema_meta(cached.schema)
        if meta.get("key") == key:
            sims = cached.column("similarity").to_numpy()
            return cached, stats_row(approach, method, config.embedder, len(a_ids), len(i_ids), sims, int(meta["unpaired"]), float(meta["seconds"]))
    result = match_ids(a_ids, A, i_ids, X, config.match(method), config.pairing_device)
    table = result.table(approach, method)
    meta = {"key": key, "unpaired": len(result.unpaired_audio), "seconds": result.stats["seconds"], "stats": result.stats}
    table = table.replace_schema_metadata({b"synesthesia": json.dumps(meta, default=str)})
    dio.write_table(table, path)
    row = stats_row(approach, method, config.embedder, len(a_ids), len(i_ids), result.similarity, len(result.unpaired_audio), result.stats["seconds"])
    return table, row


def stats_row(approach: str, method: str, embedder: str, n_audio: int, n_images: int, similarities: np.ndarray, unpaired: int, seconds: float) -> dict:
    st = similarity_stats(similarities)
    return {
        "approach": approach,
        "method": method,
        "embedder": embedder,
        "audio": n_audio,
        "images": n_images,
        "pairs": st["count"],
        "unpaired_audio": unpaired,
        **{k: st[k] for k in ("min", "max", "mean", "std", "p10", "bottom_decile_mean", "low", "medium", "high")},
        "seconds": seconds,
    }


# --- the phase, step by step -------------------------------------------------------------

@dataclass
class Embedded:
    """The inputs, the approaches to compute (and those skipped, with why),
    each store's summary, its vectors and the rows the embedders rejected."""

    inputs: PairingInputs
    approaches: list[str]
    skipped: dict[str, str]
    stores: dict
    vectors: dict
    rejected: list[pa.Table]


def embed(folder: Path, config: ArtSoundPairingConfig, run: ShardRunner = run_serially) -> Embedded:
    """Check the folder, decide the approaches, and compute (or reuse) every
    embedding store they need."""
    preflight_pairing(config, folder)
    inputs = read_inputs(folder)
    approaches, skipped = plan_approaches(config, inputs)
    stores, rejected = compute_stores(inputs, stores_needed(approaches), config, run)
    vectors = {mv: ES.read_embeddings(ES.store_dir(folder, *mv)) for mv in stores}
    for mv, (ids, _, meta) in vectors.items():
        stores[mv].update({"embedded": len(ids), "models": meta.get("models", []), "dim": meta.get("dim")})
    return Embedded(inputs, approaches, skipped, stores, vectors, rejected)


def pair_approaches(folder: Path, embedded: Embedded, config: ArtSoundPairingConfig) -> tuple[list[dict], pa.Table]:
    """Every approach's pairs (plus the other method on the final approach
    with ``compare_methods``); returns Table 5's rows and the final pairs."""
    runs = [(a, config.method) for a in embedded.approaches]
    if config.compare_methods:
        runs += [(config.approach, m) for m in ("greedy", "optimal-knn") if m != config.method]
    rows, final = [], None
    for approach, method in runs:
        table, row = pair_approach(folder, approach, method, config, embedded.stores, embedded.vectors)
        rows.append(row)
        if approach == config.approach and method == config.method:
            final = table
    dio.write_table(S.from_rows(rows, S.ARTSOUND_PAIRING_STATS), folder / "pairing_stats.parquet", S.ARTSOUND_PAIRING_STATS)
    return rows, final
