"""Museart (Musipainter paper, section 3.1): 18 categories of images and
30 s audio; each audio item paired with a random image of its category;
80/10/10 splits (published: 19,366 / 2,425 / 2,425 of 24,216).

Inputs
------
* **Published layout**: ``images.csv`` and ``audio.csv`` (columns ``id,
  class, set``) in ``--csv-dir``, plus a folder of images and a folder of
  WAV files anywhere below ``--images`` / ``--audio``. A file belongs to the
  index row whose ``id`` is its stem (case-insensitive, spaces as
  underscores); when an id is listed under two classes (the published
  ``images.csv`` has one such id), the class folder the file sits in decides.
* **Plain layout** (no ``--csv-dir``): one sub-folder per category under
  ``--images`` and ``--audio``.

Category names that match one of the paper's 18 (:data:`PAPER_CATEGORIES`)
up to case, ``_``/``-`` and spacing become the paper's spelling
(``heavy_metal`` → ``Heavy metal``); any other name is a category of its own.

Audio items
-----------
Every source file is decoded once, averaged to mono, resampled to **16 kHz**
(the rate of the BEATs encoder Musipainter uses; the authors' loader
resampled to 44.1 kHz by mistake) and cut into **30 s** clips from its start.
A file of 30–60 s (the published files are 30 s) gives one item named like
the file; a longer file gives one item per whole 30 s, named
``<stem>segmentNN`` like the published segments, so they share a source
track. Shorter files are **zero-padded** (default, ``short_audio="pad"``)
when they hold at least :data:`DEFAULT_MIN_AUDIO_SECONDS` of signal, else
quarantined; ``short_audio="drop"`` quarantines every file under 30 s. A
remainder under 30 s at the end of a longer file is dropped.

Clips are stored as **one FLAC file per item** (16-bit PCM, lossless): at
Museart's 24,216 items that is 24,216 files of ~0.5–0.9 MB (about 12–20 GB
instead of 23 GB of 16-bit WAV or 46 GB of float32), read in O(1) by path by
any data loader and by any audio tool, written atomically one by one so a
crash loses nothing finished. A Parquet column would have to hold ~1 MB per
row and needs a row group per clip for random access, for no gain in size.

Splits (``split=``)
-------------------
* ``grouped`` (default): 80/10/10 per category, but all items of one source
  track in one split. The track is the item name up to its trailing
  ``segmentNN`` (:data:`DEFAULT_GROUP_PATTERN`, configurable).
* ``paper``: 80/10/10 per category at item level, sizes by largest
  remainder per category (the published construction is undocumented; on the
  published class sizes this lands within two items of every published size).
* ``from-csv``: the published ``set`` column as is (``validation`` is named
  ``val`` here, like every split of this toolkit).

Images are split per category in proportion to the audio of their category
(from-csv: their own ``set``), so every category × split cell has images for
its audio.

Pairing
-------
Each audio item gets one image of the same category and split, drawn once,
seeded per cell (:func:`synesthesia.pipelines.pairing.pair_within_cells`);
within a cell every image is used ``floor(a/i)`` or ``ceil(a/i)`` times. The
authors re-drew the image at every access; here the pairing is a table that
only changes with the seed (or the items).

A built Museart folder::

    DIR/
      dataset.json               dataset, media roots (images, audio, clips), config, categories
      images.parquet             schema.MUSEART_IMAGES   one row per valid image, with split
      audio.parquet              schema.MUSEART_AUDIO    one row per 30 s audio item, with split
      clips/<xx>/<audio_id>.flac the audio items: 16 kHz mono 16-bit, 30 s (480,000 samples)
      pairs.parquet              schema.MUSEART_PAIRS    (audio_id, image_id, category, split)
      pairs/<split>/part-*.parquet  schema.MUSEART_PAIR_ROWS  the pairs of a split, with paths
      quarantine.parquet         schema.QUARANTINE       every rejected input and why
      report.md                  counts per category and split, leakage per split mode, pairing
      README.md                  dataset card (YAML configs → pairs/<split>/*.parquet)
      _work/                     shard parts of the ingest and clip stages (re-runs resume)

Reading it (what Musipainter training uses): :func:`read_pairs` gives the
pairs of a split with absolute ``audio_path`` / ``image_path`` and a
``category_index``; :class:`MuseartPairs` is a map-style dataset yielding
``{"audio": float32[480000] at 16 kHz, "image": PIL RGB image, "category",
"category_index", "audio_id", "image_id"}`` (plain RGB: the authors' loader
swapped R and B).
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.pipelines import report as R
from synesthesia.pipelines.audio import ClipConfig
from synesthesia.pipelines.ingest import (
    IngestConfig,
    Source,
    SourceItem,
    folder_key,
    match_by_stem,
    quarantine_row,
    scan_source,
)
from synesthesia.pipelines.pairing import pair_within_cells
from synesthesia.pipelines.splits import (
    DEFAULT_FRACTIONS,
    SPLITS,
    grouped_split,
    leaked_groups,
    split_like,
    stratified_split,
)

DATASET = "museart"

#: Musipainter paper, Table 5 (in its order): the 18 Museart categories.
PAPER_CATEGORIES: tuple[str, ...] = (
    "Renaissance symbolism",
    "Baroque Classical symbolism",
    "Electronic music",
    "Renaissance secular subject",
    "20th century abstractionism",
    "Romanticism open view",
    "Heavy metal",
    "African traditional folklore",
    "20th century experimental open view",
    "20th century traditional open view",
    "20th century experimental figure",
    "Asian traditional folklore",
    "Romanticism figure",
    "American traditional folklore",
    "European traditional folklore",
    "Modern instrumental music",
    "Baroque Classical secular subject",
    "20th century traditional figure",
)
#: Section 3.1: "24216 potential music–image pairs".
PUBLISHED_ITEMS = 24_216
#: Section 3.1: training, validation and test sets of 19366, 2425 and 2425.
PUBLISHED_SPLIT_SIZES: Mapping[str, int] = {"train": 19_366, "val": 2_425, "test": 2_425}
#: Section 3.1: "The audio files inside Museart are 30 s long".
MUSEART_CLIP_SECONDS = 30.0
#: Shorter files are zero-padded to 30 s only if they hold at least this much
#: signal (half a clip); shorter ones are quarantined. Our choice.
DEFAULT_MIN_AUDIO_SECONDS = 15.0
#: Published audio ids are ``<track>segmentNN``: the source track is the name
#: up to the last ``segment`` + digits. Names that do not match are their own group.
DEFAULT_GROUP_PATTERN = r"^(.*)segment\d+$"
SPLIT_MODES = ("grouped", "paper", "from-csv")
INDEX_FILES: Mapping[str, str] = {"image": "images.csv", "audio": "audio.csv"}
#: Published ``set`` values → our split names.
SET_NAMES: Mapping[str, str] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}
#: Rows per part file of ``pairs/<split>/``.
PAIR_ROWS_PER_PART = 10_000


@dataclass(frozen=True)
class MuseartConfig:
    """Everything that decides the content of a Museart build."""

    split: str = "grouped"
    seed: int = 0
    fractions: tuple[tuple[str, float], ...] = tuple(DEFAULT_FRACTIONS.items())
    #: Regex over an audio item's name; its first group is the source track.
    group_pattern: str = DEFAULT_GROUP_PATTERN
    #: "pad": files shorter than 30 s with >= min_audio_seconds are zero-padded; "drop": quarantined.
    short_audio: str = "pad"
    min_audio_seconds: float = DEFAULT_MIN_AUDIO_SECONDS
    #: "flac" (lossless, ~half the size) or "wav".
    clip_format: str = "flac"
    clip_seconds: float = MUSEART_CLIP_SECONDS

    def __post_init__(self):
        if self.split not in SPLIT_MODES:
            raise ValueError(f"split must be one of {SPLIT_MODES}, not {self.split!r}")
        if self.short_audio not in ("pad", "drop"):
            raise ValueError("short_audio must be 'pad' or 'drop'")
        if self.clip_format not in ("flac", "wav"):
            raise ValueError("clip_format must be 'flac' or 'wav'")
        if not 0 < self.min_audio_seconds <= self.clip_seconds:
            raise ValueError("min_audio_seconds must be in (0, clip_seconds]")
        try:
            groups = re.compile(self.group_pattern).groups
        except re.error as exc:
            raise ValueError(f"group_pattern is not a valid regex: {exc}") from None
        if groups < 1:
            raise ValueError("group_pattern needs a capture group (the source track)")

    @property
    def clip(self) -> ClipConfig:
        return ClipConfig(clip_seconds=self.clip_seconds, short_track=self.short_audio, tail="drop")

    @property
    def ingest_min_seconds(self) -> float:
        return self.clip_seconds if self.short_audio == "drop" else self.min_audio_seconds


# --- names, categories, index files ------------------------------------------------

_PAPER_KEYS = {folder_key(c): c for c in PAPER_CATEGORIES}


def canonical_category(label: str) -> str:
    """The paper's spelling of a category, or the label itself (stripped)."""
    label = str(label).strip()
    return _PAPER_KEYS.get(folder_key(label), label)


def group_key(name: str, pattern: str = DEFAULT_GROUP_PATTERN) -> str:
    """The source track of an item name (the whole name when it does not match)."""
    m = re.match(pattern, name)
    return m.group(1) if m and m.group(1) else name


def published_split(value: object) -> str | None:
    return SET_NAMES.get(str(value or "").strip().lower())


def read_index(path: str | Path, kind: str) -> tuple[list[dict], list[dict]]:
    """Rows of a published index (``images.csv``/``audio.csv``): ``id``,
    ``class`` and optionally ``set``. Returns the usable rows (``id``,
    ``category``, ``published_split``, ``set``, ``_line``) and quarantine rows
    for empty ids/classes and repeated rows."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such index file (expected {INDEX_FILES[kind]} with columns id,class,set)")
    rows, problems, seen = [], [], {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"id", "class"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: columns {sorted(missing)} are required (id, class, and set for --split from-csv); found {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            name, label = (row.get("id") or "").strip(), (row.get("class") or "").strip()
            where = f"{path.name}:{line}"
            if not name or not label:
                problems.append(quarantine_row(where, kind, "index", "row without an id or a class"))
                continue
            category = canonical_category(label)
            if (name, category) in seen:
                problems.append(quarantine_row(where, kind, "index", f"repeated row: same id and class as line {seen[(name, category)]} ('{name}', '{category}')"))
                continue
            seen[(name, category)] = line
            raw_set = (row.get("set") or "").strip()
            rows.append({"id": name, "category": category, "published_split": published_split(raw_set), "set": raw_set, "_line": line})
    return rows, problems


def scan_museart_source(path: str | Path, kind: str, index: list[dict] | None = None, index_name: str = "") -> tuple[Source, dict[str, dict]]:
    """The files of one modality, each with its category.

    With an ``index`` (published layout) files are matched to index rows by
    stem; without one, the first sub-folder is the category. Returns the
    :class:`Source` to ingest (problems included) and, per relative path, the
    item's ``name`` and ``published_split``."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: the {kind} input must be a folder")
    info: dict[str, dict] = {}
    items: list[SourceItem] = []
    if index is None:
        source = scan_source(folder, IngestConfig(kind, ("category",)))
        problems = list(source.problems)
        for item in source.items:
            category = item.metadata.get("category")
            if not category:
                problems.append(quarantine_row(item.path, kind, "ingest", "not inside a category folder"))
                continue
            items.append(SourceItem(item.path, (("category", canonical_category(category)),)))
            info[item.path] = {"name": Path(item.path).stem, "published_split": None}
        return Source(source.root, items, problems), info
    source = scan_source(folder, IngestConfig(kind, ()))
    # An index file kept inside the media folder is not a media file.
    files = [i for i in source.items if Path(i.path).name not in INDEX_FILES.values()]
    matches, problems = match_by_stem(Source(source.root, files), index, kind, index_name, "id", "category")
    for item, row in matches:
        items.append(SourceItem(item.path, (("category", row["category"]),)))
        info[item.path] = {"name": row["id"], "published_split": row["published_split"]}
    return Source(source.root, items, list(source.problems) + problems), info


# --- item tables -----------------------------------------------------------------

def assemble_images(valid: pa.Table, info: Mapping[str, dict]) -> pa.Table:
    """Validated images → :data:`schema.MUSEART_IMAGES` rows (no split yet)."""
    rows = []
    for r in valid.to_pylist():
        rows.append(
            {
                "image_id": r["image_id"], "name": info[r["path"]]["name"], "path": r["path"], "sha256": r["sha256"],
                "n_bytes": r["n_bytes"], "width": r["width"], "height": r["height"], "format": r["format"],
                "category": r["category"], "published_split": info[r["path"]]["published_split"],
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
                "source_duration_s": f["duration_s"], "source_sample_rate": f["sample_rate"],
                "source_channels": f["channels"], "sha256": f["sha256"], "category": f["category"],
                "published_split": info[f["path"]]["published_split"],
            }
        )
    return S.from_rows(rows, S.MUSEART_AUDIO).sort_by("audio_id")


def index_items(rows: Sequence[dict], kind: str, group_pattern: str = DEFAULT_GROUP_PATTERN) -> pa.Table:
    """Item table straight from an index (no media): what the split and
    pairing logic needs. Ids are ``<category>/<id>`` (an id may be listed
    under two categories)."""
    if kind == "audio":
        table = [
            {"audio_id": f"{r['category']}/{r['id']}", "name": r["id"], "group": group_key(r["id"], group_pattern),
             "category": r["category"], "published_split": r["published_split"]}
            for r in rows
        ]
        return S.from_rows(table, S.MUSEART_AUDIO)
    table = [
        {"image_id": f"{r['category']}/{r['id']}", "name": r["id"], "category": r["category"], "published_split": r["published_split"]}
        for r in rows
    ]
    return S.from_rows(table, S.MUSEART_IMAGES)


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
            rows.append(quarantine_row(r["path"], kind, "split", f"no usable published split for --split {config.split}: the index's set is empty or not train/validation/test"))
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
    root = Path(out) / "pairs"
    written: dict[str, list[Path]] = {}
    splits = rows.column("split").to_pylist()
    for split in dict.fromkeys(splits):
        sub = rows.filter(pa.compute.equal(rows["split"], split))
        written[split] = [
            dio.write_table(sub.slice(start, rows_per_part), root / split / f"part-{k:05d}.parquet", S.MUSEART_PAIR_ROWS)
            for k, start in enumerate(range(0, sub.num_rows, rows_per_part))
        ]
    keep = {p for paths in written.values() for p in paths}
    if root.is_dir():
        for f in root.glob("*/*.parquet"):
            if f not in keep:
                f.unlink()
        for d in root.iterdir():
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
    return written


# --- report and card -----------------------------------------------------------------

def _mode_text(mode: str, group_pattern: str) -> str:
    if mode == "grouped":
        return (f"`grouped`: 80/10/10 per category with every source track in one split (track = item name matched by "
                f"`{group_pattern}`, first group).")
    if mode == "paper":
        return "`paper`: 80/10/10 per category at item level (largest-remainder sizes per category); segments of one track may land in different splits."
    return "`from-csv`: the published `set` column, as is (`validation` → `val`)."


def report_sections(out: Path, summary: dict) -> list[str]:
    """The sections of ``report.md``."""
    images = dio.read_table(out / "images.parquet", S.MUSEART_IMAGES)
    audio = dio.read_table(out / "audio.parquet", S.MUSEART_AUDIO)
    pairs = dio.read_table(out / "pairs.parquet", S.MUSEART_PAIRS)
    quarantine = dio.read_table(out / "quarantine.parquet", S.QUARANTINE)
    cfg = summary["config"]
    padded = sum(1 for s in audio.column("signal_s").to_pylist() if s is not None and s < cfg["clip_seconds"] - 1e-6)
    counts = R.md_table(
        ["stage", "count"],
        [
            ("image files found", summary["images_found"]),
            ("valid images (after dedup)", images.num_rows),
            ("audio files found", summary["audio_found"]),
            ("valid audio files (after dedup)", summary["audio_files"]),
            (f"{cfg['clip_seconds']:g} s audio items", audio.num_rows),
            ("  of which zero-padded", padded),
            ("pairs", pairs.num_rows),
            ("rejected inputs", quarantine.num_rows),
        ],
    )
    categories = sorted(set(images.column("category").to_pylist()) | set(audio.column("category").to_pylist()))
    paper = [c for c in categories if c in PAPER_CATEGORIES]
    other = [c for c in categories if c not in PAPER_CATEGORIES]
    cat_text = f"{len(categories)} categories: {len(paper)} of the paper's 18" + (f", plus {len(other)} other(s): {', '.join(other)}" if other else "") + "."

    split_rows = []
    a_counts = Counter(zip(audio.column("category").to_pylist(), audio.column("split").to_pylist()))
    i_counts = Counter(zip(images.column("category").to_pylist(), images.column("split").to_pylist()))
    p_counts = Counter(zip(pairs.column("category").to_pylist(), pairs.column("split").to_pylist()))
    for c in categories + ["(all)"]:
        def n(counter, split, c=c):
            return sum(v for (cc, s), v in counter.items() if s == split and (c == "(all)" or cc == c))
        split_rows.append([c] + [f"{n(a_counts, s)} / {n(i_counts, s)} / {n(p_counts, s)}" for s in SPLITS])
    props = split_proportions(audio)
    target = dict(cfg["fractions"])
    worst = max((abs(p[s] - target[s]) for p in props.values() for s in SPLITS), default=0.0)
    split_text = (
        f"Mode {_mode_text(cfg['split'], cfg['group_pattern'])} Seed {cfg['seed']}.\n\n"
        "Each cell: audio items / images / pairs.\n\n"
        + R.md_table(["category", *SPLITS], split_rows)
        + f"\n\nLargest deviation of a category's audio split proportion from {'/'.join(f'{target[s]:.0%}' for s in SPLITS)}: "
        f"{worst * 100:.2f} points."
    )
    leak_rows = [
        (mode + (" (this build)" if mode == cfg["split"] else ""), v["groups"], v["leaked"], f"{(v['leaked'] / v['groups'] * 100 if v['groups'] else 0):.1f}%")
        for mode, v in summary["leakage"].items()
    ]
    leak_text = (
        "A source track leaks when its segments are in more than one split (a model then sees test music in training). "
        "Every mode, computed on these items:\n\n"
        + R.md_table(["split mode", "source tracks", "leaked across splits", "share"], leak_rows)
    )
    use = summary["pairing"]
    order = {s: i for i, s in enumerate(SPLITS)}
    cells = sorted(use.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], len(order)), kv[0][1]))
    usage_rows = [(c, s, u["queries"], u["partners"], u["min_use"], u["max_use"]) for (c, s), u in cells]
    pair_text = (
        f"Each audio item is paired once with an image of its category and split (seed {cfg['seed']}); "
        "within a cell every image is used `floor(a/i)` or `ceil(a/i)` times.\n\n"
        + R.md_table(["category", "split", "audio", "images", "min use", "max use"], usage_rows)
        + (f"\n\n{summary['unpaired']} audio item(s) had no image in their cell and are in the quarantine (stage `pairing`)." if summary["unpaired"] else "")
    )
    return [
        "## Counts per stage\n\n" + counts,
        "## Quarantine\n\n" + R.quarantine_section(quarantine),
        "## Categories\n\n" + cat_text,
        "## Splits\n\n" + split_text,
        "## Source-track leakage\n\n" + leak_text,
        "## Pairing\n\n" + pair_text,
    ]


def card_sections(summary: dict) -> list[str]:
    cfg = summary["config"]
    sizes = summary["split_sizes"]
    return [
        "Music–image pairs in the layout of **Museart** (Musipainter, section 3.1): each 30 s audio item "
        "(16 kHz mono FLAC) is paired with an image of the same category and split. "
        f"Built by `synesthesia build museart` with split mode `{cfg['split']}`, seed {cfg['seed']}.",
        "## Splits\n\n" + R.md_table(["split", "pairs"], [(s, sizes.get(s, 0)) for s in SPLITS]),
        "## Files\n\n"
        "- `pairs/<split>/part-*.parquet`: `audio_id, image_id, category, split, audio_name, image_name, group, "
        "audio_path` (relative to this folder), `image_path` (relative to the images root in `dataset.json`).\n"
        "- `clips/`: the audio items, 30 s, 16 kHz mono, 16-bit.\n"
        "- `images.parquet`, `audio.parquet`, `pairs.parquet`, `quarantine.parquet`, `report.md`.\n\n"
        "Load with `synesthesia.datasets.museart.MuseartPairs(DIR, split)` (audio array + PIL image + category).",
    ]


# --- reading a built folder ------------------------------------------------------------

def read_pairs(folder: str | Path, split: str | None = None) -> pa.Table:
    """The pairs of one split (all splits with ``None``) of a built folder,
    with **absolute** ``audio_path``/``image_path`` and a ``category_index``
    (position in ``dataset.json``'s ``categories``)."""
    folder = Path(folder).resolve()
    manifest = dio.read_manifest(folder)
    if manifest.get("dataset") != DATASET:
        raise ValueError(f"{folder} holds a {manifest.get('dataset')!r} dataset, not {DATASET!r}")
    splits = [split] if split else list(manifest.get("splits") or SPLITS)
    tables = [dio.read_parts(folder / "pairs" / s, S.MUSEART_PAIR_ROWS) for s in splits]
    table = dio.concat(tables, S.MUSEART_PAIR_ROWS)
    if split and table.num_rows == 0 and not (folder / "pairs" / split).is_dir():
        raise ValueError(f"{folder}: no split {split!r} (has {sorted(p.name for p in (folder / 'pairs').iterdir())})")
    images_root = Path(manifest["media_roots"]["images"])
    index = {c: i for i, c in enumerate(manifest["categories"])}
    table = table.set_column(table.schema.get_field_index("audio_path"), "audio_path",
                             pa.array([str(folder / p) for p in table.column("audio_path").to_pylist()], pa.string()))
    table = table.set_column(table.schema.get_field_index("image_path"), "image_path",
                             pa.array([str(images_root / p) for p in table.column("image_path").to_pylist()], pa.string()))
    return table.append_column("category_index", pa.array([index[c] for c in table.column("category").to_pylist()], pa.int32()))


class MuseartPairs:
    """Map-style dataset over one split of a built folder (works as a
    ``torch.utils.data.Dataset``; no torch needed here).

    ``item = pairs[i]``: ``audio`` (float32, 480,000 samples at 16 kHz, mono),
    ``sample_rate``, ``image`` (PIL image in RGB), ``category``,
    ``category_index``, ``audio_id``, ``image_id``."""

    def __init__(self, folder: str | Path, split: str = "train"):
        table = read_pairs(folder, split)
        self.folder = Path(folder)
        self.split = split
        self.rows = table.to_pylist()
        self.categories: list[str] = dio.read_manifest(folder)["categories"]
        self.sample_rate = int(dio.read_manifest(folder)["config"].get("sample_rate", 16_000))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        from PIL import Image

        from synesthesia.pipelines.audio import load_clip

        row = self.rows[index]
        with Image.open(row["image_path"]) as im:
            image = im.convert("RGB")
        return {
            "audio": load_clip(row["audio_path"], self.sample_rate),
            "sample_rate": self.sample_rate,
            "image": image,
            "category": row["category"],
            "category_index": row["category_index"],
            "audio_id": row["audio_id"],
            "image_id": row["image_id"],
        }


def config_dict(config: MuseartConfig) -> dict:
    d = dataclasses.asdict(config)
    d["sample_rate"] = config.clip.sample_rate
    return d
