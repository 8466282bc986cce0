"""Compare two built dataset folders table by table, by content.

Every Parquet file under either folder must exist in both with the same
schema (field names and types) and the same rows in the same order; JSON
files must be equal after dropping the keys named in ``ignore`` (by default
:data:`VOLATILE`: wall-clock timings, absolute paths of the two folders) and
writing each folder's own path as ``<root>``. ``_work/`` (shard parts, whose
names hash the input files' paths and modification times) is not an output
and is skipped. ``scripts/compare_outputs.py`` is the command-line form; the
tests compare a deployment's or a Dask cluster's build with a CLI build.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import pyarrow.parquet as pq

#: Columns / JSON keys that measure time or name the output folder itself.
VOLATILE = frozenset({"seconds", "imported_at", "file", "media_roots", "csv_dir", "run_dir"})


def _files(root: Path, suffix: str) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob(f"*{suffix}") if p.is_file() and "_work" not in p.relative_to(root).parts}


def _scrub(value, roots: tuple[str, ...], ignore: frozenset):
    if isinstance(value, dict):
        return {k: _scrub(v, roots, ignore) for k, v in value.items() if k not in ignore}
    if isinstance(value, list):
        return [_scrub(v, roots, ignore) for v in value]
    if isinstance(value, str):
        for r in roots:  # longest first: one folder's path may begin with the other's
            value = value.replace(r, "<root>")
    return value


def compare_folders(before: Path, after: Path, ignore: Iterable[str] = VOLATILE) -> list[str]:
    """The differences between two dataset folders, one line each (empty: the same)."""
    before, after, ignore = Path(before), Path(after), frozenset(ignore)
    problems = []
    roots = tuple(sorted({str(before.resolve()), str(after.resolve())}, key=len, reverse=True))
    for suffix in (".parquet", ".json"):
        a, b = _files(before, suffix), _files(after, suffix)
        for name in sorted(a ^ b):
            problems.append(f"{name}: only in {'BEFORE' if name in a else 'AFTER'}")
        for name in sorted(a & b):
            if suffix == ".json":
                x = _scrub(json.loads((before / name).read_text()), roots, ignore)
                y = _scrub(json.loads((after / name).read_text()), roots, ignore)
                if x != y:
                    problems.append(f"{name}: JSON differs")
                continue
            x, y = pq.read_table(before / name), pq.read_table(after / name)
            keep = [c for c in x.column_names if c not in ignore]
            if x.column_names != y.column_names or [f.type for f in x.schema] != [f.type for f in y.schema]:
                problems.append(f"{name}: schema differs ({x.schema} vs {y.schema})")
            elif not x.select(keep).equals(y.select(keep)):
                problems.append(f"{name}: rows differ")
    return problems


def compared_files(folder: Path) -> int:
    """How many files :func:`compare_folders` compares in ``folder``."""
    return len(_files(Path(folder), ".parquet")) + len(_files(Path(folder), ".json"))
