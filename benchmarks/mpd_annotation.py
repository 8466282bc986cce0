"""MPD annotation at the paper's scale: 50,000 pairs × 5 continuous ratings
from 35 raters → trimmed-mean scores + dispersion + Krippendorff's α +
preference-task building. Prints seconds per step and the total (goal: < 2 s
on a 2-core machine). The bootstrap interval and the per-rater figures are
timed on their own line (they are extra to the paper's steps).

    python benchmarks/mpd_annotation.py [--pairs 50000] [--paintings 11000] [--clips 6127] [--boot 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa

from synesthesia.annotation.aggregate import aggregate_scores, dispersion
from synesthesia.annotation.agreement import agreement, krippendorff_alpha_interval
from synesthesia.annotation.assign import assign_raters
from synesthesia.annotation.preferences import PreferenceConfig, build_preference_tasks
from synesthesia.annotation.simulate import SimulatedRaters
from synesthesia.datasets import schema as S
from synesthesia.stages.pairing import balanced_random_pairs, pair_id


def synthetic_pairs(n_pairs: int, n_paintings: int, n_clips: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    cells = balanced_random_pairs(n_paintings, n_clips, n_pairs, rng)
    paintings = np.array([f"img-{i:06d}" for i in range(n_paintings)], dtype=object)
    clips = np.array([f"aud-{i:06d}-c000" for i in range(n_clips)], dtype=object)
    p, c = paintings[cells[:, 0]], clips[cells[:, 1]]
    split = np.where(rng.random(n_pairs) < 0.8, "train", np.where(rng.random(n_pairs) < 0.5, "val", "test"))
    return pa.table(
        {"pair_id": [pair_id(a, b) for a, b in zip(p, c)], "painting_id": p, "clip_id": c, "split": split}, schema=S.MPD_PAIRS
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=50_000)
    ap.add_argument("--paintings", type=int, default=11_000)
    ap.add_argument("--clips", type=int, default=6_127)
    ap.add_argument("--raters", type=int, default=35)
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args()

    pairs = synthetic_pairs(args.pairs, args.paintings, args.clips)
    assignments = assign_raters(pairs.column("pair_id").to_pylist(), 5, args.raters)
    ratings = SimulatedRaters(seed=1).rate(assignments)
    print(f"{args.pairs:,} pairs x 5 ratings = {ratings.num_rows:,} continuous ratings from {args.raters} raters")

    timings = {}
    t0 = time.perf_counter()
    scores, _ = aggregate_scores(ratings)
    timings["aggregate (trimmed mean, sigma)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    disp = dispersion(scores)
    timings["dispersion summary"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    alpha = krippendorff_alpha_interval(ratings.column("pair_id"), ratings.column("score").to_numpy())
    timings["Krippendorff alpha (interval)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tasks, summary = build_preference_tasks(scores, pairs, PreferenceConfig())
    timings["preference tasks"] = time.perf_counter() - t0
    total = sum(timings.values())
    for name, sec in timings.items():
        print(f"  {name:<34} {sec:8.3f} s")
    print(f"  {'TOTAL':<34} {total:8.3f} s   (goal < 2 s)")
    t0 = time.perf_counter()
    full = agreement(ratings, n_boot=args.boot)
    extra = time.perf_counter() - t0
    print(f"  extra: alpha + {args.boot}-replicate bootstrap + per-rater table: {extra:.3f} s")
    print(
        f"alpha = {alpha:.3f} (95% CI {full.ci_low:.3f}-{full.ci_high:.3f}); mean sigma = {disp['mean_sigma']:.3f}; "
        f"ambiguous pairs = {summary['ambiguous_pairs']:,}; preference tasks = {tasks.num_rows:,} {summary['tasks']}"
    )


if __name__ == "__main__":
    main()
