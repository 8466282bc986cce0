"""Pairing stages.

MPD random pairing
------------------
The MPD paper pairs paintings and clips at random (50,000 pairs). We draw
``n`` distinct (painting, clip) pairs so that every painting is used
``floor(n/P)`` or ``ceil(n/P)`` times and every clip ``floor(n/C)`` or
``ceil(n/C)`` times (max − min usage ≤ 1), seeded.

How: a balanced multiset of rows and one of columns are shuffled and zipped;
the few duplicate cells this creates are repaired by swapping column entries
with random other pairs (a swap keeps both multisets, so balance is kept).
When more than half the grid is wanted we draw the complement instead, so
the repair always works in a grid at most half full.

Category pairing (Museart)
--------------------------
:func:`pair_within_cells` gives every query item (an audio clip) one
partner (an image) from the same cell (category × split), partners used as
evenly as possible within the cell, seeded per cell so one cell's draw does
not depend on any other.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa

from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import DEFAULT_FRACTIONS, SPLITS, rng_for
from synesthesia.stages.splits import allocate

#: MPD paper: "In total, we collect annotations for 50,000 music–painting pairs".
MPD_DEFAULT_PAIRS = 50_000


def balanced_sequence(n_items: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws from ``range(n_items)`` in random order, each item drawn
    ``floor(n / n_items)`` or ``ceil(n / n_items)`` times."""
    base = np.repeat(np.arange(n_items), n // n_items)
    extra = rng.choice(n_items, n % n_items, replace=False)
    seq = np.concatenate([base, extra])
    rng.shuffle(seq)
    return seq


def balanced_random_pairs(n_rows: int, n_cols: int, n: int, rng: np.random.Generator, max_tries: int = 10_000) -> np.ndarray:
    """``n`` distinct cells of an ``n_rows × n_cols`` grid with balanced row and
    column usage, as an ``[n, 2]`` array of (row, col)."""
    total = n_rows * n_cols
    if n < 0 or n > total:
        raise ValueError(f"cannot draw {n} distinct pairs from {n_rows} x {n_cols}")
    if n == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if 2 * n > total:
        comp = balanced_random_pairs(n_rows, n_cols, total - n, rng, max_tries)
        mask = np.ones(total, dtype=bool)
        mask[comp[:, 0] * n_cols + comp[:, 1]] = False
        cells = rng.permutation(np.flatnonzero(mask))
        return np.stack([cells // n_cols, cells % n_cols], axis=1)
    rows = balanced_sequence(n_rows, n, rng)
    cols = balanced_sequence(n_cols, n, rng)
    codes = rows * n_cols + cols
    counts = Counter(codes.tolist())
    order = np.argsort(codes, kind="stable")
    dupes = order[np.r_[False, codes[order][1:] == codes[order][:-1]]]
    for i in dupes.tolist():
        for _ in range(max_tries):
            j = int(rng.integers(n))
            a = int(rows[i] * n_cols + cols[j])
            b = int(rows[j] * n_cols + cols[i])
            if a != b and counts.get(a, 0) == 0 and counts.get(b, 0) == 0:
                counts[int(codes[i])] -= 1
                counts[int(codes[j])] -= 1
                counts[a] = counts[b] = 1
                cols[i], cols[j] = cols[j], cols[i]
                codes[i], codes[j] = a, b
                break
        else:  # pragma: no cover - needs a pathological grid
            raise RuntimeError("could not repair a duplicate pair; grid too dense")
    return np.stack([rows, cols], axis=1)


def pair_id(painting_id: str, clip_id: str) -> str:
    return "pair-" + hashlib.sha1(f"{painting_id}|{clip_id}".encode()).hexdigest()[:16]


def _pairs_table(paintings: Sequence[str], clips: Sequence[str], cells: np.ndarray, splits: Sequence[str | None]) -> pa.Table:
    rows = [
        {"pair_id": pair_id(paintings[r], clips[c]), "painting_id": paintings[r], "clip_id": clips[c], "split": s}
        for (r, c), s in zip(cells.tolist(), splits)
    ]
    table = S.from_rows(rows, S.MPD_PAIRS)
    return table.sort_by([("split", "ascending"), ("painting_id", "ascending"), ("clip_id", "ascending")])


def draw_mpd_pairs(
    paintings: pa.Table,
    clips: pa.Table,
    n_pairs: int = MPD_DEFAULT_PAIRS,
    seed: int = 0,
    split_mode: str = "items",
    fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
) -> tuple[pa.Table, dict]:
    """Random balanced pairs for MPD.

    ``split_mode="items"`` (default): paintings and clips already carry a
    split; ``n_pairs`` is divided among splits in proportion to ``fractions``
    and pairs are drawn within each split, so no painting or clip appears in
    two splits. ``split_mode="pairs"``: one balanced draw over everything,
    then each pair gets a split at random (the paper's unspecified setup; a
    painting may then appear in several splits).

    Returns the pairs table and a summary (requested / possible / drawn per split).
    """
    p_ids = paintings.column("painting_id").to_pylist()
    c_ids = clips.column("clip_id").to_pylist()
    summary: dict = {"requested": n_pairs, "mode": split_mode, "splits": {}}
    if split_mode == "pairs":
        possible = len(p_ids) * len(c_ids)
        n = min(n_pairs, possible)
        rng = rng_for(seed, "mpd-pairs", "all")
        p_sorted, c_sorted = sorted(p_ids), sorted(c_ids)
        cells = balanced_random_pairs(len(p_sorted), len(c_sorted), n, rng)
        counts = allocate(n, fractions)
        labels = np.array([s for s, k in counts.items() for _ in range(k)], dtype=object)
        labels = labels[rng_for(seed, "mpd-pair-splits").permutation(n)]
        summary["splits"] = {s: {"possible": possible, "drawn": counts[s]} for s in counts}
        summary["drawn"] = n
        return _pairs_table(p_sorted, c_sorted, cells, labels.tolist()), summary
    if split_mode != "items":
        raise ValueError(f"unknown split mode {split_mode!r} (use 'items' or 'pairs')")
    p_split = paintings.column("split").to_pylist()
    c_split = clips.column("split").to_pylist()
    targets = allocate(n_pairs, fractions)
    tables = []
    for split in [s for s in SPLITS if s in targets] + [s for s in targets if s not in SPLITS]:
        ps = sorted(p for p, s in zip(p_ids, p_split) if s == split)
        cs = sorted(c for c, s in zip(c_ids, c_split) if s == split)
        possible = len(ps) * len(cs)
        n = min(targets[split], possible)
        cells = balanced_random_pairs(len(ps), len(cs), n, rng_for(seed, "mpd-pairs", split))
        tables.append(_pairs_table(ps, cs, cells, [split] * n))
        summary["splits"][split] = {"target": targets[split], "possible": possible, "drawn": n, "paintings": len(ps), "clips": len(cs)}
    table = pa.concat_tables(tables) if tables else S.empty(S.MPD_PAIRS)
    summary["drawn"] = table.num_rows
    return table, summary


def pair_within_cells(
    query_ids: Sequence[str],
    query_cells: Sequence[object],
    partner_ids: Sequence[str],
    partner_cells: Sequence[object],
    seed: int = 0,
    name: str = "cell-pairs",
) -> tuple[list[str | None], dict]:
    """One partner per query item, drawn from the partners of the same cell.

    Within a cell of ``q`` queries and ``p`` partners every partner is used
    ``floor(q/p)`` or ``ceil(q/p)`` times (:func:`balanced_sequence`); the
    queries, sorted by id, receive a seeded random such sequence. The draw of
    a cell depends only on ``seed``, ``name``, the cell and the ids in it, so
    it never changes unless one of those does. A query whose cell has no
    partner gets ``None``.

    Returns the partner id per query (same order as ``query_ids``) and the
    usage per cell: ``{cell: {"queries", "partners", "min_use", "max_use"}}``.
    """
    partners: dict[object, list[str]] = {}
    for pid, cell in zip(partner_ids, partner_cells):
        partners.setdefault(cell, []).append(pid)
    queries: dict[object, list[int]] = {}
    for i, cell in enumerate(query_cells):
        queries.setdefault(cell, []).append(i)
    out: list[str | None] = [None] * len(query_ids)
    usage: dict = {}
    for cell in sorted(queries, key=repr):
        members = sorted(queries[cell], key=lambda i: query_ids[i])
        pool = sorted(partners.get(cell, []))
        if not pool:
            usage[cell] = {"queries": len(members), "partners": 0, "min_use": 0, "max_use": 0}
            continue
        draw = balanced_sequence(len(pool), len(members), rng_for(seed, name, repr(cell)))
        for i, k in zip(members, draw.tolist()):
            out[i] = pool[k]
        use = np.bincount(draw, minlength=len(pool))
        usage[cell] = {"queries": len(members), "partners": len(pool), "min_use": int(use.min()), "max_use": int(use.max())}
    return out, usage
