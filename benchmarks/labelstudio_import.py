"""Importing a paper-scale Label Studio export (`annotate import`).

Writes a full-JSON ratings export the size the MPD campaign produces
(``--tasks`` pairs × ``--raters`` annotations, Label Studio's field layout:
results, ``completed_by``, ISO timestamps with microseconds, lead times,
the task data) and times ``synesthesia.recipes.mpd.import_annotations`` on
it: read + parse + vectorised timestamps + merge + write. Prints the export's
size, the wall time and the rate.

    python benchmarks/labelstudio_import.py                # 80,400 tasks x 5 = 402,000 annotations
    python benchmarks/labelstudio_import.py --tasks 8000   # a quick run
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes import mpd


def write_export(path: Path, n_tasks: int, raters: int) -> list[str]:
    rnd = random.Random(0)
    pairs = [f"pair-{k:012x}" for k in range(n_tasks)]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[")
        for k, pair in enumerate(pairs):
            anns = []
            for r in range(raters):
                stamp = f"2026-0{1 + k % 9}-{1 + k % 28:02d}T{r:02d}:{k % 60:02d}:{(k * 7) % 60:02d}.{rnd.randrange(10**6):06d}Z"
                anns.append({
                    "id": k * raters + r, "completed_by": 1 + (k + r) % 35, "was_cancelled": False, "ground_truth": False,
                    "result": [{"id": f"r{k}-{r}", "from_name": "coherence", "to_name": "painting", "type": "number",
                                "value": {"number": round(rnd.random(), 2)}, "origin": "manual"}],
                    "created_at": stamp, "updated_at": stamp, "lead_time": round(rnd.uniform(3, 60), 3), "prediction": {},
                    "result_count": 0, "task": k + 1, "project": 1, "updated_by": 1 + (k + r) % 35, "parent_prediction": None,
                    "parent_annotation": None, "last_created_by": None, "draft_created_at": None, "import_id": None,
                })
            task = {"id": k + 1, "annotations": anns, "drafts": [], "predictions": [],
                    "data": {"pair_id": pair, "image": f"/data/local-files/?d=served/paintings/ab/img-{k:016x}.jpg",
                             "audio": f"/data/local-files/?d=clips/cd/aud-{k:016x}-c000.flac", "split": "train",
                             "painting_id": f"img-{k:016x}", "clip_id": f"aud-{k:016x}-c000", "raters": ",".join(f"rater-{(k + r) % 35:02d}" for r in range(raters))},
                    "meta": {}, "created_at": "2026-01-01T00:00:00.000000Z", "updated_at": "2026-01-01T00:00:00.000000Z",
                    "inner_id": k + 1, "total_annotations": raters, "cancelled_annotations": 0, "total_predictions": 0,
                    "comment_count": 0, "unresolved_comment_count": 0, "last_comment_updated_at": None, "project": 1,
                    "updated_by": None, "file_upload": None, "comment_authors": []}
            fh.write(("," if k else "") + json.dumps(task))
        fh.write("]")
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=80_400)
    parser.add_argument("--raters", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        export = tmp / "export.json"
        started = time.perf_counter()
        pairs = write_export(export, args.tasks, args.raters)
        written = time.perf_counter() - started
        out = tmp / "mpd"
        table = S.from_rows([{"pair_id": p, "painting_id": "img", "clip_id": "clip", "split": "train"} for p in pairs], S.MPD_PAIRS)
        dio.write_table(table, out / "pairs.parquet", S.MPD_PAIRS)
        started = time.perf_counter()
        entry = mpd.import_annotations(out, export)
        seconds = time.perf_counter() - started
        size = export.stat().st_size
        n = entry["counts"]["annotations"]
        print(f"export: {size / 1e6:.0f} MB, {args.tasks:,} tasks, {n:,} annotations (written in {written:.0f} s)")
        print(f"import: {seconds:.1f} s wall ({n / seconds:,.0f} annotations/s); {entry['counts']['valid']:,} valid, {entry['rows_after']:,} rows")


if __name__ == "__main__":
    main()
