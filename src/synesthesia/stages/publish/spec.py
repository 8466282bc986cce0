"""What a recipe hands the publishing stages: a :class:`Publication` (the
configs to export, each a table of rows with its media and arrays, and what
the dataset card says) and a :class:`Gallery` (what the browser shows).

The writers (``hf``, ``webdataset``, ``site``) are generic: they know
nothing of MPD, ArtSound or Museart, only these dataclasses. A recipe builds
them from its folder (``recipes/<dataset>/publish.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND
from synesthesia.datasets.readers.shards import hub_split

#: Split order in exports and cards (other names follow, sorted).
SPLIT_ORDER = ("train", "validation", "test")


@dataclass(frozen=True)
class Media:
    """A media column of the export (``Image()`` / ``Audio()``): the bytes of
    the file at ``rows[files]`` (an absolute path), named ``rows[names]`` (its
    path relative to its media root: what the export records, never a path
    of this machine)."""

    column: str
    kind: str  # "image" | "audio"
    files: str
    names: str

    def __post_init__(self):
        if self.kind not in ("image", "audio"):
            raise ValueError(f"media kind must be 'image' or 'audio', not {self.kind!r}")


@dataclass(frozen=True)
class Array:
    """A fixed-shape array column (``Array2D``), looked up by the row's
    ``by`` column: ``values(ids)`` returns ``[len(ids), *shape]``."""

    column: str
    shape: tuple[int, ...]
    dtype: str
    by: str
    values: Callable[[Sequence[str]], np.ndarray]


@dataclass
class Config:
    """One Hugging Face config: ``rows`` (one per example, with a ``split``
    column in our names and the media path columns), keyed by ``key``."""

    name: str
    rows: pa.Table
    key: str
    media: tuple[Media, ...] = ()
    arrays: tuple[Array, ...] = ()
    #: ClassLabel columns: column -> label names (the column holds the names).
    labels: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: Column -> what it means (the card's column tables).
    descriptions: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""

    def __post_init__(self):
        for f in self.rows.schema:  # pandas gives large_string; the Hub's features say string
            if f.type in (pa.large_string(), pa.large_binary()):
                small = pa.string() if f.type == pa.large_string() else pa.binary()
                self.rows = self.rows.set_column(self.rows.schema.get_field_index(f.name), f.name, self.rows.column(f.name).cast(small))
        kinds = [m.kind for m in self.media]
        if len(kinds) != len(set(kinds)):
            raise ValueError(f"config {self.name}: at most one image and one audio column (a sample's members are named by kind)")
        ids = self.rows.column(self.key).to_pylist()
        if len(set(ids)) != len(ids) or any(i is None or "." in i for i in ids):
            raise ValueError(f"config {self.name}: {self.key} must be unique, non-null and without dots (it is the sample key)")

    @property
    def hidden(self) -> set[str]:
        """Row columns that are not exported as data (split, media paths)."""
        return {"split"} | {m.files for m in self.media} | {m.names for m in self.media}

    @property
    def data_columns(self) -> list[str]:
        return [c for c in self.rows.column_names if c not in self.hidden]

    def splits(self) -> dict[str, pa.Table]:
        """Rows by Hub split name (``validation``, not ``val``), in SPLIT_ORDER, sorted by key; empty splits left out."""
        names = [hub_split(s) for s in self.rows.column("split").to_pylist()]
        column = pa.array(names, pa.string())
        found = sorted(set(names), key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))
        return {s: self.rows.filter(pc.equal(column, s)).sort_by(self.key) for s in found}


@dataclass(frozen=True)
class Source:
    """Where a part of the data comes from and under which terms."""

    name: str
    role: str  # "paintings", "music", "annotations", …
    license: str  # a Hugging Face licence id ("cc-by-4.0", "other", …)
    terms: str  # the terms in words
    url: str = ""


@dataclass
class Publication:
    """A dataset ready to export: its configs and its card."""

    dataset: str
    pretty_name: str
    folder: Path
    configs: list[Config]
    summary: str
    sources: list[Source]
    task_categories: list[str]
    tags: list[str]
    citation: str  # BibTeX of the paper the dataset comes from
    build: dict  # dataset.json's config (how it was built)
    warnings: list[str] = field(default_factory=list)  # shown first on the card (e.g. simulated ratings)
    sections: list[str] = field(default_factory=list)  # more Markdown sections for the card
    card_data: dict = field(default_factory=dict)  # more YAML metadata (language, annotations_creators, …)

    def config(self, name: str) -> Config:
        for c in self.configs:
            if c.name == name:
                return c
        raise KeyError(f"{self.dataset}: no config {name!r} (has {[c.name for c in self.configs]})")


def batches(rows: pa.Table, size: int) -> Iterator[pa.Table]:
    for start in range(0, rows.num_rows, size):
        yield rows.slice(start, size)


# --- the browser ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """A value a card shows: ``column`` of the gallery rows, its label, and
    how it is written (``"text"`` on one line, ``"wrap"`` over several,
    ``"number"`` with ``digits``, ``"long"`` for captions: folded away)."""

    column: str
    label: str
    kind: str = "text"
    digits: int = 3


@dataclass
class Gallery:
    """What the browser shows of a dataset: one card per row of ``rows``.

    ``rows`` holds ``key``, ``split``, ``image_file`` / ``audio_file``
    (absolute paths of the media the card shows) and every column named by
    ``facets``, ``sorts`` and ``fields``."""

    dataset: str
    title: str
    rows: pa.Table
    noun: str = "pairs"
    facets: list[str] = field(default_factory=list)  # filters (split first)
    sorts: list[str] = field(default_factory=list)  # numeric columns to sort by
    fields: list[Field] = field(default_factory=list)  # shown on every card
    heading: str = ""  # the card's title column
    notes: list[str] = field(default_factory=list)  # banners (e.g. simulated ratings)
    description: str = ""
    alpha_background: str = DEFAULT_ALPHA_BACKGROUND  # the build's --alpha-background: thumbnails composite transparent pixels onto it


# --- sources --------------------------------------------------------------------------------

#: What ``datasets.synthetic`` writes at the root of a generated corpus.
CORPUS_MARKER = "corpus.json"
SYNTHETIC_TERMS = "generated by synesthesia.datasets.synthetic (demo and test data): no third-party content"
PAPER_NOTE = "the paper's source; this build did not record its inputs, so check that yours are these and what their terms allow"


def is_synthetic(root: str | Path | None, levels: int = 3) -> bool:
    """Whether ``root`` lies in a corpus that ``datasets.synthetic`` generated
    (its ``corpus.json`` marker in the root or up to ``levels`` folders above)."""
    if not root:
        return False
    here = Path(root).resolve()
    for folder in [here, *here.parents][: levels + 1]:
        marker = folder / CORPUS_MARKER
        if marker.is_file():
            import json

            try:
                return "spec" in json.loads(marker.read_text(encoding="utf-8"))
            except ValueError:
                return False
    return False


def declared_sources(manifest: Mapping, roots: Mapping[str, str | Path | None], paper: Sequence[Source],
                     derived: Sequence[Source] = ()) -> list[Source]:
    """The sources a card names: those ``dataset.json`` declares (``sources``:
    ``[{name, role, license, terms, url}]``); else, when every media root is
    a generated corpus, that corpus; else the paper's, marked as such.
    ``derived`` (annotations, captions made by the build) are always added."""
    if manifest.get("sources"):
        try:
            return [Source(**s) for s in manifest["sources"]] + list(derived)
        except TypeError as exc:
            raise ValueError(f"dataset.json: each of `sources` needs name, role, license, terms (and may have url): {exc}") from None
    if roots and all(is_synthetic(r) for r in roots.values()):
        return [Source("synesthesia sample corpus", role, "other", SYNTHETIC_TERMS) for role in roots] + list(derived)
    return [Source(s.name, s.role, s.license, f"{s.terms} ({PAPER_NOTE})", s.url) for s in paper] + list(derived)
