"""Simulated raters — for the demo and the tests only, never for a real dataset.

Each pair has a hidden true coherence t ~ Beta(a, b), derived from a hash of
the pair id and the seed (so ratings and votes about the same pair agree).
Rater r has a bias b_r ~ N(0, bias_sd); a rating is
``clip(round(t + b_r + N(0, noise_sd), 0.01), 0, 1)`` (the slider's step).
A preference vote between candidates A and B of a query compares the true
coherences of the two rated pairs with rater noise:
A wins when ``t_A − t_B + N(0, noise_sd·√2) > 0`` (a rater's own bias cancels
in a comparison). ``bad_raters`` raters have ``bad_factor`` times the noise
and bias, so the per-rater table has something to find.

For the quality-control checks (``annotation.quality``) two more kinds can
be planted: ``random_raters`` rate uniformly at random, and
``drifting_raters`` rate like the others until ``drift_start`` of their
queue, then drift linearly into random ratings (a rating at progress p is
``(1 − w)·good + w·U(0, 1)``, ``w = (p − drift_start) / (1 − drift_start)``).
:meth:`SimulatedRaters.rate_queue` answers a whole queue in order (planned
tasks, gold and repeats), so the drift follows the queue.

Defaults are set so the figures land near the paper's (α ≈ 0.86, mean σ ≈
0.08). Every row is marked ``source = "simulated"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats

from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import rng_for

SIMULATED = "simulated"


@dataclass(frozen=True)
class SimulatedRaters:
    seed: int = 0
    true_beta: tuple[float, float] = (2.0, 2.0)
    bias_sd: float = 0.03
    noise_sd: float = 0.08
    bad_raters: int = 1
    bad_factor: float = 4.0
    step: float = 0.01  # the rating slider's step
    lead_time_s: tuple[float, float] = (8.0, 40.0)  # uniform range of simulated time per task
    random_raters: int = 0
    drifting_raters: int = 0
    drift_start: float = 0.25

    def true_coherence(self, pair_ids) -> np.ndarray:
        """The hidden coherence of each pair (deterministic in pair id and seed)."""
        ids = np.asarray(pair_ids, dtype=object)
        key = f"{self.seed:016d}"[-16:]
        h = pd.util.hash_array(ids, hash_key=key, categorize=False).astype(np.float64)
        u = (h + 0.5) / 2.0**64
        return stats.beta.ppf(u, *self.true_beta)

    def _rater_params(self, rater_names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bias and noise sd per rater; the ``bad_raters`` chosen by seed."""
        rng = rng_for(self.seed, "simulated-raters")
        ordered = np.sort(rater_names)
        bias = pd.Series(rng.normal(0.0, self.bias_sd, ordered.size), index=ordered)
        noise = pd.Series(np.full(ordered.size, self.noise_sd), index=ordered)
        bad = rng.choice(ordered, size=min(self.bad_raters, ordered.size), replace=False)
        bias[bad] *= self.bad_factor
        noise[bad] *= self.bad_factor
        return bias.reindex(rater_names).to_numpy(), noise.reindex(rater_names).to_numpy()

    def bad_rater_ids(self, rater_names) -> list[str]:
        ordered = np.sort(np.asarray(rater_names, dtype=object))
        rng = rng_for(self.seed, "simulated-raters")
        rng.normal(0.0, self.bias_sd, ordered.size)  # same draws as _rater_params
        return sorted(rng.choice(ordered, size=min(self.bad_raters, ordered.size), replace=False).tolist())

    def _lead_times(self, n: int, name: str) -> np.ndarray:
        lo, hi = self.lead_time_s
        return np.round(rng_for(self.seed, "lead-time", name).uniform(lo, hi, n), 1)

    def planted(self, rater_names) -> dict[str, list[str]]:
        """Which raters are ``bad``, ``random`` and ``drifting`` (disjoint; seeded)."""
        ordered = np.sort(np.asarray(rater_names, dtype=object))
        bad = self.bad_rater_ids(ordered)
        rest = np.array([r for r in ordered if r not in bad], dtype=object)
        rng = rng_for(self.seed, "planted-raters")
        picked = rng.choice(rest, size=min(self.random_raters + self.drifting_raters, rest.size), replace=False).tolist()
        return {"bad": bad, "random": sorted(picked[: self.random_raters]), "drifting": sorted(picked[self.random_raters :])}

    def _scores(self, truth: np.ndarray, rater: np.ndarray, progress: np.ndarray, name: str) -> np.ndarray:
        """One simulated rating per row: the hidden truth seen by ``rater`` at
        ``progress`` (0..1) of their queue, rounded to the slider's step."""
        uniq = np.unique(rater)
        bias_u, noise_u = self._rater_params(uniq)
        idx = np.searchsorted(uniq, rater)
        noise = rng_for(self.seed, name).standard_normal(rater.size)
        raw = truth + bias_u[idx] + noise * noise_u[idx]
        planted = self.planted(uniq)
        coin = rng_for(self.seed, name, "uniform").uniform(0.0, 1.0, rater.size)
        w = np.where(np.isin(rater, planted["random"]), 1.0, 0.0)
        drift = np.clip((progress - self.drift_start) / max(1.0 - self.drift_start, 1e-9), 0.0, 1.0)
        w = np.where(np.isin(rater, planted["drifting"]), drift, w)
        raw = (1.0 - w) * raw + w * coin
        return np.round(np.clip(np.round(raw / self.step) * self.step, 0.0, 1.0), 6)

    def rate(self, assignments: pa.Table) -> pa.Table:
        """One rating per (pair, rater) row of ``assignments`` (``schema.MPD_RATINGS``);
        a drifting rater's progress is the row's rank among the rater's rows."""
        pair = np.asarray(assignments.column("pair_id").to_numpy(zero_copy_only=False), dtype=object)
        rater = np.asarray(assignments.column("rater_id").to_numpy(zero_copy_only=False), dtype=object)
        progress = _progress(rater)
        score = self._scores(self.true_coherence(pair), rater, progress, "rating-noise")
        return self._ratings(pair, rater, score, "ratings")

    def _ratings(self, pair: np.ndarray, rater: np.ndarray, score: np.ndarray, name: str) -> pa.Table:
        return pa.table(
            {
                "pair_id": pa.array(pair, pa.string()),
                "rater_id": pa.array(rater, pa.string()),
                "score": pa.array(score, pa.float64()),
                "annotation_id": pa.array([f"sim-{p}-{r}" for p, r in zip(pair, rater)], pa.string()),
                "lead_time_s": pa.array(self._lead_times(pair.size, name), pa.float64()),
                "annotated_at": pa.nulls(pair.size, pa.timestamp("us", tz="UTC")),
                "source": pa.array([SIMULATED] * pair.size, pa.string()),
            },
            schema=S.MPD_RATINGS,
        )

    def rate_queue(self, queues: pa.Table, qc_tasks: pa.Table) -> tuple[pa.Table, pa.Table]:
        """Answer every ``ratings`` row of ``queues`` in queue order:
        ``(ratings, qc_answers)``. A gold pair's truth is its reference
        score; a repeat is the same pair rated again, with fresh noise and
        the rater's drift at the repeat's place in the queue."""
        q = queues.to_pandas()
        q = q[q["project_kind"] == "ratings"].sort_values(["rater_id", "position"], kind="stable")
        length = q.groupby("rater_id")["position"].transform("max").clip(lower=1)
        progress = (q["position"] / length).to_numpy(dtype=float)
        checks = qc_tasks.to_pandas().set_index("qc_id")
        is_check = (q["check"] != "").to_numpy()
        of = np.where(is_check, checks["of_id"].reindex(q["item_id"]).to_numpy(), q["item_id"].to_numpy())
        truth = self.true_coherence(of)
        gold = (q["check"] == "gold").to_numpy()
        truth[gold] = checks["reference_score"].reindex(q["item_id"][gold]).to_numpy(dtype=float)
        rater = q["rater_id"].to_numpy(dtype=object)
        score = self._scores(truth, rater, progress, "queue-noise")
        item = q["item_id"].to_numpy(dtype=object)
        seconds = self._lead_times(len(q), "queue-times")
        # one rater works through their queue in order: each answer ends its lead time after the last
        at = pd.Timestamp("2026-01-05T09:00:00Z") + pd.to_timedelta(pd.Series(seconds).groupby(rater).cumsum().to_numpy(), unit="s")
        ratings = self._ratings(item[~is_check], rater[~is_check], score[~is_check], "queue-ratings")
        ratings = ratings.set_column(ratings.schema.get_field_index("lead_time_s"), "lead_time_s", pa.array(seconds[~is_check], pa.float64()))
        ratings = ratings.set_column(ratings.schema.get_field_index("annotated_at"), "annotated_at", pa.array(at[~is_check], pa.timestamp("us", tz="UTC")))
        n = int(is_check.sum())
        answers = pa.table(
            {
                "qc_id": pa.array(item[is_check], pa.string()),
                "rater_id": pa.array(rater[is_check], pa.string()),
                "score": pa.array(score[is_check], pa.float64()),
                "chosen_id": pa.nulls(n, pa.string()),
                "annotation_id": pa.array([f"sim-{x}-{r}" for x, r in zip(item[is_check], rater[is_check])], pa.string()),
                "lead_time_s": pa.array(seconds[is_check], pa.float64()),
                "annotated_at": pa.array(at[is_check], pa.timestamp("us", tz="UTC")),
                "source": pa.array([SIMULATED] * n, pa.string()),
            },
            schema=S.MPD_QC_ANSWERS,
        )
        return ratings, answers

    def vote(self, tasks: pa.Table, assignments: pa.Table) -> pa.Table:
        """One vote per (task, rater) row of the preference ``assignments``
        (``schema.MPD_PREFERENCE_VOTES``), consistent with the true coherences."""
        t = tasks.select(["task_id", "pair_a", "pair_b", "candidate_a", "candidate_b"]).to_pandas().set_index("task_id")
        task = np.asarray(assignments.column("task_id").to_numpy(zero_copy_only=False), dtype=object)
        rater = np.asarray(assignments.column("rater_id").to_numpy(zero_copy_only=False), dtype=object)
        rows = t.loc[task]
        uniq = np.unique(rater)
        _, noise_u = self._rater_params(uniq)
        sd = noise_u[np.searchsorted(uniq, rater)] * np.sqrt(2.0)
        diff = self.true_coherence(rows["pair_a"].to_numpy()) - self.true_coherence(rows["pair_b"].to_numpy())
        pick_a = diff + rng_for(self.seed, "vote-noise").standard_normal(task.size) * sd > 0
        return pa.table(
            {
                "task_id": pa.array(task, pa.string()),
                "rater_id": pa.array(rater, pa.string()),
                "choice": pa.array(np.where(pick_a, "a", "b"), pa.string()),
                "chosen_id": pa.array(np.where(pick_a, rows["candidate_a"], rows["candidate_b"]), pa.string()),
                "annotation_id": pa.array([f"sim-{x}-{r}" for x, r in zip(task, rater)], pa.string()),
                "lead_time_s": pa.array(self._lead_times(task.size, "votes"), pa.float64()),
                "annotated_at": pa.nulls(task.size, pa.timestamp("us", tz="UTC")),
                "source": pa.array([SIMULATED] * task.size, pa.string()),
            },
            schema=S.MPD_PREFERENCE_VOTES,
        )


def _progress(rater: np.ndarray) -> np.ndarray:
    """Each row's rank among the rows of its rater, scaled to [0, 1]."""
    codes = pd.factorize(rater)[0]
    rank = pd.Series(codes).groupby(codes).cumcount().to_numpy(dtype=float)
    count = np.bincount(codes)[codes].astype(float)
    return rank / np.maximum(count - 1.0, 1.0)
