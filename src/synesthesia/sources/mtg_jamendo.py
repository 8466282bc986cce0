"""MTG-Jamendo (Bogdanov et al. 2019; github.com/MTG/mtg-jamendo-dataset), as
its users download it: the repository's ``data/`` metadata plus audio fetched
with ``scripts/download/download.py`` into an output folder::

    data/raw_30s.tsv, data/autotagging*.tsv     TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS
                                                (tab separated, CRLF, one tag per extra column:
                                                ``genre---rock``, ``instrument---piano``,
                                                ``mood/theme---calm``)
    data/raw.meta.tsv                           TRACK_ID ARTIST_ID ALBUM_ID TRACK_NAME
                                                ARTIST_NAME ALBUM_NAME RELEASEDATE URL
    audio_licenses.txt                          per-track licence (docs/sources.md)
    <audio>/NN/<id>.mp3                         NN = last two digits of the id
    <audio-low>/NN/<id>.low.mp3                 the low-quality download

There is no top-level genre: a track has zero or more ``genre---`` tags.
``genre`` is the track's most common genre tag in the file read (ties: the
first listed), ``subgenres`` all its genre tags as listed.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from synesthesia.datasets.inputs import Source
from synesthesia.sources.common import item, none_if_blank, problem, read_lines, to_source

SOURCE = "mtg-jamendo"
KIND = "audio"
HEADER = ["TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION", "TAGS"]
META_HEADER = ["TRACK_ID", "ARTIST_ID", "ALBUM_ID", "TRACK_NAME", "ARTIST_NAME", "ALBUM_NAME", "RELEASEDATE", "URL"]
QUALITIES = ("auto", "audio", "audio-low")
NO_GENRE = ("keep", "drop")
DEFAULT_TSV = "autotagging_genre.tsv"

_TRACK = re.compile(r"track_\d+")
_PATH = re.compile(r"(\d{2})/(\d+)\.mp3")
_LICENCE = re.compile(r"Available under (.+): (\S+)")


def low_path(rel: str) -> str:
    """``48/948.mp3`` -> ``48/948.low.mp3``."""
    return rel[: -len(".mp3")] + ".low.mp3"


def read_meta(path: Path) -> tuple[dict[str, dict], list[dict]]:
    """``TRACK_ID -> {artist, title}`` from ``raw.meta.tsv``. Split on tabs
    only: the file has unmatched quote characters, so a CSV reader would join
    lines. A row with one extra empty field between title and artist (two
    such rows are reported) is read without it."""
    lines = read_lines(path)
    if not lines or lines[0].split("\t") != META_HEADER:
        raise ValueError(f"{path}: expected header {' '.join(META_HEADER)} (tab separated)")
    out, problems = {}, []
    for line_no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        row = line.split("\t")
        if len(row) == 9 and row[4] == "":
            del row[4]
        if len(row) != len(META_HEADER):
            problems.append(problem(f"{path.name}:{line_no}", KIND, f"bad row, artist and title not read: {len(row)} tab-separated fields, expected {len(META_HEADER)}"))
            continue
        out[row[0]] = {"title": none_if_blank(row[3]), "artist": none_if_blank(row[4])}
    return out, problems


def read_licences(path: Path) -> dict[str, str]:
    """``NN/ID.mp3 -> licence`` from ``audio_licenses.txt``: blocks of three
    lines (path; ``<title> by <artist> from Jamendo: <track url>``;
    ``Available under <licence>: <url>``) separated by blank lines. Blocks of
    another shape are skipped."""
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    out = {}
    for block in text.strip("\n").split("\n\n"):
        lines = [ln.strip() for ln in block.strip("\n").split("\n")]
        if len(lines) != 3:
            continue
        m = _LICENCE.fullmatch(lines[2])
        if m and _PATH.fullmatch(lines[0]):
            out[lines[0]] = f"{m.group(1)} ({m.group(2)})"
    return out


def _resolve(path: Path, tsv: str | Path, audio: Path | None) -> tuple[Path, Path, Path]:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such folder (expected a clone of MTG/mtg-jamendo-dataset, with data/ and the downloaded audio)")
    data = path / "data" if (path / "data").is_dir() else path
    tsv_path = Path(tsv) if Path(tsv).is_absolute() else data / tsv
    if not tsv_path.is_file():
        raise FileNotFoundError(f"{tsv_path}: not found (the MTG-Jamendo repository's data/ folder: raw_30s.tsv, autotagging_genre.tsv, ...)")
    if audio is not None:
        audio = Path(audio)
    elif (path / "audio").is_dir():
        audio = path / "audio"
    else:
        audio = path
    if not audio.is_dir():
        raise FileNotFoundError(f"{audio}: no such folder (the download script's output folder: NN/<id>.mp3; give audio=FOLDER)")
    return data, tsv_path, audio


def read_mtg_jamendo(
    path: Path,
    *,
    tsv: str | Path = DEFAULT_TSV,
    audio: Path | None = None,
    quality: str = "auto",
    no_genre: str = "keep",
) -> Source:
    """Read MTG-Jamendo at ``path`` (the repository clone with ``data/``; the
    audio in ``path/audio``, in ``path`` itself, or in ``audio``).

    ``tsv``: which metadata file (``autotagging_genre.tsv`` by default: the
    tracks with genre tags; ``raw_30s.tsv`` for all 30 s+ tracks).
    ``quality``: ``"audio"`` (``NN/ID.mp3``), ``"audio-low"`` (``NN/ID.low.mp3``)
    or ``"auto"`` (the full-quality file, else the low one). ``no_genre``:
    tracks without a genre tag are kept with ``genre=None`` or listed."""
    if quality not in QUALITIES:
        raise ValueError(f"quality must be one of {', '.join(QUALITIES)}, not {quality!r}")
    if no_genre not in NO_GENRE:
        raise ValueError(f"no_genre must be one of {', '.join(NO_GENRE)}, not {no_genre!r}")
    data, tsv_path, root = _resolve(path, tsv, audio)
    problems: list[dict] = []

    lines = read_lines(tsv_path)
    if not lines or lines[0].split("\t") != HEADER:
        raise ValueError(f"{tsv_path}: expected header {' '.join(HEADER)} (tab separated); found {lines[0][:80] if lines else 'an empty file'!r}")
    rows = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        where = f"{tsv_path.name}:{line_no}"
        fields = line.split("\t")
        if len(fields) < 5 or not _TRACK.fullmatch(fields[0]) or not _PATH.fullmatch(fields[3]):
            problems.append(problem(where, KIND, f"bad row: not a TRACK_ID/ARTIST_ID/ALBUM_ID/PATH/DURATION/TAGS row, {line[:80]!r}"))
            continue
        if fields[0] in seen:
            problems.append(problem(where, KIND, f"repeated track: {fields[0]} repeats line {seen[fields[0]]}"))
            continue
        seen[fields[0]] = line_no
        tags = [t for t in fields[5:] if t]
        genres = [t.split("---", 1)[1] for t in tags if t.startswith("genre---")]
        rows.append((where, fields, genres))

    freq = Counter(g for _, _, genres in rows for g in set(genres))
    meta, meta_problems = ({}, [])
    if (data / "raw.meta.tsv").is_file():
        meta, meta_problems = read_meta(data / "raw.meta.tsv")
    problems.extend(meta_problems)
    licences = {}
    for cand in (data.parent / "audio_licenses.txt", data / "audio_licenses.txt"):
        if cand.is_file():
            licences = read_licences(cand)
            break

    items: list[dict] = []
    for where, fields, genres in rows:
        listed = fields[3]
        candidates = {"audio": [listed], "audio-low": [low_path(listed)], "auto": [listed, low_path(listed)]}[quality]
        rel = next((c for c in candidates if (root / c).is_file()), None)
        if rel is None:
            problems.append(problem(listed, KIND, f"not found: listed in {where} (looked for {' and '.join(candidates)})"))
            continue
        if (root / rel).stat().st_size == 0:
            problems.append(problem(rel, KIND, "empty file (0 bytes)"))
            continue
        genre = max(genres, key=lambda g: (freq[g], -genres.index(g))) if genres else None
        if genre is None and no_genre == "drop":
            problems.append(problem(rel, KIND, "no genre tag (no_genre='drop')"))
            continue
        m = meta.get(fields[0], {})
        items.append(
            item(
                KIND,
                path=rel,
                genre=genre,
                subgenres=list(genres),
                artist=m.get("artist"),
                title=m.get("title"),
                source=SOURCE,
                licence=licences.get(listed),
                source_id=fields[0],
            )
        )
    return to_source(root, items, problems)
