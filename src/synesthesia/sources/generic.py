"""The generic input: a folder tree whose sub-folder names are the labels, or
a CSV with a ``path`` column. What every build read before the corpus
readers, and what a plain ``PATH`` selects.

* A folder: every file below it is an item; the sub-folder levels become the
  fields the caller names (``folder_fields``: ``style``/``genre`` for
  paintings, ``genre`` for music, ``category`` for Museart). A
  ``metadata.csv`` in the folder adds to or overrides what the folder names
  say, row by row.
* A CSV: ``path`` (relative to the CSV's folder) plus the metadata columns
  of :data:`IMAGE_META` / :data:`AUDIO_META`; other columns are ignored.

**The label guard.** A corpus read as a plain folder goes silently wrong:
FMA's ``fma_large/000/000002.mp3`` gives 156 genres named ``000``..``155``.
So when the folder names that would become labels look like numbers or
hashes, or the folder is a known corpus's download (``fma_metadata/``,
``imagesf2/``, ``wikiart/``, MTG-Jamendo's ``data/*.tsv``), the scan stops
with a message naming the reader to use; ``accept_labels=True`` (the
selector's ``?accept_labels=yes``) scans it as a plain folder anyway.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

from synesthesia.datasets.inputs import Source, SourceItem, quarantine_row

METADATA_CSV = "metadata.csv"

#: Metadata columns recognised in CSVs; others are ignored.
IMAGE_META = ("style", "genre", "artist", "title", "source", "licence", "source_id", "category")
AUDIO_META = ("genre", "subgenres", "artist", "title", "source", "licence", "source_id", "category")
#: ``subgenres`` in a CSV: names separated by this character.
LIST_SEPARATOR = "|"

#: The CLI option that takes each kind of input (for the guard's messages).
OPTION = {"image": "--paintings", "audio": "--music"}


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _meta_value(key: str, text: str) -> object:
    if key == "subgenres":
        return tuple(s.strip() for s in text.split(LIST_SEPARATOR) if s.strip())
    return text


def read_csv(path: Path, kind: str) -> tuple[list[SourceItem], list[dict]]:
    """Items of a ``path,<metadata...>`` CSV and the rows without a path."""
    allowed = IMAGE_META if kind == "image" else AUDIO_META
    items, problems = [], []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "path" not in reader.fieldnames:
            raise ValueError(f"{path}: a 'path' column is required (found {reader.fieldnames})")
        for lineno, row in enumerate(reader, start=2):
            rel = _clean(row.get("path"))
            if rel is None:
                problems.append(quarantine_row(f"{path.name}:{lineno}", kind, "ingest", "CSV row has an empty path"))
                continue
            meta = tuple(sorted((k, _meta_value(k, _clean(row.get(k)))) for k in allowed if _clean(row.get(k)) is not None))
            given = Path(rel)
            if given.is_absolute() and given.is_relative_to(path.parent.resolve()):
                given = given.relative_to(path.parent.resolve())  # stored relative to the root, like every path
            items.append(SourceItem(given.as_posix(), meta))  # anything outside the root is quarantined at ingest
    return items, problems


def scan_generic(path: str | os.PathLike, kind: str, folder_fields: Sequence[str] = (), *, accept_labels: bool = False) -> Source:
    """List the files of a plain input (folder tree or CSV), sorted by path.

    ``folder_fields``: the sub-folder levels below the root, mapped to
    metadata fields in order. ``accept_labels``: keep folder names as labels
    even when they look like ids, or the folder like a known corpus (see the
    module docstring)."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise ValueError(f"{path}: expected a folder or a .csv file")
        items, problems = read_csv(path, kind)
        return Source(path.parent.resolve(), sorted(items, key=lambda i: i.path), problems)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such folder or CSV file")
    root = path.resolve()
    if folder_fields and not accept_labels:
        refuse_corpus_layout(root, kind)
    overrides: dict[str, dict] = {}
    problems: list[dict] = []
    if (root / METADATA_CSV).is_file():
        csv_items, problems = read_csv(root / METADATA_CSV, kind)
        overrides = {i.path: i.metadata for i in csv_items}
    items = []
    labels: dict[str, list[str]] = {}  # field -> folder names used as its labels

    def unreadable(exc: OSError) -> None:  # a folder os.walk cannot list: its files would vanish silently
        where = Path(exc.filename).relative_to(root).as_posix() if exc.filename and Path(exc.filename).is_relative_to(root) else str(exc.filename)
        problems.append(quarantine_row(where + "/", kind, "ingest", f"unreadable folder: {exc.strerror or exc}"))

    visited = {root}
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        # Symlinked folders are followed only when they lead inside the root, each real folder once (no loops).
        for name in list(dirnames):
            real = (Path(dirpath) / name).resolve()
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            if not real.is_relative_to(root):
                dirnames.remove(name)
                problems.append(quarantine_row(rel + "/", kind, "ingest", f"outside the input root: a symlinked folder that resolves to {real}"))
            elif real in visited:
                dirnames.remove(name)
            else:
                visited.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if rel == METADATA_CSV:
                continue
            meta = {f: d for f, d in zip(folder_fields, Path(rel).parts[:-1])}
            override = overrides.pop(rel, {})
            for field, folder in meta.items():
                if field not in override:
                    labels.setdefault(field, []).append(folder)
            meta.update(override)
            items.append(SourceItem(rel, tuple(sorted(meta.items()))))
    if not accept_labels:
        refuse_id_labels(root, kind, labels)
    for rel in sorted(overrides):  # listed in metadata.csv but not on disk
        problems.append(quarantine_row(rel, kind, "ingest", f"listed in {METADATA_CSV} but not found"))
    return Source(root, sorted(items, key=lambda i: i.path), problems)


# --- the label guard ----------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")
_HEX = re.compile(r"[0-9a-f]{8,}", re.IGNORECASE)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_ACCEPT = "add ?accept_labels=yes to the path"


def looks_like_id(name: str) -> bool:
    """True for a folder name that is a number or a hash, not a label: all
    digits (FMA's ``000``..``155``, MTG-Jamendo's ``00``..``99``, also
    ``2019``), a hex string of 8+ characters with at least one digit
    (md5/sha digests), or a UUID. ``deadbeef`` (no digit) and ``Hip-Hop`` are
    labels."""
    name = name.strip()
    if not name:
        return False
    if _DIGITS.fullmatch(name) or _UUID.fullmatch(name):
        return True
    return bool(_HEX.fullmatch(name)) and any(c.isdigit() for c in name)


def suspicious_folder_names(names: Iterable[str]) -> list[str]:
    """The names (in the order given, each once) that look like ids."""
    return [n for n in dict.fromkeys(names) if looks_like_id(n)]


def suggest_reader(names: Iterable[str]) -> str | None:
    """``"fma"`` for three-digit folders (``fma_large/000``), ``"mtg-jamendo"``
    for two-digit ones (``41/241.mp3``), else ``None``."""
    numbers = [n for n in names if _DIGITS.fullmatch(n)]
    if numbers and all(len(n) == 3 for n in numbers):
        return "fma"
    if numbers and all(len(n) == 2 for n in numbers):
        return "mtg-jamendo"
    return None


#: Marker files of each corpus's download: (reader, kind, what it is, markers).
CORPUS_MARKERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("fma", "audio", "an FMA download (fma_metadata/)", ("fma_metadata", "tracks.csv")),
    ("artgraph", "image", "an ArtGraph download (imagesf2/)", ("imagesf2", "artgraph_artworks.csv")),
    ("wikiart", "image", "ArtGAN's WikiArt download (wikiart/ and its label lists)", ("wikiart", "wikiart_csv", "WikiArt Dataset")),
    ("mtg-jamendo", "audio", "a clone of the MTG-Jamendo repository (data/*.tsv)", ("data/autotagging_genre.tsv", "data/raw_30s.tsv", "autotagging_genre.tsv", "raw_30s.tsv")),
)


def detect_corpus(root: Path) -> tuple[str, str, str] | None:
    """``(reader, kind, description)`` when ``root`` holds a known corpus's marker files."""
    for reader, kind, what, markers in CORPUS_MARKERS:
        if any((root / m).exists() for m in markers):
            return reader, kind, what
    return None


def refuse_corpus_layout(root: Path, kind: str) -> None:
    found = detect_corpus(root)
    if found is None:
        return
    reader, reader_kind, what = found
    raise ValueError(
        f"{root} looks like {what}; as a plain folder its sub-folders would become labels. "
        f"Read it with its reader: {OPTION[reader_kind]} {reader}:{root} (docs/sources.md). "
        f"To scan it as a plain folder anyway, {_ACCEPT}."
    )


def refuse_id_labels(root: Path, kind: str, labels: dict[str, list[str]]) -> None:
    for field, names in labels.items():
        flagged = suspicious_folder_names(names)
        if not flagged:
            continue
        distinct = list(dict.fromkeys(names))
        shown = ", ".join(flagged[:5]) + (f", … ({len(flagged)} of {len(distinct)} folders)" if len(flagged) > 5 else "")
        reader = suggest_reader(flagged)
        if reader == "fma":
            hint = f"This is FMA's layout (fma_large/AAA/AAABBB.mp3, AAA = the track id's first digits): read it with {OPTION['audio']} fma:{root} (docs/sources.md)."
        elif reader == "mtg-jamendo":
            hint = f"This is MTG-Jamendo's layout (NN/<id>.mp3): read it with {OPTION['audio']} mtg-jamendo:PATH, PATH = the clone of its repository (docs/sources.md)."
        else:
            hint = "If this is a published corpus, read it with its reader (wikiart:, artgraph:, fma:, mtg-jamendo:; docs/sources.md)."
        raise ValueError(
            f"{root}: the sub-folders that would become {field} labels look like numbers or hashes, not names ({shown}). "
            f"{hint} To keep them as {field} labels, {_ACCEPT}."
        )
