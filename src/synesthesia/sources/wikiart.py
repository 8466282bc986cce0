"""WikiArt as ArtGAN / Tan et al. (2019) distribute it ("WikiArt Dataset (Refined)").

What users download (github.com/cs-chan/ArtGAN, folder ``WikiArt Dataset``):

* ``wikiart.zip`` (25.4 GB): ``wikiart/<Style>/<artist-slug>_<title-slug>[-YYYY][(n)].jpg``,
  27 style folders (``Abstract_Expressionism`` .. ``Ukiyo_e``);
* the label lists, in the repository and as ``wikiart_csv.zip``:
  ``Style/style_{train,val}.csv`` and ``Genre/genre_{train,val}.csv`` (``path,class_index``,
  no header, CRLF), ``Artist/artist_{train,val}`` (header ``(Path to image),, (Groundtruth
  class)``, a blank line, then ``path,,class_index``, LF), and the class lists
  ``style_class.txt`` / ``genre_class`` / ``artist_class`` (``index Name`` per line).

The style is the folder the file is in (the CSV paths start with it too; the
class list names index 3 ``Art_Nouveau`` while its folder is ``Art_Nouveau_Modern``).
Genre comes from the genre lists (65k of the 81k images have one); artist and
title are parsed from the file name. The rules for what it cannot use are in ``docs/sources.md``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

from synesthesia.datasets.inputs import Source
from synesthesia.sources.common import (
    IMAGE_SUFFIXES,
    item,
    list_dirs,
    list_files,
    nfc,
    norm_label,
    problem,
    read_lines,
    repair_mojibake,
    slug_words,
    to_source,
)

SOURCE = "wikiart"
LICENCE = "WikiArt.org terms of use: non-commercial research only"
KIND = "image"

#: MPD (MPJudge paper, sec. 3): its five WikiArt styles, as the folders are named.
MPD_STYLES: tuple[str, ...] = (
    "Art_Nouveau_Modern",
    "Abstract_Expressionism",
    "Baroque",
    "Analytical_Cubism",
    "Action_painting",
)

TASKS = ("style", "genre", "artist")
SPLITS = ("train", "val")
DUPLICATE_POLICIES = ("keep", "first", "drop")

_COPY_MARK = re.compile(r"\((\d+)\)$")
_YEAR = re.compile(r"-(\d{4})$")
_NOT_DETECTED = re.compile(r"not_detected_\d+")
_HEADER = re.compile(r"^\(Path to image\)")


def parse_name(file_name: str) -> tuple[str | None, str | None, str | None]:
    """``(artist_slug, title_slug, year)`` of an ArtGAN WikiArt file name.

    ``artist-slug_title-slug[-YYYY][(n)].jpg``: the artist is everything
    before the first ``_``; ``(n)`` marks a second copy and is dropped; the
    year is a trailing ``-YYYY``; ``not_detected_NNNNNN`` (481 files) means
    WikiArt had no title, so the title is ``None``."""
    stem = file_name.rsplit(".", 1)[0]
    stem = _COPY_MARK.sub("", stem)
    if "_" not in stem:
        return None, stem or None, None
    artist, title = stem.split("_", 1)
    year = None
    m = _YEAR.search(title)
    if m:
        year, title = m.group(1), title[: m.start()]
    if _NOT_DETECTED.fullmatch(title):
        title = ""
    return artist or None, title or None, year


def display(slug: str | None) -> str | None:
    if slug is None:
        return None
    text = slug_words(repair_mojibake(slug))
    return text or None


def _find(dirs: Sequence[Path], task: str, stem: str) -> Path | None:
    """``stem`` (``style_train``) as ``stem.csv``/``stem.txt``/``stem``, in a
    dir or in its ``Style``/``Genre``/``Artist`` sub-folder (repository layout)."""
    for d in dirs:
        for folder in (d, d / task.capitalize()):
            for name in (f"{stem}.csv", f"{stem}.txt", stem):
                p = folder / name
                if p.is_file():
                    return p
    return None


def read_class_list(path: Path) -> dict[int, str]:
    """``index Name`` per line -> {index: Name}."""
    out: dict[int, str] = {}
    for line_no, line in enumerate(read_lines(path), start=1):
        line = line.strip()
        if not line:
            continue
        idx, _, name = line.partition(" ")
        if not idx.isdigit() or not name.strip():
            raise ValueError(f"{path}:{line_no}: expected 'index Name', found {line!r}")
        out[int(idx)] = name.strip()
    return out


def read_label_list(path: Path, classes: dict[int, str] | None) -> tuple[list[tuple[int, str, int]], list[tuple[int, str]]]:
    """Rows ``(line, image_path, class_index)`` of a ``{task}_{split}`` list and
    the rows that cannot be read ``(line, why)``.

    Both published shapes: ``path,index`` (style/genre CSVs) and
    ``path,,index`` after a ``(Path to image),, (Groundtruth class)`` header
    (artist lists)."""
    rows, bad = [], []
    for line_no, line in enumerate(read_lines(path), start=1):
        if not line.strip() or _HEADER.match(line):
            continue
        left, sep, label = line.rpartition(",")
        image = left.rstrip(",").strip()
        label = label.strip()
        if not sep or not image:
            bad.append((line_no, f"bad row: expected 'path,class_index', found {line!r}"))
            continue
        if not label.lstrip("-").isdigit():
            bad.append((line_no, f"bad row: class index {label!r} is not a number"))
            continue
        idx = int(label)
        if classes is not None and idx not in classes:
            bad.append((line_no, f"unknown class index: {idx} is not in the class list"))
            continue
        rows.append((line_no, nfc(image), idx))
    return rows, bad


def _resolve_root(path: Path) -> Path:
    if (path / "wikiart").is_dir():
        return path / "wikiart"
    return path


def _list_dirs(path: Path, root: Path, lists: Path | None) -> list[Path]:
    if lists is not None:
        if not Path(lists).is_dir():
            raise FileNotFoundError(f"{lists}: no such folder (lists= names the folder of ArtGAN's style/genre/artist CSV lists)")
        return [Path(lists)]
    cands = [path / "wikiart_csv", root / "wikiart_csv", path / "WikiArt Dataset", path, path.parent / "wikiart_csv"]
    return [c for c in dict.fromkeys(cands) if c.is_dir()]


def select_styles(available: Iterable[str], wanted: Iterable[str] | None) -> list[str]:
    """Folder names for the requested styles, written any way
    (``Action Painting``, ``action_painting``, ``Action_painting``)."""
    available = list(available)
    if wanted is None:
        return available
    by_key = {norm_label(s): s for s in available}
    out, unknown = [], []
    for w in wanted:
        key = norm_label(w)
        # the class list's short name for the Art Nouveau folder
        if key == "artnouveau" and "artnouveaumodern" in by_key:
            key = "artnouveaumodern"
        if key in by_key:
            if by_key[key] not in out:
                out.append(by_key[key])
        else:
            unknown.append(w)
    if unknown:
        raise ValueError(f"unknown WikiArt style(s) {unknown}; the style folders here are: {', '.join(available)}")
    return out


def read_wikiart(
    path: Path,
    *,
    styles: Iterable[str] | None = None,
    lists: Path | None = None,
    duplicates: str = "keep",
) -> Source:
    """Read the ArtGAN WikiArt download at ``path`` (the folder holding
    ``wikiart/`` and ``wikiart_csv/``, or ``wikiart/`` itself).

    ``styles``: only these styles (folder names or plain names; ``MPD_STYLES``
    for MPD). ``lists``: the folder of the label lists, when they are not
    next to the images. ``duplicates``: what to do with a file name found under two or
    more of the selected styles: ``"keep"`` every copy (default; it reproduces
    MPD's published per-style counts), ``"first"`` keep the copy in the first
    style folder (sorted) and list the others, ``"drop"`` list all copies."""
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(f"duplicates must be one of {', '.join(DUPLICATE_POLICIES)}, not {duplicates!r}")
    path = Path(path)
    root = _resolve_root(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{path}: no such folder (expected the unzipped wikiart/ folder of ArtGAN's wikiart.zip)")
    dirs = _list_dirs(path, root, lists)
    style_folders = [d for d in list_dirs(root) if d != "wikiart_csv" and d != "WikiArt Dataset"]
    if not style_folders:
        raise ValueError(f"{root}: no style folders (expected wikiart/<Style>/<artist>_<title>.jpg)")
    selected = select_styles(style_folders, styles)
    selected_set = set(selected)
    problems: list[dict] = []

    # label lists --------------------------------------------------------------
    genre_classes_file = _find(dirs, "genre", "genre_class")
    artist_classes_file = _find(dirs, "artist", "artist_class")
    genre_classes = read_class_list(genre_classes_file) if genre_classes_file else None
    artist_names: dict[str, str] = {}
    if artist_classes_file:
        for name in read_class_list(artist_classes_file).values():
            artist_names[name.lower().replace("_", "-")] = name.replace("_", " ")

    def in_selection(image: str) -> bool:
        return image.split("/", 1)[0] in selected_set

    listed: dict[str, str] = {}  # image path -> "file:line" of the first style/genre row naming it
    for split in SPLITS:
        f = _find(dirs, "style", f"style_{split}")
        if f is None:
            continue
        rows, bad = read_label_list(f, None)
        for line_no, why in bad:
            problems.append(problem(f"{f.name}:{line_no}", KIND, why))
        for line_no, image, _ in rows:
            if in_selection(image):
                listed.setdefault(image, f"{f.name}:{line_no}")

    genre_rows: dict[str, list[tuple[str, str]]] = defaultdict(list)  # image -> [(genre, file:line)]
    for split in SPLITS:
        f = _find(dirs, "genre", f"genre_{split}")
        if f is None:
            continue
        if genre_classes is None:
            raise FileNotFoundError(f"{f}: genre list found but no genre_class list next to it (index -> genre name)")
        rows, bad = read_label_list(f, genre_classes)
        for line_no, why in bad:
            problems.append(problem(f"{f.name}:{line_no}", KIND, why))
        for line_no, image, idx in rows:
            if in_selection(image):
                genre_rows[image].append((genre_classes[idx], f"{f.name}:{line_no}"))
                listed.setdefault(image, f"{f.name}:{line_no}")

    # files on disk ------------------------------------------------------------
    on_disk: dict[str, str] = {}  # NFC relative path -> real relative path
    for style in selected:
        for name in list_files(root / style):
            rel = f"{style}/{name}"
            if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                problems.append(problem(rel, KIND, f"not an image file ({Path(name).suffix or 'no suffix'})"))
                continue
            on_disk[nfc(rel)] = rel

    for image, where in sorted(listed.items()):
        if image not in on_disk:
            problems.append(problem(image, KIND, f"not found: listed in {where}"))

    # genre per image -----------------------------------------------------------
    genre_of: dict[str, str | None] = {}
    for image, entries in genre_rows.items():
        genres = sorted({g for g, _ in entries})
        if len(genres) == 1:
            genre_of[image] = genres[0]
        else:
            genre_of[image] = None
            if image in on_disk:
                for g, where in entries:
                    problems.append(problem(where, KIND, f"genre left empty: {image} is listed under {len(genres)} genres ({', '.join(genres)})"))

    # items ----------------------------------------------------------------------
    items: list[dict] = []
    for key in sorted(on_disk):
        rel = on_disk[key]
        style, name = rel.split("/", 1)
        artist_slug, title_slug, _year = parse_name(name)
        artist = artist_names.get(artist_slug) if artist_slug else None
        items.append(
            item(
                KIND,
                path=rel,
                style=style,
                genre=genre_of.get(key),
                artist=artist or display(artist_slug),
                title=display(title_slug),
                source=SOURCE,
                licence=LICENCE,
                source_id=key,
            )
        )

    # the same file name under two or more selected styles ------------------------
    if duplicates != "keep":
        by_name: dict[str, list[dict]] = defaultdict(list)
        for it in items:
            by_name[it["path"].split("/", 1)[1]].append(it)
        rejected: set[str] = set()
        for name, copies in by_name.items():
            if len(copies) < 2:
                continue
            copies = sorted(copies, key=lambda it: it["style"])
            styles_here = ", ".join(c["style"] for c in copies)
            if duplicates == "first":
                for c in copies[1:]:
                    rejected.add(c["path"])
                    problems.append(problem(c["path"], KIND, f"duplicate across styles (duplicates='first'): the same file name is under styles {styles_here}; the {copies[0]['style']} copy is kept"))
            else:
                for c in copies:
                    rejected.add(c["path"])
                    problems.append(problem(c["path"], KIND, f"duplicate across styles (duplicates='drop'): the same file name is under styles {styles_here}, ambiguous style"))
        items = [it for it in items if it["path"] not in rejected]

    return to_source(root, items, problems)
