"""Pairing by embedding similarity, by id, with the method chosen by name,
and the statistics the ArtSound paper reports on the chosen pairs.

``greedy`` is the paper's rule (:mod:`~synesthesia.stages.greedy`);
``optimal-knn`` the maximum-total-similarity alternative
(:mod:`~synesthesia.stages.optimal_pairing`). Both sides are sorted by id
first, so "ties broken by id" means by audio id, then image id.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pyarrow as pa

from synesthesia.stages.greedy import GreedyConfig, greedy_match
from synesthesia.stages.optimal_pairing import DEFAULT_KNN, OptimalKnnConfig, optimal_knn_match

METHODS = ("greedy", "optimal-knn")

#: Figure 2 of the ArtSound paper: low (<= 0.25), medium (0.25–0.6), high (>= 0.6).
LOW_MAX = 0.25
HIGH_MIN = 0.6
RANGES = ("low", "medium", "high")


@dataclass(frozen=True)
class MatchConfig:
    method: str = "greedy"
    greedy: GreedyConfig = field(default_factory=GreedyConfig)
    knn_k: int = DEFAULT_KNN

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown pairing method {self.method!r}; choose from {METHODS}")


@dataclass
class IdPairs:
    """Pairs by id, in the order chosen, and what stayed unpaired."""

    audio_ids: list[str]
    image_ids: list[str]
    similarity: np.ndarray
    rank: np.ndarray
    unpaired_audio: list[str]
    stats: dict

    def table(self, approach: str, method: str) -> pa.Table:
        from synesthesia.datasets import schema as S

        n = len(self.audio_ids)
        return pa.table(
            {
                "audio_id": pa.array(self.audio_ids, pa.string()),
                "image_id": pa.array(self.image_ids, pa.string()),
                "similarity": pa.array(self.similarity, pa.float64()),
                "approach": pa.array([approach] * n, pa.string()),
                "method": pa.array([method] * n, pa.string()),
                "rank": pa.array(self.rank, pa.int64()),
            },
            schema=S.ARTSOUND_APPROACH_PAIRS,
        )


def _by_id(ids: Sequence[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")
    order = sorted(range(len(ids)), key=ids.__getitem__)
    vectors = np.asarray(vectors, np.float32)
    if order == list(range(len(ids))):  # already sorted (the embeddings store's order): no copy
        return list(ids), np.ascontiguousarray(vectors)
    return [ids[k] for k in order], np.ascontiguousarray(vectors[order])


def match_ids(
    audio_ids: Sequence[str], audio_vectors: np.ndarray, image_ids: Sequence[str], image_vectors: np.ndarray,
    config: MatchConfig = MatchConfig(), device: str | None = None,
) -> IdPairs:
    """Pair audio items with images by the configured method (``device``: the
    similarity passes on that torch device; the pairs do not depend on it)."""
    a_ids, A = _by_id(list(audio_ids), audio_vectors)
    i_ids, X = _by_id(list(image_ids), image_vectors)
    started = time.perf_counter()
    if config.method == "greedy":
        m = greedy_match(A, X, config.greedy, device)
    else:
        m = optimal_knn_match(A, X, OptimalKnnConfig(config.knn_k, config.greedy), device)
    rows, cols, sims = m.pairs()
    stats = dict(m.stats)
    stats["seconds"] = round(time.perf_counter() - started, 3)
    unpaired = [a_ids[k] for k in np.flatnonzero(m.image < 0)]
    return IdPairs(
        [a_ids[k] for k in rows.tolist()],
        [i_ids[k] for k in cols.tolist()],
        sims.astype(np.float64),
        np.arange(len(rows), dtype=np.int64),
        unpaired,
        stats,
    )


def similarity_range(values: np.ndarray) -> np.ndarray:
    """``low`` / ``medium`` / ``high`` per value (Figure 2's bins; 0.25 is
    low and 0.6 is high, as the paper's "≤ 0.25" and "≥ 0.6" say)."""
    v = np.asarray(values, dtype=np.float64)
    return np.where(v <= LOW_MAX, "low", np.where(v >= HIGH_MIN, "high", "medium"))


def similarity_stats(values: np.ndarray) -> dict:
    """Table 5's min / max / mean / standard deviation of the chosen pairs'
    similarities (population standard deviation, ddof = 0), plus the bottom
    decile (10th percentile, linear interpolation; and the mean of the lowest
    ceil(n/10) values) and Figure 2's range counts. Empty input: NaNs, zero counts."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    ranges = similarity_range(v)
    counts = {r: int((ranges == r).sum()) for r in RANGES}
    if len(v) == 0:
        nan = float("nan")
        return {"count": 0, "min": nan, "max": nan, "mean": nan, "std": nan, "p10": nan, "bottom_decile_mean": nan, **counts}
    lowest = np.sort(v)[: max(1, math.ceil(len(v) / 10))]
    return {
        "count": int(len(v)),
        "min": float(v.min()),
        "max": float(v.max()),
        "mean": float(v.mean()),
        "std": float(v.std()),
        "p10": float(np.percentile(v, 10)),
        "bottom_decile_mean": float(lowest.mean()),
        **counts,
    }
