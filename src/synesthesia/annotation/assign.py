"""Rater assignment: which k of R raters are asked to label each item.

MPD paper: "Each music–painting pair is independently annotated by five
annotators" out of 35 experts; each preference task "by at least three".

The rater sequence is a chain of random permutations of the pool, cut into
consecutive chunks of k. Every full permutation gives each rater one item, so
the load per rater differs by at most one over any prefix. A chunk that
straddles two permutations could repeat a rater; the next permutation is
drawn so that its head avoids the raters at the previous one's tail, which
keeps the k raters of every item distinct. Seeded; O(items · k).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa

from synesthesia.datasets.keys import rng_for

#: MPD paper: 35 domain experts, 5 ratings per pair, >= 3 votes per preference task.
MPD_RATER_POOL = 35
MPD_RATERS_PER_PAIR = 5
MPD_RATERS_PER_PREFERENCE_TASK = 3


def rater_ids(n_raters: int) -> list[str]:
    """The planning ids of a pool of ``n_raters`` (``rater-01`` ...)."""
    width = max(2, len(str(n_raters)))
    return [f"rater-{i + 1:0{width}d}" for i in range(n_raters)]


def rater_sequence(n_items: int, k: int, n_raters: int, rng: np.random.Generator) -> np.ndarray:
    """An ``[n_items, k]`` array of rater indices: distinct within a row,
    balanced over rows (per-rater counts differ by at most one)."""
    if not 1 <= k <= n_raters:
        raise ValueError(f"need 1 <= k <= n_raters, got k={k}, n_raters={n_raters}")
    total = n_items * k
    n_perms = -(-total // n_raters) if total else 0
    seq = np.empty(n_perms * n_raters, dtype=np.int32)
    tail: np.ndarray = np.empty(0, dtype=np.int32)
    for p in range(n_perms):
        perm = rng.permutation(n_raters).astype(np.int32)
        start = p * n_raters
        head = (k - start % k) % k  # positions of this perm that complete the chunk begun in the last
        if head and tail.size:
            clash = np.isin(perm[:head], tail)
            if clash.any():
                # Move the clashing raters behind the head; raters not in
                # the tail take their places (there are >= k - len(tail) of them).
                ok_rest = np.flatnonzero(~np.isin(perm[head:], tail)) + head
                bad = np.flatnonzero(clash)
                swap = ok_rest[: bad.size]
                perm[bad], perm[swap] = perm[swap], perm[bad].copy()
        seq[start : start + n_raters] = perm
        # The part of this perm that begins the straddling chunk of the next one.
        used = (start + n_raters) % k
        tail = perm[n_raters - used :] if used else np.empty(0, dtype=np.int32)
    return seq[:total].reshape(n_items, k)


def assign_raters(
    item_ids: Sequence[str],
    k: int = MPD_RATERS_PER_PAIR,
    n_raters: int = MPD_RATER_POOL,
    seed: int = 0,
    id_column: str = "pair_id",
    name: str = "ratings",
) -> pa.Table:
    """``k`` distinct raters per item from a pool of ``n_raters``, balanced
    load, seeded by (seed, name). Items are processed in sorted id order, so
    the result does not depend on the input order."""
    items = sorted(item_ids)
    raters = np.array(rater_ids(n_raters), dtype=object)
    grid = rater_sequence(len(items), k, n_raters, rng_for(seed, "assign-raters", name))
    return pa.table(
        {
            id_column: pa.array(np.repeat(np.array(items, dtype=object), k), pa.string()),
            "rater_id": pa.array(raters[grid.reshape(-1)], pa.string()),
            "slot": pa.array(np.tile(np.arange(k, dtype=np.int32), len(items)), pa.int32()),
        }
    )
