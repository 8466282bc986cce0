"""FMA and MTG-Jamendo in their published layouts (see the package docstring)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from support.corpora.media import write_audio, write_corrupt_mp3, write_lines

# --- FMA ------------------------------------------------------------------------------

FMA_COLUMNS: list[tuple[str, str]] = (
    [("album", c) for c in ("comments", "date_created", "date_released", "engineer", "favorites", "id", "information",
                            "listens", "producer", "tags", "title", "tracks", "type")]
    + [("artist", c) for c in ("active_year_begin", "active_year_end", "associated_labels", "bio", "comments",
                               "date_created", "favorites", "id", "latitude", "location", "longitude", "members",
                               "name", "related_projects", "tags", "website", "wikipedia_page")]
    + [("set", "split"), ("set", "subset")]
    + [("track", c) for c in ("bit_rate", "comments", "composer", "date_created", "date_recorded", "duration",
                              "favorites", "genre_top", "genres", "genres_all", "information", "interest",
                              "language_code", "license", "listens", "lyricist", "number", "publisher", "tags",
                              "title")]
)
assert len(FMA_COLUMNS) == 52

FMA_GENRES = [
    "genre_id,#tracks,parent,title,top_level",
    "1,8693,38,Avant-Garde,38",
    "10,13845,0,Pop,10",
    "12,32923,0,Rock,12",
    "17,12706,0,Folk,17",
    "21,8389,0,Hip-Hop,21",
    "25,9261,12,Punk,12",
    "38,38154,0,Experimental,38",
    "76,7144,10,Experimental Pop,10",
    "103,4162,17,Singer-Songwriter,17",
]

_BY_SA = "Attribution-NonCommercial-ShareAlike 3.0 International"
_BY_NC_ND = "Attribution-NonCommercial-NoDerivatives (aka Music Sharing) 3.0 International"
_AWOL_ALBUM = {("album", "comments"): "0", ("album", "date_created"): "2008-11-26 01:44:45",
               ("album", "date_released"): "2009-01-05 00:00:00", ("album", "favorites"): "4", ("album", "id"): "1",
               ("album", "information"): "<p></p>", ("album", "listens"): "6073", ("album", "tags"): "[]",
               ("album", "title"): "AWOL - A Way Of Life", ("album", "tracks"): "7", ("album", "type"): "Album"}
_AWOL_ARTIST = {("artist", "active_year_begin"): "2006-01-01 00:00:00", ("artist", "comments"): "0",
                ("artist", "date_created"): "2008-11-26 01:42:32", ("artist", "favorites"): "9", ("artist", "id"): "1",
                ("artist", "latitude"): "40.058324", ("artist", "location"): "New Jersey",
                ("artist", "longitude"): "-74.405661", ("artist", "name"): "AWOL", ("artist", "tags"): "['awol']",
                ("artist", "website"): "http://www.AzillionRecords.blogspot.com"}


def _awol(number: str, created: str, duration: str, favorites: str, interest: str, listens: str, title: str, subset: str) -> dict:
    return {**_AWOL_ALBUM, **_AWOL_ARTIST, ("set", "split"): "training", ("set", "subset"): subset,
            ("track", "bit_rate"): "256000", ("track", "comments"): "0", ("track", "date_created"): created,
            ("track", "date_recorded"): "2008-11-26 00:00:00", ("track", "duration"): duration,
            ("track", "favorites"): favorites, ("track", "genre_top"): "Hip-Hop", ("track", "genres"): "[21]",
            ("track", "genres_all"): "[21]", ("track", "interest"): interest, ("track", "language_code"): "en",
            ("track", "license"): _BY_SA, ("track", "listens"): listens, ("track", "number"): number,
            ("track", "tags"): "[]", ("track", "title"): title}


FMA_ROWS: dict[int, dict] = {
    2: _awol("3", "2008-11-26 01:48:12", "168", "2", "4656", "1293", "Food", "small"),
    3: _awol("4", "2008-11-26 01:48:14", "237", "1", "1470", "514", "Electric Ave", "medium"),
    5: _awol("6", "2008-11-26 01:48:20", "206", "6", "1933", "1151", "This World", "small"),
    10: {("album", "comments"): "0", ("album", "date_created"): "2008-11-26 01:45:08",
         ("album", "date_released"): "2008-02-06 00:00:00", ("album", "favorites"): "4", ("album", "id"): "6",
         ("album", "listens"): "47632", ("album", "tags"): "[]", ("album", "title"): "Constant Hitmaker",
         ("album", "tracks"): "2", ("album", "type"): "Album",
         ("artist", "comments"): "3", ("artist", "date_created"): "2008-11-26 01:42:55", ("artist", "favorites"): "74",
         ("artist", "id"): "6", ("artist", "members"): "Kurt Vile, the Violators", ("artist", "name"): "Kurt Vile",
         ("artist", "tags"): "['philly', 'kurt vile']", ("artist", "website"): "http://kurtvile.com",
         ("set", "split"): "training", ("set", "subset"): "small",
         ("track", "bit_rate"): "192000", ("track", "comments"): "0", ("track", "composer"): "Kurt Vile",
         ("track", "date_created"): "2008-11-25 17:49:06", ("track", "date_recorded"): "2008-11-26 00:00:00",
         ("track", "duration"): "161", ("track", "favorites"): "178", ("track", "genre_top"): "Pop",
         ("track", "genres"): "[10]", ("track", "genres_all"): "[10]", ("track", "interest"): "54881",
         ("track", "language_code"): "en", ("track", "license"): _BY_NC_ND, ("track", "listens"): "50135",
         ("track", "number"): "1", ("track", "tags"): "[]", ("track", "title"): "Freeway"},
    # no genre_top: its genres fall under Folk and Pop
    20: {("album", "comments"): "0", ("album", "date_created"): "2008-11-26 01:45:05",
         ("album", "date_released"): "2009-01-06 00:00:00", ("album", "favorites"): "2", ("album", "id"): "4",
         ("album", "information"): '<p> "spiritual songs" from Nicky Cook</p>', ("album", "listens"): "2710",
         ("album", "tags"): "[]", ("album", "title"): "Niris", ("album", "tracks"): "13", ("album", "type"): "Album",
         ("artist", "active_year_begin"): "1990-01-01 00:00:00", ("artist", "active_year_end"): "2011-01-01 00:00:00",
         ("artist", "comments"): "2", ("artist", "date_created"): "2008-11-26 01:42:52", ("artist", "favorites"): "10",
         ("artist", "id"): "4", ("artist", "latitude"): "51.895927", ("artist", "location"): "Colchester England",
         ("artist", "longitude"): "0.891874", ("artist", "members"): "Nicky Cook\n", ("artist", "name"): "Nicky Cook",
         ("set", "split"): "training", ("set", "subset"): "large",
         ("track", "bit_rate"): "256000", ("track", "comments"): "0", ("track", "date_created"): "2008-11-26 01:48:56",
         ("track", "date_recorded"): "2008-01-01 00:00:00", ("track", "duration"): "311", ("track", "favorites"): "0",
         ("track", "genre_top"): "", ("track", "genres"): "[76, 103]", ("track", "genres_all"): "[17, 10, 76, 103]",
         ("track", "interest"): "978", ("track", "language_code"): "en", ("track", "license"): _BY_NC_ND,
         ("track", "listens"): "361", ("track", "number"): "3", ("track", "tags"): "[]",
         ("track", "title"): "Spiritual Level"},
    # PLACEHOLDER rows below: ids/paths real in shape, metadata invented.
    666: {("artist", "name"): "Placeholder Without Genre", ("set", "split"): "training", ("set", "subset"): "large",
          ("track", "genre_top"): "", ("track", "genres"): "[]", ("track", "genres_all"): "[]",
          ("track", "license"): _BY_SA, ("track", "title"): "No Genre At All"},
    777: {("artist", "name"): "Placeholder Empty File", ("set", "split"): "training", ("set", "subset"): "large",
          ("track", "genre_top"): "Rock", ("track", "genres"): "[25]", ("track", "genres_all"): "[12, 25]",
          ("track", "license"): _BY_SA, ("track", "title"): "Zero Bytes"},
    1000: {("artist", "name"): "Ensemble Sébastien Ørsted", ("set", "split"): "validation", ("set", "subset"): "large",
           ("track", "genre_top"): "Experimental", ("track", "genres"): "[1, 38]", ("track", "genres_all"): "[1, 38]",
           ("track", "license"): "", ("track", "title"): "Ça ne finit jamais — 終わり"},
    133297: {("artist", "name"): "Placeholder Known Empty Clip", ("set", "split"): "test", ("set", "subset"): "small",
             ("track", "genre_top"): "Experimental", ("track", "genres"): "[38]", ("track", "genres_all"): "[38]",
             ("track", "license"): _BY_SA, ("track", "title"): "Six Hundred Seconds"},
    155066: {("artist", "name"): "Placeholder Absent File", ("set", "split"): "training", ("set", "subset"): "medium",
             ("track", "genre_top"): "Rock", ("track", "genres"): "[12]", ("track", "genres_all"): "[12]",
             ("track", "license"): _BY_SA, ("track", "title"): "Not Downloaded"},
}
FMA_ON_DISK = {2, 3, 5, 10, 20, 666, 1000}  # good mp3s; 777 empty, 133297 corrupt, 155066 absent
FMA_ORPHAN = 1  # an mp3 in fma_large/ that tracks.csv does not list


def write_fma_tracks_csv(path: Path, rows: dict[int, dict]) -> Path:
    """``tracks.csv`` as pandas writes a frame with two-level columns and an
    index named ``track_id``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([""] + [a for a, _ in FMA_COLUMNS])
        w.writerow([""] + [b for _, b in FMA_COLUMNS])
        w.writerow(["track_id"] + [""] * len(FMA_COLUMNS))
        for tid in sorted(rows):
            w.writerow([str(tid)] + [rows[tid].get(col, "") for col in FMA_COLUMNS])
    return path


def _fma_rel(tid: int) -> str:
    s = f"{tid:06d}"
    return f"{s[:3]}/{s}.mp3"


def _checksums(folder: Path) -> None:
    lines = []
    for f in sorted(p for p in folder.rglob("*.mp3")):
        lines.append(f"{hashlib.sha1(f.read_bytes()).hexdigest()}  {f.relative_to(folder).as_posix()}")
    (folder / "checksums").write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_fma(base: Path, seconds: float = 0.5) -> Path:
    """``base/fma_metadata/{tracks,genres}.csv``, ``base/fma_large/AAA/AAABBB.mp3``
    and ``base/fma_small/`` (its small tracks); the good tracks last
    ``seconds`` (FMA's are 30 s; MPD needs 15). Returns ``base``."""
    base = Path(base)
    write_fma_tracks_csv(base / "fma_metadata" / "tracks.csv", FMA_ROWS)
    write_lines(base / "fma_metadata" / "genres.csv", FMA_GENRES, "\n")
    for folder, keep in (("fma_large", lambda r: True), ("fma_small", lambda r: r[("set", "subset")] == "small")):
        root = base / folder
        for i, tid in enumerate(sorted(FMA_ROWS)):
            if not keep(FMA_ROWS[tid]):
                continue
            rel = root / _fma_rel(tid)
            if tid in FMA_ON_DISK:
                write_audio(rel, seconds=seconds, freq=220.0 + 40 * i)
            elif tid == 777:
                rel.parent.mkdir(parents=True, exist_ok=True)
                rel.write_bytes(b"")
            elif tid == 133297:
                write_corrupt_mp3(rel)
        if folder == "fma_large":
            write_audio(root / _fma_rel(FMA_ORPHAN), seconds=0.25)
        _checksums(root)
    return base


# --- MTG-Jamendo ----------------------------------------------------------------------

MTG_HEADER = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"
MTG_GENRE_ROWS = [
    "track_0000241\tartist_000005\talbum_000033\t41/241.mp3\t340.1\tgenre---rock",
    "track_0000242\tartist_000005\talbum_000033\t42/242.mp3\t248.5\tgenre---rock",
    "track_0000243\tartist_000005\talbum_000033\t43/243.mp3\t249.5\tgenre---rock",
    "track_0000946\tartist_000087\talbum_000149\t46/946.mp3\t241.7\tgenre---ambient\tgenre---chillout\tgenre---downtempo\tgenre---easylistening\tgenre---electronic\tgenre---lounge",
    "track_0000947\tartist_000087\talbum_000149\t47/947.mp3\t182.4\tgenre---ambient\tgenre---downtempo\tgenre---easylistening\tgenre---electronic\tgenre---lounge\tgenre---triphop",
    "track_0000948\tartist_000087\talbum_000149\t48/948.mp3\t212.7\tgenre---chillout\tgenre---downtempo\tgenre---easylistening\tgenre---electronic\tgenre---lounge",
]
#: A track with instrument/mood tags only (real row of split-0/autotagging-test.tsv).
MTG_NO_GENRE_ROW = "track_0022546\tartist_001968\talbum_003125\t46/22546.mp3\t163.0\tinstrument---flute\tinstrument---guitar\tmood/theme---sad"
MTG_META = [
    "TRACK_ID\tARTIST_ID\tALBUM_ID\tTRACK_NAME\tARTIST_NAME\tALBUM_NAME\tRELEASEDATE\tURL",
    # PLACEHOLDER values in the published columns
    "track_0000241\tartist_000005\talbum_000033\tPlaceholder \"Rock Song\tPlaceholder Band\tPlaceholder Album\t2004-12-28\thttps://www.jamendo.com/track/241",
    "track_0000242\tartist_000005\talbum_000033\tSecond Song\t\tPlaceholder Band\tPlaceholder Album\t2004-12-28\thttps://www.jamendo.com/track/242",
    "track_0000946\tartist_000087\talbum_000149\tLounge Placeholder\tJosé Ñandú\tPlaceholder Album\t2005-03-01\thttps://www.jamendo.com/track/946",
    "track_0000947\tartist_000087\tbroken row with too few fields",
]
MTG_LICENCES = (
    # PLACEHOLDER values in the three-line block shape
    "41/241.mp3\n"
    "Placeholder \"Rock Song by Placeholder Band from Jamendo: https://www.jamendo.com/track/241\n"
    "Available under CC BY-NC-SA: https://creativecommons.org/licenses/by-nc-sa/3.0/\n"
    "\n"
    "46/946.mp3\n"
    "Lounge Placeholder by José Ñandú from Jamendo: https://www.jamendo.com/track/946\n"
    "Available under CC BY: https://creativecommons.org/licenses/by/3.0/\n"
)


def make_mtg_jamendo(base: Path) -> Path:
    """``base/data/{autotagging_genre,raw_30s,raw.meta}.tsv``, ``base/audio_licenses.txt``
    and ``base/audio/NN/<id>[.low].mp3``. Returns ``base``."""
    base = Path(base)
    data = base / "data"
    write_lines(data / "autotagging_genre.tsv", [MTG_HEADER] + MTG_GENRE_ROWS, "\r\n")
    write_lines(data / "raw_30s.tsv", [MTG_HEADER] + MTG_GENRE_ROWS[:1] + [MTG_NO_GENRE_ROW], "\r\n")
    write_lines(data / "raw.meta.tsv", MTG_META, "\n")
    (base / "audio_licenses.txt").write_text(MTG_LICENCES, encoding="utf-8")
    audio = base / "audio"
    write_audio(audio / "41" / "241.mp3", freq=330.0)
    write_audio(audio / "42" / "242.low.mp3", freq=350.0)  # only the low-quality download
    (audio / "43").mkdir(parents=True, exist_ok=True)
    (audio / "43" / "243.mp3").write_bytes(b"")
    write_audio(audio / "46" / "946.mp3", freq=370.0)
    write_audio(audio / "46" / "946.low.mp3", freq=370.0)
    write_audio(audio / "47" / "947.mp3", freq=390.0)
    write_audio(audio / "46" / "22546.mp3", freq=410.0)
    # 48/948.mp3 is listed but absent
    return base


# --- a generic folder that is really FMA --------------------------------------------------


def make_numbered_folders(base: Path, names=("000", "001", "155")) -> Path:
    """What a generic ``<genre>/<file>`` scan sees in ``fma_large/``."""
    for i, n in enumerate(names):
        write_audio(Path(base) / n / f"{n}{i:03d}.mp3", seconds=0.2)
    return Path(base)
