"""ArtSound, pairing phase (Art2Mus paper, section 3.3, Table 5, Figures 2
and 5, section 5.2): what it reads, its configuration, table assembly,
splits, report and dataset card.

It reads an ArtSound folder written by the captioning phase::

    DIR/dataset.json            media_roots {"artworks": ROOT, "music": ROOT}
    DIR/artworks.parquet        schema.IMAGES (image_id, path, ..., style, genre, artist, title)
    DIR/tracks.parquet          schema.AUDIO (audio_id, path, ..., genre)
    DIR/image_captions.parquet  one row per attempt: image_id, attempt, caption, scores..., kept
    DIR/audio_captions.parquet  one row per attempt: audio_id, attempt, caption, scores..., kept

and adds::

    DIR/embeddings/{image,audio}-{raw,caption}/part-*.parquet   (+ rejected-*.parquet)
    DIR/pairings/{method}/{approach}.parquet   schema.ARTSOUND_APPROACH_PAIRS
    DIR/pairing_stats.parquet                  schema.ARTSOUND_PAIRING_STATS (Table 5)
    DIR/style_by_genre.parquet                 schema.ARTSOUND_STYLE_BY_GENRE (Figure 5)
    DIR/pairs.parquet                          schema.artsound_pairs_schema(...)
    DIR/data/{train,val,test}.parquet          the same rows, one file per split
    DIR/figures/similarity_violins.png, DIR/figures/style_by_genre.png
    DIR/README.md                              Hugging Face dataset card
    DIR/report.md                              the "pairing" block (other phases keep theirs)
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.card import size_category, write_dataset_card
from synesthesia.pipelines import report as R
from synesthesia.pipelines.embedding_store import EmbedConfig, supports
from synesthesia.pipelines.greedy import DEFAULT_CANDIDATES, PAPER_ARTWORKS, PAPER_AUDIO, PAPER_EMBEDDING_DIM, GreedyConfig  # noqa: F401 (re-exported)
from synesthesia.pipelines.matching import HIGH_MIN, LOW_MAX, METHODS, MatchConfig, similarity_stats
from synesthesia.pipelines.optimal_pairing import DEFAULT_KNN
from synesthesia.pipelines.pairing import pair_id
from synesthesia.pipelines.splits import allocate, split_by_counts, stratified_split

DATASET = "artsound"


@dataclass(frozen=True)
class Approach:
    name: str
    label: str  # as in Table 5
    image_view: str  # "raw" = the artwork image, "caption" = its kept caption
    audio_view: str


#: Table 5's four pairing approaches.
APPROACHES: dict[str, Approach] = {
    a.name: a
    for a in (
        Approach("image-audio", "Image–Audio", "raw", "raw"),
        Approach("image-audiocaption", "Image–Audio Caption", "raw", "caption"),
        Approach("imagecaption-audio", "Image Caption–Audio", "caption", "raw"),
        Approach("caption-caption", "Image Caption–Audio Caption", "caption", "caption"),
    )
}

#: The paper's choices: ImageBind embeddings, the Image–Audio approach, greedy.
PAPER_EMBEDDER = "imagebind"
PAPER_APPROACH = "image-audio"
PAPER_METHOD = "greedy"
#: Section 5.2: 90/10 train/test stratified by artistic style; 100 validation artworks from the test split.
TRAIN_FRACTION = 0.9
VAL_SIZE = 100
#: ArtSound's size in the paper: every one of its PAPER_AUDIO (105,884) audio
#: items paired with one of PAPER_ARTWORKS (116,475) artworks.
PAPER_PAIRS = PAPER_AUDIO
#: Table 5 as published (ImageBind, 105,884 audio items): min, max, mean, std.
PAPER_TABLE5: dict[str, tuple[float, float, float, float]] = {
    "image-audio": (-0.0216, 0.5518, 0.1864, 0.0697),
    "image-audiocaption": (-0.0676, 0.4482, 0.0644, 0.0970),
    "imagecaption-audio": (-0.1011, 0.1794, 0.0658, 0.0344),
    "caption-caption": (0.0699, 1.0000, 0.7081, 0.3613),
}

MODALITY_TABLE = {"image": "artworks.parquet", "audio": "tracks.parquet"}
CAPTION_TABLE = {"image": "image_captions.parquet", "audio": "audio_captions.parquet"}
ID_COLUMN = {"image": "image_id", "audio": "audio_id"}
MEDIA_ROOT = {"image": "artworks", "audio": "music"}


@dataclass(frozen=True)
class ArtSoundPairingConfig:
    """Everything that decides the pairing phase's output (paper defaults)."""

    embedder: str = PAPER_EMBEDDER
    #: Embedder constructor options as (name, value) pairs, e.g. (("model_id", "/ckpt/clip"),).
    embedder_options: tuple[tuple[str, Any], ...] = ()
    #: Approaches computed for Table 5 / Figure 2 (those the embedder or the
    #: available captions cannot serve are skipped, with the reason reported).
    approaches: tuple[str, ...] = tuple(APPROACHES)
    #: The approach whose pairs become the dataset.
    approach: str = PAPER_APPROACH
    method: str = PAPER_METHOD
    #: Also run the other method on the final approach and report both.
    compare_methods: bool = True
    knn_k: int = DEFAULT_KNN
    candidates: int = DEFAULT_CANDIDATES
    #: Audio whose best available image is below this stays unpaired (None: off, as in the paper).
    min_similarity: float | None = None
    train_fraction: float = TRAIN_FRACTION
    val_size: int = VAL_SIZE
    seed: int = 0
    embed_batch_size: int = 16
    shard_size: int = 256
    #: Figure 5 draws every artistic style; a number keeps only that many of
    #: the most frequent and merges the rest into "other" (opt-in).
    figure_max_styles: int | None = None

    def __post_init__(self):
        unknown = [a for a in (*self.approaches, self.approach) if a not in APPROACHES]
        if unknown:
            raise ValueError(f"unknown approach(es) {unknown}; choose from {list(APPROACHES)}")
        if self.method not in METHODS:
            raise ValueError(f"unknown pairing method {self.method!r}; choose from {METHODS}")
        if not 0 < self.train_fraction < 1:
            raise ValueError("train_fraction must be in (0, 1)")
        if self.val_size < 0 or self.shard_size < 1:
            raise ValueError("val_size must be >= 0 and shard_size >= 1")
        if self.figure_max_styles is not None and self.figure_max_styles < 1:
            raise ValueError("figure_max_styles must be >= 1 (or None: every style)")

    @property
    def embed(self) -> EmbedConfig:
        return EmbedConfig(self.embedder, tuple(self.embedder_options), self.embed_batch_size)

    def match(self, method: str | None = None) -> MatchConfig:
        return MatchConfig(method or self.method, GreedyConfig(candidates=self.candidates, min_similarity=self.min_similarity), self.knn_k)


# --- inputs ----------------------------------------------------------------------------

@dataclass
class PairingInputs:
    folder: Path
    media_roots: dict
    artworks: pa.Table
    tracks: pa.Table
    #: Kept caption rows per modality (None: no captions table in the folder).
    captions: dict = field(default_factory=dict)


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
    return PairingInputs(folder, roots, tables["image"], tables["audio"], captions)


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
    from synesthesia.pipelines.embedding import embedder_class

    problems: list[str] = []
    try:
        cls = embedder_class(config.embedder)
    except (KeyError, RuntimeError) as exc:
        raise PairingPreflightError(f"pairing: {exc.args[0] if exc.args else exc}") from exc
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
    if problems:
        raise PairingPreflightError("the pairing phase cannot start:\n" + "\n".join(f"  - {p}" for p in problems))


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


# --- splits --------------------------------------------------------------------------------

def artsound_splits(ids: list[str], styles: list[object], train_fraction: float = TRAIN_FRACTION, val_size: int = VAL_SIZE, seed: int = 0) -> list[str]:
    """Section 5.2: train/test stratified by artistic style, then a
    validation set of ``val_size`` sampled from the test split, stratified by
    style where possible.

    The paper does not say whether the validation artworks stay in the test
    split; here they leave it, so the three splits are disjoint (test =
    10 % − val). When the test split is smaller than ``2 × val_size``, val
    takes half of it (rounded down) so test keeps at least as many as val."""
    labels = stratified_split(ids, styles, {"train": train_fraction, "test": 1 - train_fraction}, seed)
    test = [k for k, s in enumerate(labels) if s == "test"]
    n_val = min(val_size, len(test) // 2)
    test_styles = [styles[k] for k in test]
    per_style: dict = {}
    for s in test_styles:
        per_style[s] = per_style.get(s, 0) + 1
    # Largest-remainder shares of n_val per style; a style too small for a
    # share that rounds up to one item gets none ("stratified where possible").
    quota = allocate(n_val, {str(s): c for s, c in per_style.items()}) if n_val else {}
    counts = {s: {"val": quota.get(str(s), 0), "test": c - quota.get(str(s), 0)} for s, c in per_style.items()}
    for k, label in zip(test, split_by_counts([ids[k] for k in test], test_styles, counts, seed)):
        labels[k] = label
    return labels


# --- tables -------------------------------------------------------------------------------------

def _caption_extras(table: pa.Table | None) -> list[pa.Field]:
    if table is None:
        return []
    return [f for f in table.schema if f.name not in S.CAPTION_KEY_COLUMNS]


def pairs_schema(inputs: PairingInputs) -> pa.Schema:
    return S.artsound_pairs_schema(_caption_extras(inputs.captions.get("image")), _caption_extras(inputs.captions.get("audio")))


def _lookup(table: pa.Table, key: str, columns: list[str]) -> dict[str, dict]:
    cols = {c: table.column(c).to_pylist() for c in columns if c in table.column_names}
    keys = table.column(key).to_pylist()
    return {k: {c: v[i] for c, v in cols.items()} for i, k in enumerate(keys)}


def assemble_pairs(final: pa.Table, splits: list[str], inputs: PairingInputs) -> pa.Table:
    """``pairs.parquet``: the final approach's pairs with their split, the
    artwork and track metadata, and the kept captions with their scores."""
    schema = pairs_schema(inputs)
    art = _lookup(inputs.artworks, "image_id", ["path", "style", "genre", "artist", "title"])
    trk = _lookup(inputs.tracks, "audio_id", ["path", "genre"])
    caps = {}
    for modality in ("image", "audio"):
        t = inputs.captions.get(modality)
        caps[modality] = _lookup(t, ID_COLUMN[modality], [c for c in t.column_names if c not in (ID_COLUMN[modality], "kept")]) if t is not None else {}
    rows = []
    for a_id, i_id, s, approach, method, split in zip(
        final.column("audio_id").to_pylist(),
        final.column("image_id").to_pylist(),
        final.column("similarity").to_pylist(),
        final.column("approach").to_pylist(),
        final.column("method").to_pylist(),
        splits,
    ):
        a, t = art.get(i_id, {}), trk.get(a_id, {})
        row = {
            "pair_id": pair_id(i_id, a_id),
            "audio_id": a_id,
            "image_id": i_id,
            "similarity": s,
            "approach": approach,
            "method": method,
            "split": split,
            "audio_path": t.get("path"),
            "image_path": a.get("path"),
            "style": a.get("style"),
            "artwork_genre": a.get("genre"),
            "artist": a.get("artist"),
            "title": a.get("title"),
            "music_genre": t.get("genre"),
        }
        for modality, item in (("image", i_id), ("audio", a_id)):
            cap = caps[modality].get(item, {})
            row[f"{modality}_caption"] = cap.get("caption")
            for k, v in cap.items():
                if k != "caption" and f"{modality}_caption_{k}" in schema.names:
                    row[f"{modality}_caption_{k}"] = v
        rows.append(row)
    table = S.from_rows(rows, schema)
    return table.sort_by([("split", "ascending"), ("audio_id", "ascending")])


def style_by_genre(pairs: pa.Table) -> pa.Table:
    """Figure 5's counts: final pairs per (music genre, artistic style)."""
    counts: dict[tuple[str, str], int] = {}
    for g, s in zip(pairs.column("music_genre").to_pylist(), pairs.column("style").to_pylist()):
        key = ("(none)" if g is None else g, "(none)" if s is None else s)
        counts[key] = counts.get(key, 0) + 1
    rows = [{"music_genre": g, "style": s, "pairs": n} for (g, s), n in sorted(counts.items())]
    return S.from_rows(rows, S.ARTSOUND_STYLE_BY_GENRE)


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


# --- report and card --------------------------------------------------------------------------------

def _fmt(v: object) -> object:
    return f"{v:.4f}" if isinstance(v, float) and not np.isnan(v) else ("–" if isinstance(v, float) else v)


def report_block(summary: dict, stats: pa.Table, pairs: pa.Table, config: ArtSoundPairingConfig) -> str:
    """The ``pairing`` block of ``report.md``."""
    st = stats.to_pylist()
    main = [r for r in st if r["method"] == config.method]
    parts = [
        "## Pairing (section 3.3)",
        f"Embedder `{config.embedder}`; final approach **{APPROACHES[config.approach].label}** (`{config.approach}`); "
        f"pairing method `{config.method}`"
        + (f"; audio items below similarity {config.min_similarity:g} stay unpaired." if config.min_similarity is not None else "; every audio item is paired while images remain (as in the paper).")
        + " Similarity is the cosine of L2-normalised embeddings. Greedy = the global greedy of Eq. 4: repeatedly the most similar (audio, available image) pair, ties broken by audio id then image id.",
        "### Embeddings\n\n"
        + R.md_table(
            ["store", "items", "embedded", "rejected", "model", "dim"],
            [(k, v["items"], v["embedded"], v["rejected"], ", ".join(v["models"]) or "–", v["dim"] or "–") for k, v in summary["embeddings"].items()],
        ),
    ]
    check = lambda ok: "✓" if ok else "—"  # noqa: E731
    rows = []
    for r in main:
        a = APPROACHES[r["approach"]]
        rows.append(
            (a.label + (" (final)" if r["approach"] == config.approach else ""), check(a.image_view == "raw"), check(a.image_view == "caption"), check(a.audio_view == "raw"), check(a.audio_view == "caption"), r["pairs"], *(_fmt(r[k]) for k in ("min", "max", "mean", "std")))
        )
    header = ["pairing approach", "image", "image caption", "audio", "audio caption", "pairs", "min", "max", "avg", "std dev"]
    table5 = "### Table 5 on this data\n\n" + R.md_table(header, rows)
    if summary["skipped"]:
        table5 += "\n\nNot computed: " + "; ".join(f"{APPROACHES[k].label} ({v})" for k, v in summary["skipped"].items()) + "."
    table5 += (
        f"\n\nThe paper's Table 5 (ImageBind, {PAPER_PAIRS:,} audio items), for reference:\n\n"
        + R.md_table(["pairing approach", "min", "max", "avg", "std dev"], [(APPROACHES[k].label, *(f"{x:.4f}" for x in v)) for k, v in PAPER_TABLE5.items()])
        + "\n\nStandard deviation is the population one (ddof = 0). All rows also in `pairing_stats.parquet`."
    )
    parts.append(table5)
    parts.append(
        f"### Figure 2: similarity ranges\n\n![similarity violins](figures/similarity_violins.png)\n\n"
        f"Ranges: low ≤ {LOW_MAX:g}, medium in between, high ≥ {HIGH_MIN:g}.\n\n"
        + R.md_table(["pairing approach", "low", "medium", "high"], [(APPROACHES[r["approach"]].label, r["low"], r["medium"], r["high"]) for r in main])
    )
    final_rows = [r for r in st if r["approach"] == config.approach]
    if len(final_rows) > 1:
        parts.append(
            "### Greedy vs optimal k-NN assignment (final approach)\n\n"
            f"`optimal-knn` maximises the total similarity over each audio's {config.knn_k} most similar images "
            "(sparse assignment), then pairs what it cannot place greedily. The paper notes greedy leaves its last "
            "items with poor partners; the bottom decile shows it.\n\n"
            + R.md_table(
                ["method", "pairs", "mean", "p10", "bottom-decile mean", "min", "total similarity"],
                [(r["method"], r["pairs"], _fmt(r["mean"]), _fmt(r["p10"]), _fmt(r["bottom_decile_mean"]), _fmt(r["min"]), _fmt(float(r["mean"] * r["pairs"]) if r["pairs"] else float("nan"))) for r in final_rows],
            )
        )
    parts.append(
        "### Figure 5: artistic style by music genre (final pairs)\n\n![style by genre](figures/style_by_genre.png)\n\n"
        "Counts per (music genre, style) in `style_by_genre.parquet`."
    )
    splits = pairs.column("split").to_pylist()
    sizes = [(s, splits.count(s)) for s in ("train", "val", "test")]
    parts.append(
        "### Splits (section 5.2)\n\n"
        f"{config.train_fraction:.0%}/{1 - config.train_fraction:.0%} train/test stratified by artistic style (seed {config.seed}); "
        f"a validation set of up to {config.val_size} pairs sampled from the test split, stratified by style where possible, "
        "and removed from it (the three splits are disjoint).\n\n"
        + R.md_table(["split", "pairs"], sizes)
        + "\n\n"
        + R.crosstab(pairs.column("style").to_pylist(), splits, "style", ["train", "val", "test"])
    )
    parts.append(
        "### Unpaired and rejected\n\n"
        + R.md_table(
            ["what", "count"],
            [
                ("audio items", summary["audio_items"]),
                ("artworks", summary["artworks"]),
                ("final pairs", pairs.num_rows),
                ("audio items left unpaired", summary["unpaired_audio"]),
                ("items rejected by the embedding stage", summary["rejected"]),
            ],
        )
        + "\n\nRejected items are listed with their reason in `quarantine.parquet` (stage `embed`)."
    )
    return "\n\n".join(parts)


def write_card(folder: Path, pairs: pa.Table, config: ArtSoundPairingConfig, stats: pa.Table) -> Path:
    """The Hugging Face dataset card (``README.md``); its ``configs`` point at ``data/{split}.parquet``."""
    splits = pairs.column("split").to_pylist()
    # An empty split is left out of the configs: `datasets` cannot load a split
    # file without rows (a small test split can leave val empty, e.g. with --min-similarity).
    split_files = {s: f"data/{s}.parquet" for s in ("train", "val", "test") if s in splits}
    final = [r for r in stats.to_pylist() if r["approach"] == config.approach and r["method"] == config.method]
    mean = f"{final[0]['mean']:.4f}" if final and final[0]["pairs"] else "–"
    sections = [
        "Artwork–music pairs in the manner of *ArtSound* (Art2Mus paper): each music track is paired with an artwork "
        f"by the similarity of their `{config.embedder}` embeddings, approach **{APPROACHES[config.approach].label}**, "
        f"pairing method `{config.method}` (greedy: the most similar (track, free artwork) pair first, each artwork used "
        f"once). Every pair carries its similarity (mean {mean}) and the kept image and audio captions with their quality scores.",
        R.md_table(["split", "pairs"], [(s, splits.count(s)) for s in ("train", "val", "test")])
        + f"\n\nSplits: {config.train_fraction:.0%}/{1 - config.train_fraction:.0%} train/test stratified by artistic style, "
        f"a validation set of up to {config.val_size} pairs taken out of the test split (seed {config.seed}).",
        "## Columns\n\n"
        + R.md_table(["column", "type"], [(f"`{f.name}`", str(f.type)) for f in pairs.schema])
        + "\n\n`image_path` / `audio_path` are relative to the media roots recorded in `dataset.json`. Similarity "
        "statistics per pairing approach (the paper's Table 5 on this data) are in `pairing_stats.parquet` and `report.md`.",
    ]
    extra = {"license": "other", "size_categories": [size_category(pairs.num_rows)], "tags": ["art", "music", "image-to-audio", "cross-modal"]}
    return write_dataset_card(folder, "ArtSound (synesthesia build)", split_files, sections, extra)


def config_dict(config: ArtSoundPairingConfig) -> dict:
    return dataclasses.asdict(config)
