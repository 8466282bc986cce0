"""Test support: an MPD folder taken through the three annotation phases
with simulated raters (the session fixture ``mpd_annotation_phases``)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa

from synesthesia.annotation.simulate import SimulatedRaters
from synesthesia.datasets import io as dio
from synesthesia.recipes import mpd as MA
from synesthesia.datasets import schema as S
from synesthesia.recipes.mpd import MPDConfig
from synesthesia.flows.runner import RunnerConfig
from synesthesia.flows.mpd import annotate_mpd, build_mpd

ANNOTATION = MA.MPDAnnotationConfig(rater_pool=12, n_boot=200, preference_tasks=40)
CONFIG = MPDConfig(n_pairs=120, seed=5, annotation=ANNOTATION)
RUNNER = RunnerConfig("threads", 2)
SHORT_PAIRS = 3  # pairs left with only 2 ratings


def run_phases(corpus: dict, root: Path) -> dict:
    """Build, then simulated ratings → phase 2, simulated votes → phase 3.
    ``phase1`` / ``phase2`` are copies of the folder as each phase left it."""
    out = root / "mpd"
    seen: dict = {"out": out}
    seen["build"] = build_mpd(corpus["paintings"], corpus["music"], out, CONFIG, shard_size=50, runner=RUNNER)
    seen["report1"] = (out / "report.md").read_text()
    seen["phase1"] = Path(shutil.copytree(out, root / "phase1"))
    raters = SimulatedRaters(seed=5)
    ratings = MA.simulate_ratings(out, raters)
    # leave a few pairs with only two ratings: they must be flagged, not scored
    short = sorted(set(ratings["pair_id"].to_pylist()))[:SHORT_PAIRS]
    seen["short"] = short
    keep, count = [], Counter()
    for p in ratings["pair_id"].to_pylist():
        count[p] += 1
        keep.append(p not in short or count[p] <= 2)
    dio.write_table(ratings.filter(pa.array(keep)), out / MA.RATINGS_FILE, S.MPD_RATINGS)
    seen["phase2_result"] = annotate_mpd(out, 50, RUNNER)
    seen["phase2"] = Path(shutil.copytree(out, root / "phase2"))
    MA.simulate_votes(out, raters)
    seen["phase3_result"] = annotate_mpd(out, 50, RUNNER)
    return seen
