"""Input selectors: which reader reads an input, where, with which options.

    PATH                              the generic folder / CSV scan (today's behaviour)
    KIND:PATH                         a corpus reader: wikiart, artgraph, fma, mtg-jamendo
    KIND:PATH?option=value&option=value

e.g. ``wikiart:/data/wikiart?styles=mpd``, ``fma:/data/fma_large``,
``fma:/data/fma?subset=medium&no_top_genre=drop``. A selector is one string,
so it travels unchanged through the CLI, the flows' JSON parameters and
run-config files; the recipes open it with :func:`open_source`. The options
of each reader are in :data:`READERS` (and ``docs/sources.md``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence
from urllib.parse import quote, unquote

from synesthesia.datasets.inputs import Source
from synesthesia.sources.artgraph import read_artgraph
from synesthesia.sources.fma import NO_TOP_GENRE, SUBSETS, read_fma
from synesthesia.sources.generic import scan_generic
from synesthesia.sources.mtg_jamendo import NO_GENRE, QUALITIES, read_mtg_jamendo
from synesthesia.sources.wikiart import DUPLICATE_POLICIES, MPD_STYLES, read_wikiart

GENERIC = "generic"
#: Named style lists: ``styles=mpd`` is MPD's five WikiArt styles (MPJudge paper, sec. 3).
STYLE_PRESETS: Mapping[str, tuple[str, ...]] = {"mpd": MPD_STYLES}
_YES, _NO = ("yes", "true", "1", "on"), ("no", "false", "0", "off")


@dataclass(frozen=True)
class Option:
    """One reader option: ``type`` is ``path`` (resolved against the working
    directory), ``list`` (comma-separated), ``bool`` or ``choice``."""

    type: str
    help: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reader:
    name: str
    kind: str  # "image" | "audio"
    read: Callable[..., Source]
    help: str
    options: Mapping[str, Option] = field(default_factory=dict)


READERS: Mapping[str, Reader] = {
    r.name: r
    for r in (
        Reader("wikiart", "image", read_wikiart, "ArtGAN's WikiArt (wikiart/<Style>/<artist>_<title>.jpg and its CSV label lists)", {
            "styles": Option("list", "only these styles (folder or plain names, comma-separated); 'mpd' = MPD's five"),
            "duplicates": Option("choice", "a file name under two selected styles: keep every copy, keep the first style's, or drop all", DUPLICATE_POLICIES),
            "lists": Option("path", "the folder of the style/genre/artist lists, when not next to wikiart/"),
        }),
        Reader("artgraph", "image", read_artgraph, "ArtGraph (imagesf2/ plus the artgraph_artworks.csv exported from its Neo4j dump)", {
            "styles": Option("list", "only these styles (ArtGraph names, any case/punctuation, comma-separated); 'mpd' = MPD's five"),
            "metadata": Option("path", "the export file, when not in PATH"),
            "images": Option("path", "the image folder, when not PATH/imagesf2"),
        }),
        Reader("fma", "audio", read_fma, "FMA (fma_metadata/tracks.csv, genres.csv and fma_<subset>/AAA/AAABBB.mp3)", {
            "subset": Option("choice", "which tracks (default: the audio folder's name)", SUBSETS),
            "no_top_genre": Option("choice", "tracks FMA gives no top-level genre: keep (genre empty) or drop", NO_TOP_GENRE),
            "audio": Option("path", "the audio folder, when not fma_<subset>/"),
            "metadata": Option("path", "the folder of tracks.csv and genres.csv, when not fma_metadata/"),
        }),
        Reader("mtg-jamendo", "audio", read_mtg_jamendo, "MTG-Jamendo (the repository's data/*.tsv plus the downloaded NN/<id>.mp3)", {
            "tsv": Option("path", "which metadata TSV (default data/autotagging_genre.tsv)"),
            "quality": Option("choice", "audio (NN/ID.mp3), audio-low (NN/ID.low.mp3) or auto (either)", QUALITIES),
            "no_genre": Option("choice", "tracks without a genre tag: keep (genre empty) or drop", NO_GENRE),
            "audio": Option("path", "the audio folder, when not PATH/audio or PATH"),
        }),
    )
}
GENERIC_OPTIONS: Mapping[str, Option] = {
    "accept_labels": Option("bool", "keep folder names as labels even when they look like numbers/hashes or the folder like a corpus download"),
}

_PREFIX = re.compile(r"([a-z][a-z0-9_-]+):(.*)", re.S | re.I)
_QUERY = re.compile(r"[A-Za-z_-]+=[^&]*(&[A-Za-z_-]+=[^&]*)*")


@dataclass(frozen=True)
class Selector:
    """A parsed selector: ``reader`` (``"generic"`` for a plain path), the
    path, and the options as given (strings)."""

    reader: str
    path: str
    options: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        text = self.path if self.reader == GENERIC else f"{self.reader}:{self.path}"
        if self.options:
            text += "?" + "&".join(f"{k}={quote(v, safe='/,:() ')}" for k, v in self.options)
        return text

    @property
    def spec(self) -> Mapping[str, Option]:
        return GENERIC_OPTIONS if self.reader == GENERIC else READERS[self.reader].options


def parse_selector(selector: str | os.PathLike) -> Selector:
    """``KIND:PATH?options`` → :class:`Selector`; a plain path is the generic
    reader. A prefix that names no reader is an error unless the whole
    string is an existing path (``C:\\data`` on Windows, ``my:folder``)."""
    text = os.fspath(selector)
    reader, rest = GENERIC, text
    m = _PREFIX.fullmatch(text)
    if m and (m.group(1).lower() in READERS or m.group(1).lower() == GENERIC):
        reader, rest = m.group(1).lower(), m.group(2)
    elif m and not Path(text).exists() and not Path(text.split("?", 1)[0]).exists():
        known = ", ".join(f"{n}:" for n in READERS)
        raise ValueError(f"{text}: unknown reader '{m.group(1)}:' (known: {known} or a plain folder/CSV path; docs/sources.md)")
    path, options = rest, ()
    head, sep, query = rest.rpartition("?")
    if sep and _QUERY.fullmatch(query):
        path = head
        options = tuple((k.replace("-", "_"), unquote(v)) for k, v in (pair.split("=", 1) for pair in query.split("&")))
    if not path:
        raise ValueError(f"{text}: no path after '{reader}:'")
    parsed = Selector(reader, path, options)
    _check_options(parsed)
    return parsed


def _check_options(selector: Selector) -> None:
    spec = selector.spec
    seen = set()
    for key, value in selector.options:
        if key in seen:
            raise ValueError(f"{selector}: option {key} given twice")
        seen.add(key)
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise ValueError(f"{selector}: the {selector.reader} reader has no option '{key}' (its options: {known}; docs/sources.md)")
        option = spec[key]
        if option.type == "choice" and value not in option.choices:
            raise ValueError(f"{selector}: {key} must be one of {', '.join(option.choices)}, not '{value}'")
        if option.type == "bool" and value.lower() not in _YES + _NO:
            raise ValueError(f"{selector}: {key} must be yes or no, not '{value}'")


def _typed(selector: Selector) -> dict:
    out: dict = {}
    for key, value in selector.options:
        option = selector.spec[key]
        if option.type == "path":
            out[key] = Path(value)
        elif option.type == "list":
            names = [v.strip() for v in value.split(",") if v.strip()]
            out[key] = [s for n in names for s in STYLE_PRESETS.get(n.lower(), (n,))] if key == "styles" else names
        elif option.type == "bool":
            out[key] = value.lower() in _YES
        else:
            out[key] = value
    return out


def absolute(selector: str | os.PathLike, kind: str | None = None) -> str:
    """The selector with its path (and path options) made absolute, checked:
    the reader exists, takes these options and reads ``kind``, and the path
    exists. What the flows pass on: a remote worker runs in another directory."""
    s = parse_selector(selector)
    if kind is not None:
        _check_kind(s, kind)
    path = Path(s.path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such folder or CSV file" + (f" (the {s.reader} reader's input)" if s.reader != GENERIC else ""))
    options = tuple((k, str(Path(v).expanduser().resolve()) if s.spec[k].type == "path" else v) for k, v in s.options)
    return str(Selector(s.reader, str(path.resolve()), options))


def _check_kind(selector: Selector, kind: str) -> None:
    if selector.reader == GENERIC:
        return
    reader = READERS[selector.reader]
    if reader.kind != kind:
        wanted = "paintings/artworks (--paintings)" if reader.kind == "image" else "music (--music)"
        raise ValueError(f"{selector}: {reader.name} is a corpus of {wanted}, not of {'images' if kind == 'image' else 'audio'}")


def open_source(selector: str | os.PathLike, kind: str, folder_fields: Sequence[str] = ()) -> Source:
    """Read the input a selector names as a :class:`Source` of ``kind``
    (``"image"``/``"audio"``). ``folder_fields``: the generic scan's
    sub-folder fields (:class:`~synesthesia.stages.ingest.IngestConfig`);
    corpus readers take their labels from the corpus."""
    s = parse_selector(selector)
    _check_kind(s, kind)
    options = _typed(s)
    if s.reader == GENERIC:
        return scan_generic(s.path, kind, folder_fields, **options)
    return READERS[s.reader].read(Path(s.path).expanduser(), **options)


def is_corpus(selector: str | os.PathLike) -> bool:
    """True when the selector names a corpus reader (not the generic scan)."""
    return parse_selector(selector).reader != GENERIC
