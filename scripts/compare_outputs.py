"""Compare two built output trees table by table (by content).

Used to check that a refactor changes no output: run ``synesthesia demo``
before and after into two folders, then

    python scripts/compare_outputs.py BEFORE AFTER

Every Parquet file under either folder must exist in both with the same
schema (field names and types) and the same rows in the same order; JSON
files must be equal after dropping the keys named in
``synesthesia.datasets.compare.VOLATILE`` (wall-clock timings, absolute
paths of the two folders). ``_work/`` (shard parts, whose names hash the
input files' paths and modification times) is not an output and is skipped.
Exit status 1 on any difference. The comparison is
``synesthesia.datasets.compare.compare_folders``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from synesthesia.datasets.compare import compare_folders, compared_files


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    before, after = map(Path, argv)
    problems = compare_folders(before, after)
    for p in problems:
        print(p)
    print(f"{compared_files(before)} files compared, {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
