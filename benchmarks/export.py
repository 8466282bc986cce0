"""Export throughput on a built folder (printed, not asserted): the Hugging
Face export and the WebDataset shards of DIR, rows per second and MB per
second written (media bytes are copied as they are, so disk speed and the
mel lookups dominate).

    python benchmarks/export.py demo-output/mpd
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from synesthesia.flows import publish as P


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    rows = sum(c.rows.num_rows for c in P.publication(args.folder).configs)
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in (("hf", lambda out: P.export_hf(args.folder, out, log=lambda m: None)),
                          ("webdataset", lambda out: P.export_webdataset(args.folder, out, log=lambda m: None))):
            out = Path(tmp) / name
            started = time.perf_counter()
            run(out)
            seconds = time.perf_counter() - started
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            print(f"{name:<10}: {rows:,} rows, {size / 1e6:,.1f} MB in {seconds:.1f} s = {rows / seconds:,.0f} rows/s, {size / 1e6 / seconds:,.1f} MB/s")


if __name__ == "__main__":
    main()
