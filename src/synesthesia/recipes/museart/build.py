"""Museart's build steps: item tables, splits, category pairing, pair shards."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.inputs import quarantine_row
from synesthesia.stages.audio import CopyJob, audio_pass, plan_clips
from synesthesia.stages.ingest import IngestConfig, ingest_source, nothing_usable
from synesthesia.stages.shards import ShardRunner, run_serially
from synesthesia.datasets.keys import SPLITS
from synesthesia.recipes.museart.config import DATASET, INDEX_FILES, PAIR_ROWS_PER_PART, SPLIT_MODES, MuseartConfig, config_dict, group_key
from synesthesia.recipes.museart.inputs import read_index, scan_museart_source
from synesthesia.stages.pairing import pair_within_cells
from synesthesia.stages.splits import grouped_split, leaked_groups, split_like, stratified_split

# --- item tables -----------------------------------------------------------------

def assemble_images(valid: pa.Table, info: Mapping[str, dict]) -> pa.Table:
    """Validated images → :data:`schema.MUSEART_IMAGES` rows (no split yet)."""
    rows = []
    for r in valid.to_pylist():
        rows.append(
            {
                "image_id": r["image_id"], "name": info[r["path"]]["name"], "path": r["path"], "sha256": r["sha256"],
                "n_bytes": r["n_bytes"], "width": r["width"], "height": r["height"], "format": r["format"],
                "has_alpha": r["has_alpha"], "category": r["category"], "published_split": info[r["path"]]["published_split"],
                **{k: r[k] for k in S.PROVENANCE_COLUMNS},
            }
        )
    return S.from_rows(rows, S.MUSEART_IMAGES).sort_by("image_id")


def assemble_audio(valid: pa.Table, clips: pa.Table, clip_files: pa.Table, info: Mapping[str, dict], config: MuseartConfig, clip_folder: str = "clips") -> pa.Table:
    """Validated audio files + planned clips + stored clip files →
    :data:`schema.MUSEART_AUDIO` rows (one per 30 s item, no split yet)."""
    files = {r["audio_id"]: r for r in valid.to_pylist()}
    stored = {r["clip_id"]: r for r in clip_files.to_pylist()}
    per_file = Counter(clips.column("track_id").to_pylist())
    rows = []
    for c in clips.to_pylist():
        f = files[c["track_id"]]
        name = info[f["path"]]["name"]
        if per_file[c["track_id"]] > 1:
            name = f"{name}segment{c['clip_index']:02d}"
        s = stored[c["clip_id"]]
        rows.append(
            {
                "audio_id": c["clip_id"], "track_id": c["track_id"], "name": name,
                "group": group_key(name, config.group_pattern), "path": f["path"],
                "clip_path": f"{clip_folder}/{s['path']}", "clip_index": c["clip_index"],
                "start_s": c["start_s"], "end_s": c["end_s"], "signal_s": s["signal_samples"] / s["sample_rate"],
                "source_peak": s["source_peak"], "gain": s["gain"],
                "source_duration_s": f["duration_s"], "source_sample_rate": f["sample_rate"],
                "source_channels": f["channels"], "sha256": f["sha256"], "category": f["category"],
                "published_split": info[f["path"]]["published_split"], **{k: f[k] for k in S.PROVENANCE_COLUMNS},
            }
        )
    return S.from_rows(rows, S.MUSEART_AUDIO).sort_by("audio_id")




# --- splits ------------------------------------------------------------------------

def audio_splits(audio: pa.Table, mode: str, fractions: Mapping[str, float], seed: int) -> list[str | None]:
    """The split of every audio item under one split mode."""
    ids = audio.column("audio_id").to_pylist()
    categories = audio.column("category").to_pylist()
    if mode == "from-csv":
        return audio.column("published_split").to_pylist()
    if mode == "paper":
        return stratified_split(ids, categories, fractions, seed, allocation="exact")
    if mode == "grouped":
        return grouped_split(ids, audio.column("group").to_pylist(), categories, fractions, seed)
    raise ValueError(f"unknown split mode {mode!r}; choose from {SPLIT_MODES}")


def assign_splits(audio: pa.Table, images: pa.Table, config: MuseartConfig) -> tuple[pa.Table, pa.Table]:
    """Both tables with their ``split`` column set for ``config.split``.

    Items with no split (from-csv without a usable ``set``) keep a null split."""
    fractions = dict(config.fractions)
    a_split = audio_splits(audio, config.split, fractions, config.seed)
    if config.split == "from-csv":
        i_split = images.column("published_split").to_pylist()
    else:
        i_split = split_like(
            images.column("image_id").to_pylist(), images.column("category").to_pylist(),
            audio.column("category").to_pylist(), a_split, fractions, config.seed + 1,
        )
    audio = audio.set_column(audio.schema.get_field_index("split"), "split", pa.array(a_split, pa.string()))
    images = images.set_column(images.schema.get_field_index("split"), "split", pa.array(i_split, pa.string()))
    return audio, images


def leakage(audio: pa.Table) -> dict:
    """Source tracks (groups) whose items are in more than one split, among
    the items that have a split."""
    groups = audio.column("group").to_pylist()
    splits = audio.column("split").to_pylist()
    kept = [(g, s) for g, s in zip(groups, splits) if s]
    return {"groups": len({g for g, _ in kept}), "leaked": leaked_groups([g for g, _ in kept], [s for _, s in kept])}


def leakage_by_mode(audio: pa.Table, config: MuseartConfig) -> dict[str, dict]:
    """Leakage of every split mode on these items (``from-csv`` only when
    some item has a published split)."""
    out = {}
    for mode in SPLIT_MODES:
        if mode == "from-csv" and not any(audio.column("published_split").to_pylist()):
            continue
        splits = audio_splits(audio, mode, dict(config.fractions), config.seed)
        out[mode] = leakage(audio.set_column(audio.schema.get_field_index("split"), "split", pa.array(splits, pa.string())))
    return out


def split_proportions(table: pa.Table) -> dict[str, dict[str, float]]:
    """Per category, the fraction of its items in each split."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for c, s in zip(table.column("category").to_pylist(), table.column("split").to_pylist()):
        if s:
            counts[c][s] += 1
    return {c: {s: n[s] / sum(n.values()) for s in SPLITS} for c, n in counts.items()}


def unsplit_rows(audio: pa.Table, images: pa.Table, config: MuseartConfig) -> list[dict]:
    """Quarantine rows for items left without a split (from-csv only)."""
    rows = []
    for table, kind in ((audio, "audio"), (images, "image")):
        for r in table.filter(pa.compute.is_null(table["split"])).to_pylist():
            rows.append(quarantine_row(r["path"], kind, "split", f"no usable published split for --split-mode {config.split}: the index's set is empty or not train/validation/test"))
    return rows


# --- pairing -----------------------------------------------------------------------

def pair_items(audio: pa.Table, images: pa.Table, seed: int = 0) -> tuple[pa.Table, dict, list[str]]:
    """One image per audio item, same category and split (see the module doc).

    Returns the :data:`schema.MUSEART_PAIRS` table (sorted by split,
    category, audio id), the image usage per (category, split) cell and the
    ids of audio items that could not be paired (no image in their cell)."""
    a_ids = audio.column("audio_id").to_pylist()
    a_cells = list(zip(audio.column("category").to_pylist(), audio.column("split").to_pylist()))
    i_cells = list(zip(images.column("category").to_pylist(), images.column("split").to_pylist()))
    keep = [k for k, (_, s) in enumerate(a_cells) if s]
    i_keep = [k for k, (_, s) in enumerate(i_cells) if s]
    image_ids = images.column("image_id").to_pylist()
    partner, usage = pair_within_cells(
        [a_ids[k] for k in keep], [a_cells[k] for k in keep],
        [image_ids[k] for k in i_keep], [i_cells[k] for k in i_keep], seed, "museart-pairs",
    )
    rows, unpaired = [], []
    for k, image_id in zip(keep, partner):
        if image_id is None:
            unpaired.append(a_ids[k])
        else:
            rows.append({"audio_id": a_ids[k], "image_id": image_id, "category": a_cells[k][0], "split": a_cells[k][1]})
    order = {s: i for i, s in enumerate(SPLITS)}
    rows.sort(key=lambda r: (order.get(r["split"], len(order)), r["split"], r["category"], r["audio_id"]))
    return S.from_rows(rows, S.MUSEART_PAIRS), usage, unpaired


def pair_rows(pairs: pa.Table, audio: pa.Table, images: pa.Table) -> pa.Table:
    """The pairs joined with names and paths (:data:`schema.MUSEART_PAIR_ROWS`)."""
    a = {r["audio_id"]: r for r in audio.select(["audio_id", "name", "group", "clip_path"]).to_pylist()}
    i = {r["image_id"]: r for r in images.select(["image_id", "name", "path"]).to_pylist()}
    rows = [
        {**p, "audio_name": a[p["audio_id"]]["name"], "image_name": i[p["image_id"]]["name"], "group": a[p["audio_id"]]["group"],
         "audio_path": a[p["audio_id"]]["clip_path"], "image_path": i[p["image_id"]]["path"]}
        for p in pairs.to_pylist()
    ]
    return S.from_rows(rows, S.MUSEART_PAIR_ROWS)


def write_pair_shards(out: str | Path, rows: pa.Table, rows_per_part: int = PAIR_ROWS_PER_PART) -> dict[str, list[Path]]:
    """``out/pairs/<split>/part-NNNNN.parquet``; parts left by an earlier
    build (another split mode, fewer rows) are removed."""
    from synesthesia.datasets.card import write_split_parts

    return write_split_parts(rows, Path(out) / "pairs", S.MUSEART_PAIR_ROWS, rows_per_part)


# --- the build, step by step ---------------------------------------------------------

@dataclass
class Ingested:
    """Both inputs after ingest: roots, valid files, rejected rows, each
    file's index info (category, published split, source track) and the
    problems found in the index files."""

    roots: dict[str, Path]
    valid: dict[str, pa.Table]
    rejected: dict[str, pa.Table]
    info: dict[str, dict]
    problems: list[dict]
    #: why the build cannot go on (no usable image or audio file), else None
    problem: str | None = None


@dataclass
class Paired:
    images: pa.Table
    audio: pa.Table
    pairs: pa.Table
    usage: dict
    problems: list[dict]
    unpaired: int


def ingest(
    images: str | os.PathLike, audio: str | os.PathLike, out: Path, config: MuseartConfig, csv_dir: str | os.PathLike | None,
    shard_size: int, run: ShardRunner = run_serially,
) -> Ingested:
    """Read the published index files (with ``csv_dir``) or the category
    folders, then validate both inputs (sharded)."""
    out.mkdir(parents=True, exist_ok=True)
    if config.split == "from-csv" and csv_dir is None:
        raise ValueError("--split-mode from-csv uses the published 'set' column: give --csv-dir (the folder with images.csv and audio.csv)")
    problems: list[dict] = []
    indexes: dict[str, list[dict] | None] = {"image": None, "audio": None}
    if csv_dir is not None:
        for kind in indexes:
            indexes[kind], bad = read_index(Path(csv_dir) / INDEX_FILES[kind], kind)
            problems += bad
    roots, valid, rejected, info = {}, {}, {}, {}
    for kind, path, name, ingest_config in (
        ("image", images, "images", IngestConfig("image")),
        ("audio", audio, "audio", IngestConfig("audio", min_duration_s=config.ingest_min_seconds)),
    ):
        source, info[kind] = scan_museart_source(path, kind, indexes[kind], INDEX_FILES[kind])
        roots[kind], valid[kind], rejected[kind] = ingest_source(source, ingest_config, out, name, shard_size, run=run)
    problem = nothing_usable([("images", images, valid["image"], rejected["image"]), ("audio files", audio, valid["audio"], rejected["audio"])])
    if problem:  # the user needs the reasons: the quarantine table now, not after a build that cannot happen
        dio.write_table(dio.concat([rejected["image"], rejected["audio"], S.from_rows(problems, S.QUARANTINE)], S.QUARANTINE), out / "quarantine.parquet", S.QUARANTINE)
    return Ingested(roots, valid, rejected, info, problems, problem)


def clip_files(ingested: Ingested, out: Path, config: MuseartConfig, shard_size: int, run: ShardRunner = run_serially) -> tuple[pa.Table, pa.Table]:
    """The 30 s audio items: their clip plan and their 16 kHz FLAC files
    (each file decoded once). A file that fails its full decode moves from
    the valid audio to the rejected (``stage="audio"``) with its clips."""
    audio = ingested.valid["audio"]
    clips = plan_clips(audio, config.clip, id_column="audio_id")
    result = audio_pass(audio, ingested.roots["audio"], out, shard_size, copies=CopyJob(clips, config.clip, config.clip_format), id_column="audio_id", run=run)
    if result.failed.num_rows:
        bad = pc.is_in(audio.column("path"), value_set=result.failed.column("path"))
        ingested.valid["audio"] = audio.filter(pc.invert(bad))
        ingested.rejected["audio"] = dio.concat([ingested.rejected["audio"], result.failed], S.QUARANTINE)
        clips = clips.filter(pc.is_in(clips.column("track_id"), value_set=ingested.valid["audio"].column("audio_id")))
    return clips, result.clip_files


def split_and_pair(ingested: Ingested, clips: pa.Table, files: pa.Table, config: MuseartConfig) -> Paired:
    """Item tables, splits (``config.split``) and one image per audio item of its category and split."""
    images_t = assemble_images(ingested.valid["image"], ingested.info["image"])
    audio_t = assemble_audio(ingested.valid["audio"], clips, files, ingested.info["audio"], config)
    audio_t, images_t = assign_splits(audio_t, images_t, config)
    problems = list(ingested.problems) + unsplit_rows(audio_t, images_t, config)
    pairs, usage, unpaired = pair_items(audio_t, images_t, config.seed)
    paths = dict(zip(audio_t.column("audio_id").to_pylist(), audio_t.column("path").to_pylist()))
    cells = dict(zip(audio_t.column("audio_id").to_pylist(), zip(audio_t.column("category").to_pylist(), audio_t.column("split").to_pylist())))
    problems += [
        quarantine_row(paths[a], "audio", "pairing", f"no image in its category and split: '{cells[a][0]}', '{cells[a][1]}' ({a})") for a in unpaired
    ]
    return Paired(images_t, audio_t, pairs, usage, problems, len(unpaired))


def write_dataset(out: Path, ingested: Ingested, paired: Paired, config: MuseartConfig, csv_dir: str | os.PathLike | None) -> dict:
    """The tables, the per-split pair shards and ``dataset.json``; returns the
    build summary (what the report and the card say)."""
    quarantine = dio.concat([ingested.rejected["image"], ingested.rejected["audio"], S.from_rows(paired.problems, S.QUARANTINE)], S.QUARANTINE)
    dio.write_table(paired.images, out / "images.parquet", S.MUSEART_IMAGES)
    dio.write_table(paired.audio, out / "audio.parquet", S.MUSEART_AUDIO)
    dio.write_table(paired.pairs, out / "pairs.parquet", S.MUSEART_PAIRS)
    dio.write_table(quarantine, out / "quarantine.parquet", S.QUARANTINE)
    shards = write_pair_shards(out, pair_rows(paired.pairs, paired.audio, paired.images))
    categories = sorted(set(paired.images.column("category").to_pylist()) | set(paired.audio.column("category").to_pylist()))
    splits = [s for s in SPLITS if s in shards] + [s for s in shards if s not in SPLITS]
    pair_splits = paired.pairs.column("split").to_pylist()
    summary = {
        "dataset": DATASET,
        "media_roots": {"images": str(ingested.roots["image"]), "audio": str(ingested.roots["audio"]), "clips": "clips"},
        "config": config_dict(config),
        "csv_dir": str(Path(csv_dir).resolve()) if csv_dir else None,
        "categories": categories,
        "splits": splits,
        "images_found": ingested.valid["image"].num_rows + ingested.rejected["image"].num_rows,
        "audio_found": ingested.valid["audio"].num_rows + ingested.rejected["audio"].num_rows,
        "audio_files": ingested.valid["audio"].num_rows,
        "audio_items": paired.audio.num_rows,
        "split_sizes": {s: sum(1 for x in pair_splits if x == s) for s in splits},
        "leakage": leakage_by_mode(paired.audio, config),
        "pairing": paired.usage,
        "unpaired": paired.unpaired,
        "quarantined": quarantine.num_rows,
    }
    dio.write_manifest(out, {k: summary[k] for k in ("dataset", "media_roots", "config", "csv_dir", "categories", "splits")})
    return summary
