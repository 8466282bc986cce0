"""Exact greedy pairing, the certified float32 screen, and the optimal k-NN assignment."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from synesthesia.stages import similarity as sim
from support.vectors import assert_same, tie_heavy, unit
from synesthesia.models.embedders import l2_normalize
from synesthesia.stages.greedy import GreedyConfig, greedy_match, greedy_on_edges, greedy_reference, literal_per_audio
from synesthesia.stages.matching import MatchConfig, match_ids
from synesthesia.stages.optimal_pairing import (
    UNMATCHED_SIMILARITY,
    OptimalKnnConfig,
    knn_graph,
    max_weight_matching,
    objective,
    optimal_knn_match,
)

#: Small blocks so even small instances cross block boundaries and need refills.
SMALL = GreedyConfig(candidates=3, row_block=64, col_block=128, refill_batch=8, refill_min=4)


def assert_one_to_one(m, n_images):
    used = m.image[m.image >= 0]
    assert len(np.unique(used)) == len(used), "an image was used twice"
    assert used.min(initial=0) >= 0 and used.max(initial=0) < n_images


@pytest.mark.parametrize(
    "n,m,d,config",
    [
        (40, 50, 8, SMALL),
        (300, 260, 16, SMALL),  # more audio than images: some stay unpaired
        (2000, 2300, 32, GreedyConfig()),  # default blocks (lane filter + tail)
        (1200, 1300, 24, GreedyConfig(candidates=2, col_block=700, refill_batch=4, refill_min=0)),
    ],
)
def test_greedy_equals_brute_force_on_random_instances(n, m, d, config):
    rng = np.random.default_rng(n + m)
    A, X = unit(rng, n, d), unit(rng, m, d)
    fast, ref = greedy_match(A, X, config), greedy_reference(A, X)
    assert_same(fast, ref)
    assert_one_to_one(fast, m)
    assert (fast.image >= 0).sum() == min(n, m)


@pytest.mark.parametrize("n,m", [(60, 70), (500, 450), (1500, 1600)])
def test_greedy_equals_brute_force_on_tie_heavy_instances(n, m):
    rng = np.random.default_rng(n)
    A, X = tie_heavy(rng, n), tie_heavy(rng, m)
    S = sim.exact_similarity_matrix(A, X)
    assert len(np.unique(S)) <= 9  # massively tied
    fast, ref = greedy_match(A, X, SMALL), greedy_reference(A, X)
    assert_same(fast, ref)
    assert_one_to_one(fast, m)
    # ties really were broken by id: among the first picks (all at the top
    # similarity), audio rows come in increasing order
    a, _, s = fast.pairs()
    top = a[s == s[0]]
    assert len(top) > 1 and np.all(np.diff(top) > 0)


def test_greedy_is_each_audio_taking_its_best_available_image_in_similarity_order():
    """Eq. 4 with the audio order the global greedy induces: replaying the
    chosen order, each audio's image is the argmax over the images still free."""
    rng = np.random.default_rng(5)
    A, X = unit(rng, 80, 12), unit(rng, 90, 12)
    m = greedy_match(A, X, SMALL)
    S = sim.exact_similarity_matrix(A, X)
    free = np.ones(90, bool)
    previous = np.inf
    for a, i, s in zip(*m.pairs()):
        assert S[a, i] == s == S[a][free].max()
        assert s <= previous
        previous = s
        free[i] = False
    # The literal loop in id order differs (it ignores the similarity order).
    literal = literal_per_audio(A, X)
    assert not np.array_equal(literal.image, m.image)
    assert len(np.unique(literal.image)) == 80


def test_min_similarity_leaves_audio_unpaired_and_matches_the_greedy_prefix():
    rng = np.random.default_rng(9)
    A, X = unit(rng, 400, 8), unit(rng, 420, 8)
    full = greedy_match(A, X, SMALL)
    cut = greedy_match(A, X, GreedyConfig(candidates=3, row_block=64, col_block=128, refill_batch=8, refill_min=4, min_similarity=0.5))
    assert_same(cut, greedy_reference(A, X, min_similarity=0.5))
    kept = cut.image >= 0
    assert 0 < kept.sum() < 400
    assert np.all(cut.similarity[kept] >= 0.5)
    # exactly the pairs the unrestricted greedy chose at >= 0.5
    np.testing.assert_array_equal(cut.image[kept], full.image[kept])
    assert np.all(full.similarity[~kept] < 0.5)


def test_screen_keeps_everything_within_the_certified_bound():
    rng = np.random.default_rng(3)
    A, X = unit(rng, 150, 64), unit(rng, 3000, 64)
    err = sim.similarity_error_bound(A, X)
    assert 0 < err < 1e-4
    indptr, cols, s32, bound = sim.candidate_lists(A, X, 5, None, 1024, err)
    S = sim.exact_similarity_matrix(A, X)
    for r in range(len(A)):
        listed = cols[indptr[r] : indptr[r + 1]]
        assert len(listed) >= 5
        others = np.setdiff1d(np.arange(len(X)), listed)
        assert S[r, others].max() < bound[r]  # nothing outside beats the bound
        assert (S[r, listed] >= bound[r]).sum() >= 5
        top5 = np.argsort(-S[r], kind="stable")[:5]
        assert set(top5) <= set(listed)


def test_exact_similarities_do_not_depend_on_the_batch():
    rng = np.random.default_rng(4)
    A, X = unit(rng, 30, 1024), unit(rng, 40, 1024)
    full = sim.exact_similarity_matrix(A, X)
    rows, cols = np.array([7, 3, 7, 29]), np.array([1, 39, 0, 5])
    np.testing.assert_array_equal(sim.exact_similarities(A, X, rows, cols), full[rows, cols])
    assert np.abs(full - (A.astype(np.float64) @ X.astype(np.float64).T)).max() < 1e-12


def test_greedy_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        greedy_match(np.array([[np.nan, 1.0]]), np.ones((2, 2)))
    with pytest.raises(ValueError, match="dimension"):
        greedy_match(np.ones((2, 3)), np.ones((2, 4)))


# --- optimal k-NN ---------------------------------------------------------------------


@pytest.mark.parametrize("n,m,k", [(50, 55, 3), (300, 280, 4), (600, 700, 6)])
def test_optimal_knn_beats_greedy_on_the_same_candidate_graph(n, m, k):
    rng = np.random.default_rng(n * k)
    A, X = unit(rng, n, 12), unit(rng, m, 12)
    rows, cols, sims = knn_graph(A, X, k)
    assert np.all(np.bincount(rows, minlength=n) == k)
    image, similarity = max_weight_matching(rows, cols, sims, n, m)
    greedy = greedy_on_edges(rows, cols, sims, n, m)
    assert objective(similarity) >= objective(greedy.similarity) - 1e-9
    used = image[image >= 0]
    assert len(np.unique(used)) == len(used)
    # and it is the optimum: the dense assignment with non-edges forbidden agrees
    W = np.full((n, m + n), -1e6)
    W[rows, cols] = sims
    W[np.arange(n), m + np.arange(n)] = UNMATCHED_SIMILARITY
    ri, ci = linear_sum_assignment(W, maximize=True)
    assert objective(similarity) == pytest.approx(W[ri, ci].sum(), abs=1e-9)


def test_optimal_knn_falls_back_to_greedy_for_what_the_graph_cannot_place():
    rng = np.random.default_rng(11)
    # Every audio prefers the same few images: with k=2 most cannot be placed in the graph.
    hub = unit(rng, 1, 16)
    A = l2_normalize(hub + 0.05 * rng.standard_normal((60, 16)))
    X = l2_normalize(np.concatenate([hub + 0.01 * rng.standard_normal((4, 16)), rng.standard_normal((70, 16))]))
    m = optimal_knn_match(A, X, OptimalKnnConfig(k=2))
    assert m.stats["paired_by_fallback"] > 0
    assert m.stats["paired_in_graph"] + m.stats["paired_by_fallback"] == 60
    assert_one_to_one(m, len(X))
    g = greedy_match(A, X)
    assert (m.image >= 0).sum() == (g.image >= 0).sum() == 60


@pytest.mark.parametrize("n,m,k", [(120, 130, 3), (400, 380, 5)])
def test_optimal_knn_match_stores_exact_similarities_and_places_everything(n, m, k):
    # Clustered vectors: strong competition for the same images, so the graph
    # leaves some audio to the greedy fallback and the similarities are varied.
    rng = np.random.default_rng(n + k)
    hubs = unit(rng, 4, 24)
    A = l2_normalize(hubs[rng.integers(0, 4, n)] + 0.35 * rng.standard_normal((n, 24)))
    X = l2_normalize(np.concatenate([hubs + 0.05 * rng.standard_normal((4, 24)), rng.standard_normal((m - 4, 24))]))
    res = optimal_knn_match(A, X, OptimalKnnConfig(k=k, greedy=SMALL))
    rows, cols, sims = res.pairs()

    # every audio placed (graph or fallback), each image at most once
    assert len(rows) == min(n, m) and res.stats["paired"] == min(n, m)
    assert res.stats["paired_by_fallback"] > 0 and res.stats["paired_in_graph"] + res.stats["paired_by_fallback"] == min(n, m)
    assert len(np.unique(rows)) == len(rows) and len(np.unique(cols)) == len(cols)
    assert_one_to_one(res, m)
    if n > m:
        assert np.isnan(res.similarity[res.image < 0]).all()

    # the stored similarity is the exact dot product of the paired vectors, bit for bit
    np.testing.assert_array_equal(sims, sim.exact_similarities(A, X, rows, cols))
    # ... and, for graph pairs, exactly the candidate edge's value
    g_rows, g_cols, g_sims = knn_graph(A, X, k, SMALL)
    edge = dict(zip(zip(g_rows.tolist(), g_cols.tolist()), g_sims.tolist()))
    in_graph = res.rank[rows] < res.stats["paired_in_graph"]
    assert in_graph.sum() == res.stats["paired_in_graph"]
    for r, c, s in zip(rows[in_graph].tolist(), cols[in_graph].tolist(), sims[in_graph].tolist()):
        assert s == edge[(r, c)]

    # the graph part is optimal: its objective is >= the greedy's on the same candidate graph
    graph_part = np.where(res.rank < res.stats["paired_in_graph"], res.similarity, np.nan)
    greedy = greedy_on_edges(g_rows, g_cols, g_sims, n, m)
    assert objective(graph_part) >= objective(greedy.similarity)


def test_max_weight_matching_returns_the_edge_values_bit_for_bit():
    # Values whose low bits (s + 3) - 3 would lose: the stored similarity must
    # be the input edge's own float, not recovered from the shifted weight.
    rng = np.random.default_rng(5)
    n = m = 40
    rows = np.repeat(np.arange(n), 3)
    cols = np.concatenate([rng.choice(m, 3, replace=False) for _ in range(n)])
    sims = rng.uniform(-0.3, 0.9, len(rows)) * (1 + 2.0**-40)
    assert np.any((sims + 3.0) - 3.0 != sims)
    image, similarity = max_weight_matching(rows, cols, sims, n, m)
    edge = dict(zip(zip(rows.tolist(), cols.tolist()), sims.tolist()))
    matched = np.flatnonzero(image >= 0)
    assert len(matched) > 0
    for a in matched.tolist():
        assert similarity[a] == edge[(a, int(image[a]))]


def test_paper_scale_constants_and_the_benchmark_full_flag():
    import importlib.util
    from pathlib import Path

    from synesthesia.recipes import artsound as AP
    from synesthesia.stages import greedy as G

    # Art2Mus section 3.3: "N = 105,884" audio items, ArtGraph's "116,475
    # digitized artworks"; section 4: ImageBind embeddings are 1024-d.
    assert (G.PAPER_AUDIO, G.PAPER_ARTWORKS, G.PAPER_EMBEDDING_DIM) == (105_884, 116_475, 1_024)
    assert AP.PAPER_PAIRS == G.PAPER_AUDIO
    from synesthesia.models.imagebind.model import IMAGEBIND_HUGE

    assert IMAGEBIND_HUGE.embed_dim == G.PAPER_EMBEDDING_DIM
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "greedy_pairing.py"
    spec = importlib.util.spec_from_file_location("bench_greedy_pairing", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.instance_shape(bench.parse_args(["--full"])) == (105_884, 116_475, 1_024)
    assert bench.instance_shape(bench.parse_args([])) == (20_000, 22_000, 1_024)


def test_match_ids_breaks_ties_by_id_and_reports_unpaired():
    # Identical vectors: every pair ties; ids decide. Given out of order.
    A = np.ones((3, 4), np.float32) / 2
    X = np.ones((2, 4), np.float32) / 2
    res = match_ids(["aud-c", "aud-a", "aud-b"], A, ["img-z", "img-y"], X, MatchConfig())
    assert list(zip(res.audio_ids, res.image_ids)) == [("aud-a", "img-y"), ("aud-b", "img-z")]
    assert res.unpaired_audio == ["aud-c"]
    res2 = match_ids(["aud-c", "aud-a", "aud-b"], A, ["img-z", "img-y"], X, MatchConfig(method="optimal-knn", knn_k=1))
    assert len(res2.audio_ids) == 2 and len(res2.unpaired_audio) == 1
    with pytest.raises(ValueError, match="unknown pairing method"):
        MatchConfig(method="hungarian")


def test_optimal_knn_min_similarity_leaves_audio_unpaired_only_below_it():
    """With a minimum similarity, optimal-knn pairs nothing below it (graph
    edges and greedy fallback alike), and an audio left unpaired has no free
    image at or above it."""
    rng = np.random.default_rng(21)
    A, X = unit(rng, 300, 8), unit(rng, 320, 8)
    t = 0.5
    m = optimal_knn_match(A, X, OptimalKnnConfig(k=3, greedy=GreedyConfig(candidates=3, row_block=64, col_block=128, refill_batch=8, refill_min=4, min_similarity=t)))
    kept = m.image >= 0
    assert 0 < kept.sum() < len(A)
    assert np.all(m.similarity[kept] >= t)
    assert len(np.unique(m.image[kept])) == kept.sum()
    free = np.setdiff1d(np.arange(len(X)), m.image[kept])
    exact = (A[~kept].astype(np.float64) @ X[free].astype(np.float64).T)
    assert exact.size == 0 or exact.max() < t + 1e-6
    # the same through the id-level entry point the flow uses
    ids = match_ids([f"a{i:03d}" for i in range(len(A))], A, [f"i{j:03d}" for j in range(len(X))], X, MatchConfig("optimal-knn", GreedyConfig(min_similarity=t), 3))
    assert len(ids.unpaired_audio) == (~kept).sum() and np.all(ids.similarity >= t)
