"""FMA (Defferrard et al., ISMIR 2017; github.com/mdeff/fma), as its users
download it: ``fma_metadata.zip`` and one of ``fma_{small,medium,large,full}.zip``,
unzipped side by side::

    fma_metadata/tracks.csv   per-track metadata, written by pandas with a
                              two-level column index: 3 header rows
                              (``,album,album,...`` / ``,comments,date_created,...`` /
                              ``track_id,,,...``), 52 columns
    fma_metadata/genres.csv   ``genre_id,#tracks,parent,title,top_level`` (163 genres)
    fma_large/AAA/AAABBB.mp3  audio, AAABBB = the 6-digit zero-padded track id,
                              AAA its first three digits (``000``..``155``)

``set.subset`` is ``small`` (8,000), ``medium`` (+17,000) or ``large`` (the rest);
``fma_medium`` holds small+medium, ``fma_large`` and ``fma_full`` hold all 106,574.
``track.genre_top`` is empty when a track has no genre or genres under two
top-level genres (FMA's own rule); ``docs/sources.md`` says what happens then.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

from synesthesia.datasets.inputs import Source
from synesthesia.sources.common import item, list_dirs, none_if_blank, problem, to_source

SOURCE = "fma"
KIND = "audio"
SUBSETS = ("small", "medium", "large", "full")
_RANK = {"small": 0, "medium": 1, "large": 2}
NO_TOP_GENRE = ("keep", "drop")

#: Columns the reader needs: (level 0, level 1).
REQUIRED = {
    "genre_top": ("track", "genre_top"),
    "genres": ("track", "genres"),
    "genres_all": ("track", "genres_all"),
    "license": ("track", "license"),
    "title": ("track", "title"),
    "artist": ("artist", "name"),
    "subset": ("set", "subset"),
}

#: Clips in fma_small/medium/large that hold no audio: the API reported a wrong
#: duration, so the 30 s cut fell past the end (mdeff/fma#4, #41, #44). The
#: untrimmed file in fma_full is fine.
KNOWN_EMPTY_CLIPS: dict[int, str] = {
    99134: "mdeff/fma#41, #44",
    108925: "mdeff/fma#41, #44",
    133297: "mdeff/fma#4, #41, #44",
}

_FOLDER = re.compile(r"\d{3}")
_AUDIO_FOLDER = re.compile(r"fma_(small|medium|large|full)")
_FILE = re.compile(r"(\d{6})\.mp3")


def audio_path(track_id: int) -> str:
    """``utils.get_audio_path`` of the FMA repository, relative to the audio folder."""
    tid = f"{track_id:06d}"
    return f"{tid[:3]}/{tid}.mp3"


def read_genres(path: Path) -> dict[int, dict]:
    """``genre_id -> {title, parent, top_level}`` from ``genres.csv``."""
    out: dict[int, dict] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = {"genre_id", "parent", "title", "top_level"}
        if not need <= set(reader.fieldnames or []):
            raise ValueError(f"{path}: expected FMA's genres.csv header genre_id,#tracks,parent,title,top_level; found {reader.fieldnames}")
        for row in reader:
            gid = int(row["genre_id"])
            out[gid] = {"title": row["title"], "parent": int(row["parent"]), "top_level": int(row["top_level"])}
    return out


def read_tracks(path: Path) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """Column positions (by :data:`REQUIRED` name) and ``(line, row)`` of
    FMA's ``tracks.csv``. Lines are physical line numbers of the row's first
    line (fields may hold newlines)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            top, sub, index_row = next(reader), next(reader), next(reader)
        except StopIteration:
            raise ValueError(f"{path}: not FMA's tracks.csv (fewer than 3 header rows)") from None
        if not index_row or index_row[0] != "track_id" or any(index_row[1:]) or len(top) != len(sub):
            raise ValueError(
                f"{path}: not FMA's tracks.csv: expected 3 header rows (',album,...', ',comments,...', 'track_id,,,...'); "
                f"found {top[:3]} / {sub[:3]} / {index_row[:3]}"
            )
        pos = {(a, b): i for i, (a, b) in enumerate(zip(top, sub))}
        missing = [f"{a}.{b}" for a, b in REQUIRED.values() if (a, b) not in pos]
        if missing:
            raise ValueError(f"{path}: tracks.csv lacks column(s) {missing}")
        cols = {name: pos[key] for name, key in REQUIRED.items()}
        rows = []
        line = reader.line_num + 1
        for row in reader:
            rows.append((line, row))
            line = reader.line_num + 1
    return cols, rows


_ID_LIST = re.compile(r"\[\s*(\d+(?:\s*,\s*\d+)*)?\s*\]")


def _genre_list(text: str) -> list[int]:
    """``[76, 103]`` → ``[76, 103]``: what ``ast.literal_eval`` gives FMA's
    loader, parsed directly (literal_eval is most of the time of a
    106,574-row read)."""
    m = _ID_LIST.fullmatch(text.strip() or "[]")
    if m is None:
        raise ValueError(text)
    return [int(v) for v in m.group(1).split(",")] if m.group(1) else []


def scan_audio(root: Path) -> dict[str, int]:
    """``AAA/AAABBB.mp3`` → size in bytes, for every mp3 in the numbered
    folders (one directory listing per folder instead of one stat per row)."""
    sizes: dict[str, int] = {}
    with os.scandir(root) as it:
        folders = sorted(e.name for e in it if e.is_dir() and _FOLDER.fullmatch(e.name))
    for folder in folders:
        with os.scandir(root / folder) as it:
            for e in it:
                if e.is_file() and e.name.lower().endswith(".mp3"):
                    sizes[f"{folder}/{e.name}"] = e.stat().st_size
    return sizes


def _resolve(path: Path, subset: str | None, audio: Path | None, metadata: Path | None) -> tuple[Path, Path, str]:
    """``(metadata folder, audio folder, subset)`` from what the user named:
    the audio folder itself (``/data/fma_large``, ``fma_metadata/`` beside
    it) or the folder holding ``fma_metadata/`` and ``fma_<subset>/``."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such folder (expected fma_large/ or the folder holding fma_metadata/ and fma_<subset>/)")
    named = _AUDIO_FOLDER.fullmatch(path.name)
    if audio is None and named:
        audio, base = path, path.parent
        subset = subset or named.group(1)
    else:
        base = path
    if audio is None:
        found = [d for d in list_dirs(base) if _AUDIO_FOLDER.fullmatch(d)]
        if subset is not None:
            audio = base / f"fma_{subset}"
        elif len(found) == 1:
            audio, subset = base / found[0], found[0][len("fma_"):]
        elif found:
            raise ValueError(f"{base} holds {', '.join(found)}: say which with ?subset=small|medium|large|full (e.g. fma:{base}?subset=large)")
        else:
            raise FileNotFoundError(f"{base}: no fma_small/, fma_medium/, fma_large/ or fma_full/ folder (unzip fma_<subset>.zip here, or give audio=FOLDER)")
    subset = subset or "large"
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {', '.join(SUBSETS)}, not {subset!r}")
    if metadata is None:
        metadata = base / "fma_metadata" if (base / "fma_metadata").is_dir() else base
    audio = Path(audio)
    if not audio.is_dir():
        raise FileNotFoundError(f"{audio}: no such folder (unzip fma_{subset}.zip here, or give audio=FOLDER)")
    return Path(metadata), audio, subset


def read_fma(
    path: Path,
    *,
    subset: str | None = None,
    audio: Path | None = None,
    metadata: Path | None = None,
    no_top_genre: str = "keep",
) -> Source:
    """Read FMA at ``path``: the audio folder (``fma_large/``, with
    ``fma_metadata/`` next to it) or the folder holding ``fma_metadata/`` and
    ``fma_<subset>/``.

    ``subset``: ``small``, ``medium``, ``large`` or ``full``; default: the
    one the audio folder is named after (small is inside medium is inside
    large; full = all tracks, untrimmed). ``audio``/``metadata``: the audio
    folder and the folder of ``tracks.csv``/``genres.csv`` when they are
    elsewhere (e.g. the small subset out of ``fma_large/``).
    ``no_top_genre``: tracks without ``track.genre_top`` are kept with
    ``genre=None`` (``"keep"``, default) or listed as problems (``"drop"``)."""
    if no_top_genre not in NO_TOP_GENRE:
        raise ValueError(f"no_top_genre must be one of {', '.join(NO_TOP_GENRE)}, not {no_top_genre!r}")
    meta, root, subset = _resolve(path, subset, audio, metadata)
    tracks_csv, genres_csv = meta / "tracks.csv", meta / "genres.csv"
    for f in (tracks_csv, genres_csv):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: not found (unzip fma_metadata.zip next to {root.name}/, or give metadata=FOLDER)")

    genres = read_genres(genres_csv)
    cols, rows = read_tracks(tracks_csv)
    on_disk = scan_audio(root)
    csv_name, folder_name = tracks_csv.name, root.name  # once, not per row
    clipped = subset != "full"  # fma_small/medium/large hold 30 s clips; fma_full the whole tracks
    problems: list[dict] = []
    items: list[dict] = []
    listed: set[str] = set()

    for line, row in rows:
        where = f"{csv_name}:{line}"
        if not row or not row[0].strip().isdigit():
            problems.append(problem(where, KIND, f"bad row: track id {row[0] if row else ''!r} is not a number"))
            continue
        if len(row) <= max(cols.values()):
            problems.append(problem(where, KIND, f"bad row: {len(row)} fields, fewer than the header"))
            continue
        tid = int(row[0])
        rel = audio_path(tid)
        listed.add(rel)
        track_subset = row[cols["subset"]].strip()
        if track_subset not in _RANK:
            problems.append(problem(where, KIND, f"bad row: set.subset {track_subset!r} is not small, medium or large"))
            continue
        if subset != "full" and _RANK[track_subset] > _RANK[subset]:
            continue
        try:
            tagged = _genre_list(row[cols["genres"]])
            tagged_all = _genre_list(row[cols["genres_all"]])
        except ValueError:
            problems.append(problem(where, KIND, f"bad row: track.genres {row[cols['genres']]!r} is not a list of genre ids"))
            continue
        unknown = [g for g in tagged + tagged_all if g not in genres]
        if unknown:
            problems.append(problem(where, KIND, f"unknown genre id: {sorted(set(unknown))} not in {genres_csv.name}"))
            continue
        if rel not in on_disk:
            problems.append(problem(rel, KIND, f"not found in {folder_name}/: listed in {where} (subset {track_subset})"))
            continue
        if on_disk[rel] == 0:
            problems.append(problem(rel, KIND, "empty file (0 bytes)"))
            continue
        if clipped and tid in KNOWN_EMPTY_CLIPS:
            problems.append(problem(rel, KIND, f"known FMA issue: this 30 s clip holds no audio (wrong duration metadata; {KNOWN_EMPTY_CLIPS[tid]})"))
            continue
        genre_top = none_if_blank(row[cols["genre_top"]])
        if genre_top is None and no_top_genre == "drop":
            roots = sorted({genres[g]["title"] for g in tagged_all if genres[g]["parent"] == 0})
            if roots:
                why = f"no top-level genre: its genres fall under {len(roots)} top-level genres ({', '.join(roots)}), so FMA left track.genre_top empty"
            else:
                why = "no top-level genre: the track has no genre (track.genres is empty)"
            problems.append(problem(rel, KIND, why + " (no_top_genre='drop')"))
            continue
        items.append(
            item(
                KIND,
                path=rel,
                genre=genre_top,
                subgenres=[genres[g]["title"] for g in tagged],
                artist=none_if_blank(row[cols["artist"]]),
                title=none_if_blank(row[cols["title"]]),
                source=SOURCE,
                licence=none_if_blank(row[cols["license"]]),
                source_id=str(tid),
            )
        )

    for rel in sorted(set(on_disk) - listed):  # mp3 files in the audio folder that tracks.csv does not list
        problems.append(problem(rel, KIND, f"not listed in {tracks_csv.name}: a file of {root.name}/"))
    return to_source(root, items, problems)
