"""Beyond the paper: maximum total similarity on a k-NN candidate graph.

The paper notes that its greedy leaves the last audio items with poor
partners. This alternative keeps each audio's ``k`` most similar images as
candidate edges and solves the assignment that maximises the total
similarity over that graph (scipy's sparse Jonker–Volgenant solver,
``min_weight_full_bipartite_matching``). Audio items the graph cannot place
(all their candidates are better used elsewhere) then go through the exact
greedy over the images still free (:func:`~synesthesia.stages.greedy.greedy_match`).

Objective, precisely. A full matching of the audio side must exist for the
solver, so every audio also gets a private "unmatched" edge worth
:data:`UNMATCHED_SIMILARITY` (−2, below any cosine). The solver maximises
``Σ similarity over graph pairs + (−2) × #audio left to the fallback``: an
audio is placed inside the graph whenever that raises the total, which in
practice places nearly all of them. All weights are shifted by
:data:`_WEIGHT_OFFSET` so none is zero (the solver treats zeros as absent).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from synesthesia.stages import similarity as sim
from synesthesia.stages.greedy import GreedyConfig, Matching, greedy_match

#: Candidate images per audio in the graph.
DEFAULT_KNN = 10
#: What leaving an audio to the fallback is worth in the objective.
UNMATCHED_SIMILARITY = -2.0
_WEIGHT_OFFSET = 3.0


@dataclass(frozen=True)
class OptimalKnnConfig:
    k: int = DEFAULT_KNN
    #: Blocks of the k-NN search, refill settings and the minimum similarity
    #: of the greedy fallback (``min_similarity`` also drops graph edges below it).
    greedy: GreedyConfig = field(default_factory=GreedyConfig)

    def __post_init__(self):
        if self.k < 1:
            raise ValueError("k must be >= 1")


def knn_graph(audio: np.ndarray, images: np.ndarray, k: int, config: GreedyConfig = GreedyConfig(), device: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each audio's ``k`` most similar images (ties: lower image index) as
    edges ``(rows, cols, exact similarity)``. ``device``: screen on that torch
    device (same edges: the exact similarities decide, on the host)."""
    A = sim.as_matrix(audio, "audio embeddings")
    X = sim.as_matrix(images, "image embeddings")
    if len(A) == 0 or len(X) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    err = sim.similarity_error_bound(A, X)
    on_device = None
    if device is not None:
        from synesthesia.stages.device_similarity import DeviceItems

        on_device = DeviceItems(X, device)
    rows_out, cols_out, sims_out = [], [], []
    for r0 in range(0, len(A), config.row_block):
        r1 = min(r0 + config.row_block, len(A))
        indptr, cols, _s32, _bound = sim.candidate_lists(A[r0:r1], X, k, None, config.col_block, err, on_device)
        rows = np.repeat(np.arange(r0, r1), np.diff(indptr))
        exact = sim.exact_similarities(A, X, rows, cols)
        # Exact order inside each list, then the first k per row.
        order = np.lexsort((cols, -exact, rows))
        rows, cols, exact = rows[order], cols[order], exact[order]
        pos = np.arange(len(rows)) - np.repeat(indptr[:-1], np.diff(indptr))
        keep = pos < k
        rows_out.append(rows[keep])
        cols_out.append(cols[keep])
        sims_out.append(exact[keep])
    return np.concatenate(rows_out), np.concatenate(cols_out), np.concatenate(sims_out)


def max_weight_matching(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Maximise ``Σ sims`` over matchings of the edge list, each unmatched
    audio counting :data:`UNMATCHED_SIMILARITY`. Returns ``(image per audio
    (-1: unmatched), similarity per audio (NaN: unmatched))``; a matched
    audio's similarity is its edge's value in ``sims``, bit for bit."""
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    image = np.full(n, -1, np.int64)
    similarity = np.full(n, np.nan)
    if n == 0:
        return image, similarity
    r = np.concatenate([np.asarray(rows, np.int64), np.arange(n)])
    c = np.concatenate([np.asarray(cols, np.int64), m + np.arange(n)])
    s = np.concatenate([np.asarray(sims, np.float64), np.full(n, UNMATCHED_SIMILARITY)])
    # The solver sees shifted weights; (s + offset) - offset is not s in
    # floating point, so what is stored is looked up from ``s`` itself.
    graph = csr_array((s + _WEIGHT_OFFSET, (r, c)), shape=(n, m + n))
    row_ind, col_ind = min_weight_full_bipartite_matching(graph, maximize=True)
    real = col_ind < m
    image[row_ind[real]] = col_ind[real]
    # The chosen edges' exact similarities, by (row, col) key.
    keys = r * (m + n) + c
    order = np.argsort(keys)
    at = np.searchsorted(keys[order], row_ind[real] * (m + n) + col_ind[real])
    similarity[row_ind[real]] = s[order][at]
    return image, similarity


def objective(similarity: np.ndarray) -> float:
    """The solver's objective for a matching given as similarity per audio (NaN = unmatched)."""
    matched = ~np.isnan(similarity)
    return float(similarity[matched].sum() + UNMATCHED_SIMILARITY * (~matched).sum())


def optimal_knn_match(audio: np.ndarray, images: np.ndarray, config: OptimalKnnConfig = OptimalKnnConfig(), device: str | None = None) -> Matching:
    """Max-total-similarity assignment on the k-NN graph, then the exact
    greedy for the audio it leaves unmatched. Ranks: graph pairs by
    similarity (descending, ties by audio row), then the fallback's own order.
    ``device``: the graph's and the fallback's similarity passes on that torch device."""
    A = sim.as_matrix(audio, "audio embeddings")
    X = sim.as_matrix(images, "image embeddings")
    n, m = len(A), len(X)
    started = time.perf_counter()
    rows, cols, sims = knn_graph(A, X, config.k, config.greedy, device)
    min_sim = config.greedy.min_similarity
    if min_sim is not None:
        keep = sims >= min_sim
        rows, cols, sims = rows[keep], cols[keep], sims[keep]
    t_graph = time.perf_counter() - started
    image, similarity = max_weight_matching(rows, cols, sims, n, m)
    t_solve = time.perf_counter() - started - t_graph
    rank = np.full(n, -1, np.int64)
    placed = np.flatnonzero(image >= 0)
    placed = placed[np.lexsort((placed, -similarity[placed]))]
    rank[placed] = np.arange(len(placed))
    leftover = np.flatnonzero(image < 0)
    free = np.setdiff1d(np.arange(m), image[image >= 0])
    n_fallback = 0
    if len(leftover) and len(free):
        fb = greedy_match(A[leftover], X[free], config.greedy, device)
        ok = fb.image >= 0
        image[leftover[ok]] = free[fb.image[ok]]
        similarity[leftover[ok]] = fb.similarity[ok]
        rank[leftover[ok]] = len(placed) + fb.rank[ok]
        n_fallback = int(ok.sum())
    stats = {
        "audio": n,
        "images": m,
        "k": config.k,
        "graph_edges": int(len(rows)),
        "paired_in_graph": int(len(placed)),
        "paired_by_fallback": n_fallback,
        "paired": int((image >= 0).sum()),
        "graph_s": round(t_graph, 3),
        "solve_s": round(t_solve, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return Matching(image, similarity, rank, stats)
