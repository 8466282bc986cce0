"""Ratings → one score per pair (trimmed mean) and the dispersion figures.

MPD paper, Data Annotation: "we discard the highest and lowest scores and
compute the average of the remaining three". Generalised (the paper only has
5 ratings per pair):

* a pair with ``n >= 2 * trim + 1`` ratings (default trim 1 → n >= 3) gets
  the mean of its ratings after dropping the ``trim`` highest and ``trim``
  lowest: 5 ratings → mean of the middle 3; 4 → mean of the middle 2; 3 →
  the median; 6 or more → mean of all but the extremes;
* a pair with fewer (0 are not seen; 1 or 2) is **not scored**: it goes to
  ``unscored.parquet`` with its count, and waits for more ratings.

Annotation Analysis: "the standard deviation σ of the five raw scores". The
paper does not say population or sample σ; we use the **population** σ
(``ddof=0``, numpy's default; ``AggregationConfig.ddof`` changes it), over
all raw ratings of the pair (before trimming). The paper's figures: mean σ
0.078, 84.8 % of pairs below 0.09, 99.0 % below 0.11.

The ambiguity band is inclusive, with a 1e-9 tolerance so that trimmed means
of slider values (steps of 0.01) are not lost to rounding (0.6000000000000001).

Everything is vectorised: one sort of the ratings and a few reductions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import schema as S

#: MPD paper: "the ambiguous region where the mean consistency scores fall within [0.4, 0.6]".
AMBIGUITY_BAND = (0.4, 0.6)
#: MPD paper's dispersion thresholds (84.8 % of pairs have σ < 0.09, 99.0 % σ < 0.11).
SIGMA_THRESHOLDS = (0.09, 0.11)
BAND_TOLERANCE = 1e-9
#: MPD paper's reported dispersion of its own ratings (reference column of report.md):
#: mean σ 0.078; share of pairs below each SIGMA_THRESHOLDS value.
PAPER_MEAN_SIGMA = 0.078
PAPER_SHARE_BELOW = {0.09: 0.848, 0.11: 0.990}


@dataclass(frozen=True)
class AggregationConfig:
    trim: int = 1  # ratings dropped at each end ("discard the highest and lowest")
    ddof: int = 0  # 0: population σ; 1: sample σ
    band: tuple[float, float] = AMBIGUITY_BAND
    sigma_thresholds: tuple[float, ...] = SIGMA_THRESHOLDS

    def __post_init__(self):
        if self.trim < 0:
            raise ValueError("trim must be >= 0")
        if self.ddof not in (0, 1):
            raise ValueError("ddof must be 0 (population) or 1 (sample)")
        lo, hi = self.band
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"ambiguity band must satisfy 0 <= lo <= hi <= 1, got {self.band}")

    @property
    def min_ratings(self) -> int:
        return 2 * self.trim + 1


def factorize(column: pa.ChunkedArray | pa.Array, sort: bool = False) -> tuple[np.ndarray, pa.Array]:
    """Integer codes of a string column and the distinct values (in sorted
    order when ``sort``), in Arrow: no Python string objects."""
    enc = pc.dictionary_encode(column)
    enc = enc.combine_chunks() if isinstance(enc, pa.ChunkedArray) else enc
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    names = enc.dictionary
    if sort:
        order = pc.sort_indices(names).to_numpy()
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        codes, names = rank[codes], names.take(pa.array(order))
    return codes, names


def in_band(scores: np.ndarray, band: tuple[float, float] = AMBIGUITY_BAND) -> np.ndarray:
    lo, hi = band
    return (scores >= lo - BAND_TOLERANCE) & (scores <= hi + BAND_TOLERANCE)


def aggregate_scores(ratings: pa.Table, config: AggregationConfig = AggregationConfig()) -> tuple[pa.Table, pa.Table]:
    """``(scores, unscored)``: ``scores`` follows ``schema.MPD_SCORES`` (one row
    per pair with enough ratings, sorted by pair_id); ``unscored`` follows
    ``schema.MPD_UNSCORED``. Ratings must be one per (pair, rater) — the
    importer guarantees it."""
    pair_codes, pair_names = factorize(ratings.column("pair_id"), sort=True)
    values = ratings.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
    if np.isnan(values).any():
        raise ValueError("ratings contain missing scores; the importer should have rejected them")
    order = np.lexsort((values, pair_codes))
    codes, x = pair_codes[order], values[order]
    n_pairs = len(pair_names)
    counts = np.bincount(codes, minlength=n_pairs)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(x)) - starts[codes]  # position within the pair, ascending by score
    keep = (rank >= config.trim) & (rank < counts[codes] - config.trim)
    kept_sum = np.bincount(codes, weights=np.where(keep, x, 0.0), minlength=n_pairs)
    kept_n = counts - 2 * config.trim
    total = np.bincount(codes, weights=x, minlength=n_pairs)
    mean = total / np.maximum(counts, 1)
    dev2 = np.bincount(codes, weights=(x - mean[codes]) ** 2, minlength=n_pairs)
    scored = counts >= config.min_ratings
    with np.errstate(invalid="ignore", divide="ignore"):
        score = kept_sum / kept_n
        sigma = np.sqrt(dev2 / np.maximum(counts - config.ddof, 1))
    nonempty = counts > 0
    first = starts[nonempty]
    last = starts[nonempty] + counts[nonempty] - 1
    lo = np.full(n_pairs, np.nan)
    hi = np.full(n_pairs, np.nan)
    lo[nonempty], hi[nonempty] = x[first], x[last]
    names = pair_names.cast(pa.string())
    scores = pa.table(
        {
            "pair_id": names.filter(pa.array(scored)),
            "score": pa.array(score[scored], pa.float64()),
            "n_ratings": pa.array(counts[scored].astype(np.int32), pa.int32()),
            "sigma": pa.array(sigma[scored], pa.float64()),
            "min": pa.array(lo[scored], pa.float64()),
            "max": pa.array(hi[scored], pa.float64()),
            "ambiguous": pa.array(in_band(score[scored], config.band), pa.bool_()),
        },
        schema=S.MPD_SCORES,
    )
    short = ~scored
    unscored = pa.table(
        {
            "pair_id": names.filter(pa.array(short)),
            "n_ratings": pa.array(counts[short].astype(np.int32), pa.int32()),
            "reason": pa.array([f"fewer than {config.min_ratings} ratings"] * int(short.sum()), pa.string()),
        },
        schema=S.MPD_UNSCORED,
    )
    return scores, unscored


def dispersion(scores: pa.Table, thresholds: tuple[float, ...] = SIGMA_THRESHOLDS) -> dict:
    """Mean σ and the share of scored pairs whose σ is below each threshold."""
    sigma = scores.column("sigma").to_numpy(zero_copy_only=False)
    out: dict = {"pairs": int(sigma.size), "mean_sigma": float(sigma.mean()) if sigma.size else float("nan")}
    out["share_below"] = {float(t): (float((sigma < t).mean()) if sigma.size else float("nan")) for t in thresholds}
    return out


def rating_counts(pair_ids: pa.Array | pa.ChunkedArray, ratings: pa.Table) -> dict[int, int]:
    """How many of ``pair_ids`` have 0, 1, 2, ... ratings (for the report)."""
    import pandas as pd  # here, not at the top: the command line imports this module for its defaults

    have = pd.Series(ratings.column("pair_id").to_numpy(zero_copy_only=False)).value_counts()
    n = pd.Series(np.asarray(pair_ids.to_numpy(zero_copy_only=False) if hasattr(pair_ids, "to_numpy") else pair_ids, dtype=object))
    per_pair = n.map(have).fillna(0).astype(int)
    return {int(k): int(v) for k, v in per_pair.value_counts().sort_index().items()}
