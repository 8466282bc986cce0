"""Compare two built output trees table by table (by content).

Used to check that a refactor changes no output: run ``synesthesia demo``
before and after into two folders, then

    python scripts/compare_outputs.py BEFORE AFTER

Every Parquet file under either folder must exist in both with the same
schema (field names and types) and the same rows in the same order; JSON
files must be equal after dropping the keys named in ``VOLATILE`` (wall-clock
timings, absolute paths of the two folders). ``_work/`` (shard parts, whose
names hash the input files' paths and modification times) is not an output
and is skipped. Exit status 1 on any difference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

#: Columns / JSON keys that measure time or name the output folder itself.
VOLATILE = {"seconds", "imported_at", "file", "media_roots", "csv_dir", "run_dir"}


def _files(root: Path, suffix: str) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob(f"*{suffix}") if p.is_file() and "_work" not in p.relative_to(root).parts}


def _scrub(value, roots: tuple[str, ...]):
    if isinstance(value, dict):
        return {k: _scrub(v, roots) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_scrub(v, roots) for v in value]
    if isinstance(value, str):
        for r in roots:
            value = value.replace(r, "<root>")
    return value


def compare(before: Path, after: Path) -> list[str]:
    problems = []
    roots = (str(before.resolve()), str(after.resolve()))
    for suffix in (".parquet", ".json"):
        a, b = _files(before, suffix), _files(after, suffix)
        for name in sorted(a ^ b):
            problems.append(f"{name}: only in {'BEFORE' if name in a else 'AFTER'}")
        for name in sorted(a & b):
            if suffix == ".json":
                x = _scrub(json.loads((before / name).read_text()), roots)
                y = _scrub(json.loads((after / name).read_text()), roots)
                if x != y:
                    problems.append(f"{name}: JSON differs")
                continue
            x, y = pq.read_table(before / name), pq.read_table(after / name)
            keep = [c for c in x.column_names if c not in VOLATILE]
            if x.column_names != y.column_names or [f.type for f in x.schema] != [f.type for f in y.schema]:
                problems.append(f"{name}: schema differs ({x.schema} vs {y.schema})")
            elif not x.select(keep).equals(y.select(keep)):
                problems.append(f"{name}: rows differ")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    before, after = map(Path, argv)
    problems = compare(before, after)
    n = len(_files(before, ".parquet")) + len(_files(before, ".json"))
    for p in problems:
        print(p)
    print(f"{n} files compared, {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
