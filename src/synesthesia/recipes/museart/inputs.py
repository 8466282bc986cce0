"""Museart's inputs: the published index files (``images.csv``/``audio.csv``)
and the folders they describe, as ingest sources with each file's category,
published split and source track.

The index reader stays here rather than in :mod:`synesthesia.sources`: it
matches files by name against the index with the recipe's category rules
(:func:`~synesthesia.recipes.museart.config.canonical_category`). Without an
index the inputs are selectors like every build's: category folders (the
generic scan), or a corpus reader (``wikiart:PATH``, ``fma:PATH``, ...) whose
items take their style (images) or genre (audio) as the category."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import pyarrow as pa

from synesthesia.datasets import schema as S
from synesthesia.datasets.inputs import Source, SourceItem, quarantine_row
from synesthesia.recipes.museart.config import DEFAULT_GROUP_PATTERN, INDEX_FILES, canonical_category, group_key, published_split
from synesthesia.sources import is_corpus, open_source, parse_selector, scan_generic
from synesthesia.stages.ingest import match_by_stem

#: Museart's own provenance for files matched to its published index (the
#: index gives no licence; the images come from WikiArt and other sites).
SOURCE = "museart"
#: With a corpus reader, the label that becomes the category.
CATEGORY_FROM = {"image": "style", "audio": "genre"}


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
            raise ValueError(f"{path}: columns {sorted(missing)} are required (id, class, and set for --split-mode from-csv); found {reader.fieldnames}")
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
    stem; without one, ``path`` is a selector: category folders, or a corpus
    reader whose style/genre is the category. Returns the :class:`Source` to
    ingest (problems included) and, per relative path, the item's ``name``
    and ``published_split``."""
    info: dict[str, dict] = {}
    items: list[SourceItem] = []
    if index is None:
        source = open_source(path, kind, ("category",))
        label = "category" if not is_corpus(path) else CATEGORY_FROM[kind]
        problems = list(source.problems)
        for item in source.items:
            meta = item.metadata
            category = meta.get("category") or meta.get(label)
            if not category:
                where = "inside a category folder" if label == "category" else f"given a {label} by its corpus"
                problems.append(quarantine_row(item.path, kind, "ingest", f"not {where}"))
                continue
            meta["category"] = canonical_category(category)
            items.append(SourceItem(item.path, tuple(sorted(meta.items()))))
            info[item.path] = {"name": Path(item.path).stem, "published_split": None}
        return Source(source.root, items, problems), info
    if is_corpus(path):
        raise ValueError(f"{path}: --csv-dir matches the files of a plain folder to Museart's index by name; a corpus reader ({parse_selector(path).reader}:) brings its own labels, so leave --csv-dir out")
    folder = Path(parse_selector(path).path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: the {kind} input must be a folder")
    source = scan_generic(folder, kind)
    # An index file kept inside the media folder is not a media file.
    files = [i for i in source.items if Path(i.path).name not in INDEX_FILES.values()]
    matches, problems = match_by_stem(Source(source.root, files), index, kind, index_name, "id", "category")
    for item, row in matches:
        items.append(SourceItem(item.path, (("category", row["category"]), ("source", SOURCE), ("source_id", row["id"]))))
        info[item.path] = {"name": row["id"], "published_split": row["published_split"]}
    return Source(source.root, items, list(source.problems) + problems), info


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
