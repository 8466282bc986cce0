"""Blocked cosine-similarity search with a certified float32 screen.

Similarity between two embeddings is the cosine of Eq. 3 of the ArtSound
paper; embeddings are stored L2-normalised, so it is a dot product. Two
precisions are used, on purpose:

* **Screening** runs float32 matrix products block by block (BLAS GEMM),
  never holding more than ``rows × col_block`` similarities. It finds, per
  query row, every column whose float32 similarity is within ``slack`` of the
  row's k-th best float32 similarity.
* **The similarity that counts** (stored, compared, tie-broken) is
  :func:`exact_similarities`: the float32 vectors' products, each exact in
  float64, summed in float64 by numpy's pairwise summation. It does not depend
  on how a product was blocked, so any two code paths (the fast greedy, a
  brute-force reference, a refill) agree on every value bit for bit.

The float32 screen can only err by :func:`similarity_error_bound` (the
classical bound ``γ_d = d·u / (1 − d·u)`` for a length-``d`` dot product in
any summation order, times the largest norms), so "k-th best minus twice the
bound" is a threshold that provably keeps every column that could beat a
kept one in exact arithmetic. See :func:`screen_topk`.
"""

from __future__ import annotations

import numpy as np

#: Columns per similarity block (float32): rows × 8192 × 4 bytes each.
DEFAULT_COL_BLOCK = 8192
#: Query rows per block of the initial pass.
DEFAULT_ROW_BLOCK = 2048
#: Width of the lane-maximum filter (see :func:`_survivors`).
LANES = 512
_RESCORE_CHUNK = 256


def as_matrix(x: np.ndarray, name: str = "embeddings") -> np.ndarray:
    """A C-contiguous float32 ``[n, d]`` matrix of finite values (or an error)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array [n, dim], got shape {x.shape}")
    if x.size and not np.isfinite(x).all():
        bad = int((~np.isfinite(x).all(axis=1)).sum())
        raise ValueError(f"{name}: {bad} row(s) contain NaN or infinity")
    return x


def _gamma(d: int, unit_roundoff: float) -> float:
    nu = d * unit_roundoff
    if nu >= 1:
        raise ValueError(f"dimension {d} too large for a certified float error bound")
    return nu / (1.0 - nu)


def similarity_error_bound(queries: np.ndarray, items: np.ndarray) -> float:
    """An upper bound on ``|float32 GEMM similarity − exact similarity|`` plus
    ``|exact_similarities − exact similarity|`` for any pair of rows.

    ``|fl(a·x) − a·x| ≤ γ_d Σ|a_i x_i| ≤ γ_d ‖a‖‖x‖`` holds for every order of
    summation (so for every BLAS kernel, with or without FMA); the float64
    rescoring adds the same with the float64 unit roundoff. A 1 % safety
    factor covers the norms' own rounding; the last term covers a device that
    flushes float32 underflow to zero (each of the ``2d`` operations then
    loses at most the smallest normal number)."""
    d = queries.shape[1]
    if len(queries) == 0 or len(items) == 0:
        return 0.0
    na = float(np.sqrt(np.einsum("ij,ij->i", queries, queries, dtype=np.float64).max()))
    nx = float(np.sqrt(np.einsum("ij,ij->i", items, items, dtype=np.float64).max()))
    return 1.01 * (_gamma(d, 2.0**-24) + _gamma(d, 2.0**-53)) * na * nx + 2 * d * 2.0**-126


def exact_similarities(queries: np.ndarray, items: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Similarity of the pairs ``(queries[rows[j]], items[cols[j]])`` in float64.

    Each product of two float32 numbers is exact in float64 and numpy sums a
    row with the same pairwise order whatever the batch, so the value of a pair
    is the same in every call."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    out = np.empty(len(rows), dtype=np.float64)
    for s in range(0, len(rows), _RESCORE_CHUNK):
        e = min(s + _RESCORE_CHUNK, len(rows))
        a = queries[rows[s:e]].astype(np.float64)
        a *= items[cols[s:e]]
        out[s:e] = a.sum(axis=1)
    return out


def exact_similarity(queries: np.ndarray, items: np.ndarray, row: int, col: int) -> float:
    """:func:`exact_similarities` of one pair, without the batch overhead (the
    same float64 products and the same pairwise sum, so the same value)."""
    v = queries[row].astype(np.float64)
    v *= items[col]
    return float(v.sum())


def exact_similarity_matrix(queries: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The full ``[n, m]`` matrix of :func:`exact_similarities` (small inputs:
    references and tests)."""
    n, m = len(queries), len(items)
    rows = np.repeat(np.arange(n), m)
    cols = np.tile(np.arange(m), n)
    return exact_similarities(queries, items, rows, cols).reshape(n, m)


def _survivors(S: np.ndarray, thr: np.ndarray, lanes: int = LANES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries of the block ``S`` with ``S[r, c] >= thr[r]`` as ``(rows, cols,
    values)``, in row order.

    Comparing every entry and collecting the hits costs several ns per entry
    (a bool matrix and a scan of it); instead the block is viewed as
    ``[rows, chunks, lanes]`` and reduced to its maximum over chunks per lane (a
    vertical, SIMD-friendly max, < 1 ns per entry). Only lanes whose maximum
    reaches the threshold are looked at in full, and late in a pass those are
    rare."""
    n, b = S.shape
    main = (b // lanes) * lanes if b >= lanes else 0
    out_r, out_c, out_v = [], [], []
    if main:
        chunks = main // lanes
        V = S[:, :main].reshape(n, chunks, lanes)
        L = V.max(axis=1)
        hr, hj = np.nonzero(L >= thr[:, None])
        if len(hr):
            vals = V[hr, :, hj]  # [hits, chunks]
            ii, kk = np.nonzero(vals >= thr[hr, None])
            out_r.append(hr[ii])
            out_c.append(kk * lanes + hj[ii])
            out_v.append(vals[ii, kk])
    if main < b:
        tail = S[:, main:]
        tr, tc = np.nonzero(tail >= thr[:, None])
        out_r.append(tr)
        out_c.append(tc + main)
        out_v.append(tail[tr, tc])
    if not out_r:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    r = np.concatenate(out_r).astype(np.int64, copy=False)
    c = np.concatenate(out_c).astype(np.int64, copy=False)
    v = np.concatenate(out_v)
    if len(out_r) > 1:  # each part is in row order already; only their union needs it
        order = np.argsort(r, kind="stable")
        r, c, v = r[order], c[order], v[order]
    return r, c, v


def _merge_top(top: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Keep the ``k`` largest of ``top[r]`` ∪ {values of row r} for every row
    (``rows`` sorted). ``top`` is ``[n, k]``, unsorted."""
    if len(rows) == 0:
        return top
    n, k = top.shape
    counts = np.bincount(rows, minlength=n)
    width = int(counts.max())
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(rows)) - starts[rows]
    pad = np.full((n, width), -np.inf, dtype=np.float32)
    pad[rows, pos] = values
    combined = np.concatenate([top, pad], axis=1)
    return np.partition(combined, width, axis=1)[:, width:]


def screen_topk(
    queries: np.ndarray,
    items: np.ndarray,
    k: int,
    slack: float,
    cols: np.ndarray | None = None,
    col_block: int = DEFAULT_COL_BLOCK,
    lanes: int = LANES,
    device_items=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every column within ``slack`` of each row's k-th best float32 similarity.

    Streams ``items`` (or the subset ``cols``, ascending) in blocks of
    ``col_block``: each block is one float32 GEMM; a running per-row
    threshold (k-th best so far minus ``slack``) filters it (see
    :func:`_survivors`), and the survivors update the running top-k.

    Returns ``(rows, columns, values, kth)``: the surviving pairs (columns are
    indices into ``items``) with their float32 similarities, sorted by row
    then column, and per row the k-th largest
    float32 similarity over all columns (``-inf`` when there are at most ``k``
    columns, in which case every column is returned). Guarantee: every column
    **not** returned for row ``r`` has float32 similarity ``< kth[r] − slack``.

    ``device_items``: ``items`` already on a torch device
    (:class:`~synesthesia.stages.device_similarity.DeviceItems`), which then
    does the work (same results up to the device's float32 rounding).
    """
    if device_items is not None:
        return device_items.screen_topk(queries, k, slack, cols, col_block)
    n = len(queries)
    m = len(items) if cols is None else len(cols)
    if k < 1:
        raise ValueError("k must be >= 1")
    if m <= k:
        rows = np.repeat(np.arange(n, dtype=np.int64), m)
        allc = np.arange(m, dtype=np.int64) if cols is None else np.asarray(cols, dtype=np.int64)
        block = items[allc] if m else items[:0]
        vals = (queries @ block.T).reshape(-1) if m else np.zeros(0, np.float32)
        return rows, np.tile(allc, n), vals, np.full(n, -np.inf)
    top = np.full((n, k), -np.inf, dtype=np.float32)
    thr = np.full(n, -np.inf, dtype=np.float32)
    found_r, found_c, found_v = [], [], []
    slack32 = np.float32(slack)
    for start in range(0, m, col_block):
        stop = min(start + col_block, m)
        block = items[start:stop] if cols is None else items[cols[start:stop]]
        S = queries @ block.T
        if start == 0:
            # Initial threshold: a lower bound of the block's k-th best. The
            # lane maxima are distinct entries of S, so their k-th largest is
            # <= the k-th largest of S; with a narrow block use S itself.
            b = stop - start
            probe = S[:, : (b // lanes) * lanes].reshape(n, -1, lanes).max(axis=1) if b >= lanes and lanes >= k else S
            t0 = np.partition(probe, probe.shape[1] - k, axis=1)[:, probe.shape[1] - k]
            thr = t0 - slack32
        r, c, v = _survivors(S, thr, lanes)
        del S
        found_r.append(r)
        found_c.append(c + start)
        found_v.append(v)
        top = _merge_top(top, r, v)
        thr = np.maximum(thr, top.min(axis=1) - slack32)
    kth = top.min(axis=1)
    r = np.concatenate(found_r)
    c = np.concatenate(found_c)
    v = np.concatenate(found_v)
    keep = v >= (kth - slack32)[r]
    r, c, v = r[keep], c[keep], v[keep]
    order = np.lexsort((c, r))
    r, c, v = r[order], c[order], v[order]
    if cols is not None:
        c = np.asarray(cols, dtype=np.int64)[c]
    return r, c, v, kth.astype(np.float64)


def candidate_lists(
    queries: np.ndarray,
    items: np.ndarray,
    k: int,
    cols: np.ndarray | None = None,
    col_block: int = DEFAULT_COL_BLOCK,
    err: float | None = None,
    device_items=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate lists per row with a certified bound on everything else.

    Returns ``(indptr, columns, sims32, bound)``: row ``r``'s candidates are
    ``columns[indptr[r]:indptr[r+1]]`` with their float32 similarities
    ``sims32``, sorted by float32 similarity descending then column. With
    ``err`` the error bound (:func:`similarity_error_bound`), two guarantees
    hold in exact similarity (:func:`exact_similarities`):

    * every column not listed for row ``r`` is ``< bound[r]``;
    * at least ``min(k, #columns)`` listed ones are ``>= bound[r]``
      (``bound = -inf``: the list holds every column).

    A listed column's exact similarity is within ``err`` of its float32 one,
    so the exact order inside a list only needs rescoring among entries
    within ``2·err`` of each other (what the greedy does, lazily).
    ``device_items``: screen on a torch device (see :func:`screen_topk`).
    """
    if err is None:
        err = similarity_error_bound(queries, items)
    rows, cand, s32, kth = screen_topk(queries, items, k, 2 * err, cols, col_block, device_items=device_items)
    s32 = s32.astype(np.float64)
    order = np.lexsort((cand, -s32, rows))
    rows, cand, s32 = rows[order], cand[order], s32[order]
    indptr = np.zeros(len(queries) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(queries)), out=indptr[1:])
    # Non-listed columns: float32 sim < kth − 2·err, so exact sim < kth − err.
    bound = kth - err
    return indptr, cand, s32, bound


def blocked_similarity_pass(queries: np.ndarray, items: np.ndarray, row_block: int = DEFAULT_ROW_BLOCK, col_block: int = DEFAULT_COL_BLOCK) -> float:
    """One plain pass over every similarity, block by block (matrix products
    only; the benchmark's yardstick). Returns a checksum so the work cannot be
    skipped."""
    total = 0.0
    for r0 in range(0, len(queries), row_block):
        q = queries[r0 : r0 + row_block]
        for c0 in range(0, len(items), col_block):
            S = q @ items[c0 : c0 + col_block].T
            total += float(S[0, 0])
    return total
