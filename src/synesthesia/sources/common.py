"""What the corpus readers share: the item keys, the conversion of their rows
into a :class:`~synesthesia.datasets.inputs.Source`, the problem rows, and the
text helpers for labels and WikiArt-style file names.

A reader turns a corpus *as its users download it* into item rows plus one
problem per row or file it cannot use. Problems are quarantine rows with
``stage="source"``; a file (listed but absent, known bad, ambiguous) is named
by its path relative to the source root, a metadata row that cannot be used
at all by ``file:line`` (as Museart's index reader does).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Iterable, Mapping

from synesthesia.datasets.inputs import Source, SourceItem, quarantine_row

STAGE = "source"

#: Keys of an image item (paintings / artworks), in this order.
IMAGE_KEYS = ("path", "style", "genre", "artist", "title", "source", "licence", "source_id")
#: Keys of a track item, in this order.
TRACK_KEYS = ("path", "genre", "subgenres", "artist", "title", "source", "licence", "source_id")

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"})


def problem(path: str, kind: str, reason: str) -> dict:
    """One quarantine row of the source stage."""
    return quarantine_row(path, kind, STAGE, reason)


def item(kind: str, **values) -> dict:
    """An item row with exactly the keys of its kind (a reader that forgets
    one is a bug, caught here)."""
    keys = IMAGE_KEYS if kind == "image" else TRACK_KEYS
    missing, extra = set(keys) - set(values), set(values) - set(keys)
    if missing or extra:
        raise TypeError(f"{kind} item keys: missing {sorted(missing)}, unexpected {sorted(extra)}")
    return {k: values[k] for k in keys}


def to_source(root: Path, items: Iterable[Mapping], problems: list[dict]) -> Source:
    """Item rows → a :class:`Source` (sorted by path; lists become tuples so
    an item stays hashable; ``None`` values are kept: the column is known to
    be empty)."""
    out = []
    for row in items:
        meta = {k: (tuple(v) if isinstance(v, list) else v) for k, v in row.items() if k != "path"}
        out.append(SourceItem(row["path"], tuple(sorted(meta.items(), key=lambda kv: kv[0]))))
    return Source(Path(root).resolve(), sorted(out, key=lambda i: i.path), problems)


def none_if_blank(value) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


# --- text helpers ----------------------------------------------------------------------

_MOJIBAKE_PAIR = re.compile(r"([\u00e2-\u00fe])([\u0080-\u00bf])")


def repair_mojibake(text: str) -> str:
    """Undo WikiArt's lower-cased double encoding of file names.

    ArtGAN's WikiArt names were UTF-8 bytes read as Latin-1 and then
    lower-cased: ``é`` (C3 A9) became ``Ã©`` and then ``ã©``; a no-break space
    (C2 A0) became ``â\\xa0``. Each (lower-cased lead, continuation) pair is
    turned back into its two-byte UTF-8 character when that decodes; anything
    else is left as is. Only for display fields (artist, title): paths keep
    the name on disk."""

    def fix(m: re.Match) -> str:
        lead = ord(m.group(1)) - 0x20  # undo the lower-casing (Ã..Þ -> ã..þ)
        if not 0xC2 <= lead <= 0xDF:
            return m.group(0)
        try:
            return bytes([lead, ord(m.group(2))]).decode("utf-8")
        except UnicodeDecodeError:
            return m.group(0)

    return _MOJIBAKE_PAIR.sub(fix, text)


def slug_words(slug: str) -> str:
    """``vincent-van-gogh`` -> ``vincent van gogh`` (hyphens to spaces,
    whitespace incl. no-break spaces collapsed)."""
    return " ".join(slug.replace("-", " ").split())


def norm_label(label: str) -> str:
    """Key to compare style/genre names written differently:
    ``Art_Nouveau_Modern`` == ``Art Nouveau Modern`` == ``art nouveau (modern)``."""
    text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", text.lower())


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def list_files(folder: Path) -> list[str]:
    """Names of the regular, non-hidden files directly in ``folder`` (sorted)."""
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if e.is_file() and not e.name.startswith("."))
    except FileNotFoundError:
        return []


def list_dirs(folder: Path) -> list[str]:
    """Names of the non-hidden sub-folders of ``folder`` (sorted)."""
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    except FileNotFoundError:
        return []


def read_lines(path: Path) -> list[str]:
    """The file's lines, any line ending (the ArtGAN CSVs use CRLF), no BOM."""
    return path.read_text(encoding="utf-8-sig").splitlines()
