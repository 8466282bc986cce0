"""Krippendorff's α (interval metric) over a rater × pair matrix with missing
cells, a pair-bootstrap interval, and per-rater figures.

With the interval metric δ²(a, b) = (a − b)², Krippendorff's coincidence-matrix
definition reduces to sums per unit (pair). For unit u with m_u ≥ 2 values
(units with one value are not pairable and drop out), sum s_u and sum of
squares q_u, and over all pairable values n, S, Q:

    D_o = (1/n) Σ_u  Σ_{i≠j∈u} (x_i − x_j)² / (m_u − 1) = (2/n) Σ_u (m_u q_u − s_u²) / (m_u − 1)
    D_e = Σ_{i≠j} (x_i − x_j)² / (n (n − 1))             = 2 (n Q − S²) / (n (n − 1))
    α   = 1 − D_o / D_e = 1 − (n − 1) W / (n Q − S²),   W = Σ_u (m_u q_u − s_u²) / (m_u − 1)

so α needs four numbers per unit: O(ratings) time and memory, no
values × values matrix (the ``krippendorff`` package allocates
units × distinct-values², which continuous scores make impossible at MPD's
size). The MPD paper's formula (2) weights each unit's pairs by 1/C(n_u, 2)
in total instead of 1/(m_u − 1) per unit; the two agree when every pair has
the same number of ratings (the paper's case: 5). We use Krippendorff's
standard weighting, which is what the reference implementations compute.

Values are centred on their global mean before the sums (α is shift-
invariant) to keep the subtractions well-conditioned.

Beyond the paper:

* **bootstrap interval**: pairs (units) are resampled with replacement,
  ``n_boot`` times (default 1000), and α is recomputed from the resampled
  unit sums; the 2.5 and 97.5 percentiles give the 95 % interval. (This is a
  cluster bootstrap over pairs, not Krippendorff's own bootstrap over
  pairable values.)
* **per rater**: the leave-one-out consensus of a rating is the mean of the
  *other* ratings of the same pair; ``bias`` is the rater's mean of
  (rating − consensus), ``corr`` the Pearson correlation of the rater's
  ratings with their consensus, and ``alpha_without`` α recomputed with all
  of the rater's ratings removed — all from the same unit sums, O(ratings).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from synesthesia.annotation.aggregate import factorize
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import rng_for

DEFAULT_BOOTSTRAP = 1000
#: MPD paper: "the computed alpha score is 0.86" (reference column of report.md).
PAPER_ALPHA = 0.86
CONFIDENCE = 0.95
#: The per-rater agreement columns of schema.MPD_RATER_STATS (annotation.quality adds the rest).
RATER_AGREEMENT = pa.schema(
    [S.MPD_RATER_STATS.field(n) for n in ("rater_id", "n_ratings", "mean_score", "bias", "corr", "alpha_without", "alpha_delta")]
)


def _unit_sums(unit_codes: np.ndarray, x: np.ndarray, n_units: int) -> np.ndarray:
    """``[n_units, 3]``: count, sum and sum of squares of each unit."""
    m = np.bincount(unit_codes, minlength=n_units).astype(np.float64)
    s = np.bincount(unit_codes, weights=x, minlength=n_units)
    q = np.bincount(unit_codes, weights=x * x, minlength=n_units)
    return np.stack([m, s, q], axis=1)


def _contributions(m: np.ndarray, s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``[..., 4]``: what a unit adds to (n, S, Q, W); zero for units with < 2 values."""
    pairable = m >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(pairable, (m * q - s * s) / np.where(pairable, m - 1, 1), 0.0)
    z = np.zeros_like(m)
    return np.stack([np.where(pairable, m, z), np.where(pairable, s, z), np.where(pairable, q, z), w], axis=-1)


def _alpha_from_totals(totals: np.ndarray) -> np.ndarray:
    """α from (n, S, Q, W) totals (last axis); NaN where undefined (fewer than
    two pairable values, or no variation at all)."""
    n, s, q, w = np.moveaxis(np.asarray(totals, dtype=np.float64), -1, 0)
    spread = n * q - s * s
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1.0 - (n - 1.0) * w / spread
    return np.where((n >= 2) & (spread > 1e-12 * np.maximum(n * q, 1e-300)), alpha, np.nan)


def _codes(labels) -> np.ndarray:
    """Integer codes of unit labels: an Arrow column, integers, or any labels."""
    if isinstance(labels, (pa.Array, pa.ChunkedArray)):
        return factorize(labels)[0]
    labels = np.asarray(labels)
    if labels.dtype.kind in "iu":
        return np.unique(labels, return_inverse=True)[1].reshape(-1)
    return pd.factorize(labels.astype(object), sort=False)[0]


def krippendorff_alpha_interval(units, values) -> float:
    """α (interval) from one entry per rating: the unit (pair) each value
    belongs to (an Arrow string column, integers or any labels) and the
    value. Missing cells are simply absent; NaN values are ignored. Each
    rater must contribute at most one value per unit."""
    values = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(values)
    codes = _codes(units)[ok]
    x = values[ok]
    if x.size == 0:
        return float("nan")
    x = x - x.mean()
    sums = _unit_sums(codes, x, int(codes.max()) + 1)
    return float(_alpha_from_totals(_contributions(*sums.T).sum(axis=0)))


def alpha_from_matrix(reliability_data) -> float:
    """α (interval) of a raters × units matrix with NaN for missing cells
    (the layout of Krippendorff's papers and of the ``krippendorff`` package)."""
    data = np.asarray(reliability_data, dtype=np.float64)
    units = np.broadcast_to(np.arange(data.shape[1]), data.shape)
    return krippendorff_alpha_interval(units.reshape(-1), data.reshape(-1))


@dataclass
class Agreement:
    alpha: float
    ci_low: float
    ci_high: float
    n_boot: int
    n_units: int  # pairable units (pairs with >= 2 ratings)
    n_values: int  # pairable values
    raters: pa.Table = field(repr=False)  # RATER_AGREEMENT

    def summary(self) -> dict:
        return {
            "alpha": self.alpha,
            "ci95": [self.ci_low, self.ci_high],
            "n_boot": self.n_boot,
            "pairs": self.n_units,
            "ratings": self.n_values,
        }


def bootstrap_alpha(unit_contrib: np.ndarray, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0, chunk: int = 64) -> np.ndarray:
    """α of ``n_boot`` resamples (with replacement) of the pairable units,
    given each unit's (n, S, Q, W) contribution."""
    units = unit_contrib[unit_contrib[:, 0] >= 2]
    if units.shape[0] < 2 or n_boot <= 0:
        return np.full(max(n_boot, 0), np.nan)
    rng = rng_for(seed, "alpha-bootstrap")
    n_units = units.shape[0]
    out = np.empty(n_boot)
    counts = np.empty((chunk, n_units))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(n_units, size=(b, n_units), dtype=np.int32)
        for row in range(b):  # how often each unit was drawn in replicate `row`
            counts[row] = np.bincount(idx[row], minlength=n_units)
        out[start : start + b] = _alpha_from_totals(counts[:b] @ units)
    return out


def agreement(ratings: pa.Table, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> Agreement:
    """α, its bootstrap interval and the per-rater table of a ratings table
    (``pair_id, rater_id, score``; one rating per pair and rater)."""
    pairs, _ = factorize(ratings.column("pair_id"))
    rater_codes, rater_names = factorize(ratings.column("rater_id"), sort=True)
    raw = ratings.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
    if raw.size == 0:
        return Agreement(float("nan"), float("nan"), float("nan"), 0, 0, 0, S.empty(RATER_AGREEMENT))
    center = raw.mean()
    x = raw - center
    n_units = int(pairs.max()) + 1
    sums = _unit_sums(pairs, x, n_units)
    contrib = _contributions(*sums.T)
    totals = contrib.sum(axis=0)
    alpha = float(_alpha_from_totals(totals))
    boot = bootstrap_alpha(contrib, n_boot, seed)
    finite = boot[np.isfinite(boot)]
    tail = (1 - CONFIDENCE) / 2 * 100
    lo, hi = (np.percentile(finite, [tail, 100 - tail]) if finite.size else (np.nan, np.nan))

    # Per rating: its unit with and without it.
    m, s, q = sums[pairs, 0], sums[pairs, 1], sums[pairs, 2]
    m1, s1, q1 = m - 1, s - x, q - x * x
    delta = _contributions(m1, s1, q1) - _contributions(m, s, q)
    n_raters = len(rater_names)
    rater_totals = totals + np.stack([np.bincount(rater_codes, weights=delta[:, j], minlength=n_raters) for j in range(4)], axis=1)
    alpha_without = _alpha_from_totals(rater_totals)

    has_others = m1 >= 1
    loo = np.where(has_others, s1 / np.where(has_others, m1, 1), 0.0)
    w = has_others.astype(np.float64)

    def per_rater(v: np.ndarray) -> np.ndarray:
        return np.bincount(rater_codes, weights=v * w, minlength=n_raters)

    k = per_rater(np.ones_like(x))
    n_ratings = np.bincount(rater_codes, minlength=n_raters)
    with np.errstate(invalid="ignore", divide="ignore"):
        bias = per_rater(x - loo) / k
        mx, my = per_rater(x) / k, per_rater(loo) / k
        cov = per_rater(x * loo) / k - mx * my
        vx = per_rater(x * x) / k - mx * mx
        vy = per_rater(loo * loo) / k - my * my
        corr = np.where((vx > 1e-15) & (vy > 1e-15), cov / np.sqrt(vx * vy), np.nan)
        mean_score = np.bincount(rater_codes, weights=raw, minlength=n_raters) / n_ratings
    raters = pa.table(
        {
            "rater_id": rater_names.cast(pa.string()),
            "n_ratings": pa.array(n_ratings, pa.int64()),
            "mean_score": pa.array(mean_score, pa.float64()),
            "bias": pa.array(np.where(k > 0, bias, np.nan), pa.float64(), from_pandas=True),
            "corr": pa.array(corr, pa.float64(), from_pandas=True),
            "alpha_without": pa.array(alpha_without, pa.float64(), from_pandas=True),
            "alpha_delta": pa.array(alpha_without - alpha, pa.float64(), from_pandas=True),
        },
        schema=RATER_AGREEMENT,
    )
    return Agreement(
        alpha=alpha,
        ci_low=float(lo),
        ci_high=float(hi),
        n_boot=int(n_boot),
        n_units=int((contrib[:, 0] >= 2).sum()),
        n_values=int(totals[0]),
        raters=raters,
    )
