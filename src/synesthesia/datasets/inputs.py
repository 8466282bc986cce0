"""What every input reader hands to ingest: the files of one input (paths
relative to its root, with metadata) and the rows it could not use.

Readers of public corpora (``synesthesia.sources``) and the generic
folder/CSV scan (``synesthesia.sources.generic.scan_generic``) both produce a
:class:`Source`; ingest validates its files and keeps the problems as
quarantine rows (:data:`synesthesia.datasets.schema.QUARANTINE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourceItem:
    """One file to ingest: its path relative to the input root, plus metadata."""

    path: str
    meta: tuple = ()  # sorted (key, value) pairs, hashable

    @property
    def metadata(self) -> dict:
        return dict(self.meta)


@dataclass
class Source:
    """The result of scanning an input: its root, the files, and CSV problems."""

    root: Path
    items: list[SourceItem]
    problems: list[dict] = field(default_factory=list)  # quarantine rows (e.g. CSV row without a file)


def quarantine_row(path: str, kind: str, stage: str, reason: str) -> dict:
    """One :data:`schema.QUARANTINE` row."""
    return {"path": path, "kind": kind, "stage": stage, "reason": reason}
