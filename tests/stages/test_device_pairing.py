"""Pairing with the similarity screen on a torch device, run here on torch's
CPU device: the same code as on a GPU (the benchmark's ``--device cuda``
checks the GPU itself), compared with the numpy path and the brute force."""

from __future__ import annotations

import numpy as np
import pytest

import torch

from support.vectors import assert_same, tie_heavy, unit
from synesthesia.stages import similarity as sim
from synesthesia.stages.device_similarity import DeviceItems, ieee_float32
from synesthesia.stages.greedy import GreedyConfig, greedy_match, greedy_reference
from synesthesia.stages.matching import MatchConfig, match_ids
from synesthesia.stages.optimal_pairing import OptimalKnnConfig, knn_graph, optimal_knn_match

SMALL = GreedyConfig(candidates=3, row_block=64, col_block=128, refill_batch=8, refill_min=4)


@pytest.mark.parametrize(
    "n,m,d,config",
    [
        (300, 260, 16, SMALL),  # more audio than images, many refills
        (600, 650, 24, GreedyConfig(candidates=2, col_block=300, refill_batch=4, refill_min=0)),
        (400, 450, 256, GreedyConfig(row_block=128, col_block=300)),
    ],
)
def test_greedy_on_a_torch_device_gives_the_numpy_pairs(n, m, d, config):
    rng = np.random.default_rng(n * 7 + d)
    A, X = unit(rng, n, d), unit(rng, m, d)
    on_device = greedy_match(A, X, config, device="cpu")
    assert on_device.stats["device"] == "cpu"  # the torch path ran
    assert on_device.stats["refills"] > 0 or config is not SMALL
    assert_same(on_device, greedy_match(A, X, config))  # which tests/stages/test_greedy_pairing.py checks against brute force


def test_greedy_on_a_torch_device_keeps_the_tie_rule():
    rng = np.random.default_rng(11)
    A, X = tie_heavy(rng, 500), tie_heavy(rng, 450)
    on_device = greedy_match(A, X, SMALL, device="cpu")
    assert_same(on_device, greedy_reference(A, X))
    a, _, s = on_device.pairs()
    top = a[s == s[0]]
    assert len(top) > 1 and np.all(np.diff(top) > 0)  # ties by audio row


def test_device_screen_keeps_everything_within_the_certified_bound():
    rng = np.random.default_rng(3)
    A, X = unit(rng, 60, 64), unit(rng, 3000, 64)
    err = sim.similarity_error_bound(A, X)
    free = np.sort(rng.choice(3000, 2000, replace=False))
    items = DeviceItems(X, "cpu")
    for cols in (None, free):
        indptr, listed_cols, s32, bound = sim.candidate_lists(A, X, 5, cols, 700, err, items)
        assert s32.dtype == np.float64 and indptr[-1] == len(listed_cols)
        S = sim.exact_similarity_matrix(A, X)
        universe = np.arange(3000) if cols is None else cols
        for r in range(len(A)):
            listed = listed_cols[indptr[r] : indptr[r + 1]]
            assert set(listed) <= set(universe)
            others = np.setdiff1d(universe, listed)
            assert S[r, others].max() < bound[r]
            assert (S[r, listed] >= bound[r]).sum() >= 5
            # float32 values from the device, within the bound of the exact ones
            assert np.abs(s32[indptr[r] : indptr[r + 1]] - S[r, listed]).max() <= err


def test_device_screen_with_fewer_columns_than_k_returns_them_all():
    rng = np.random.default_rng(1)
    A, X = unit(rng, 4, 8), unit(rng, 10, 8)
    rows, cols, vals, kth = DeviceItems(X, "cpu").screen_topk(A, 5, 1e-6, np.array([2, 7, 9]), 128)
    assert rows.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert cols.tolist() == [2, 7, 9] * 4
    np.testing.assert_allclose(vals, (A @ X[[2, 7, 9]].T).ravel(), atol=1e-6)
    assert np.all(kth == -np.inf)


def test_knn_graph_and_optimal_knn_on_a_torch_device_match_numpy():
    rng = np.random.default_rng(8)
    A, X = unit(rng, 200, 16), unit(rng, 190, 16)
    for a, b in zip(knn_graph(A, X, 4, SMALL, device="cpu"), knn_graph(A, X, 4, SMALL)):
        np.testing.assert_array_equal(a, b)
    config = OptimalKnnConfig(k=2, greedy=SMALL)
    on_device, on_numpy = optimal_knn_match(A, X, config, device="cpu"), optimal_knn_match(A, X, config)
    assert_same(on_device, on_numpy)
    assert on_numpy.stats["paired_by_fallback"] > 0  # the fallback greedy ran on the device too


def test_match_ids_passes_the_device_through():
    rng = np.random.default_rng(2)
    A, X = unit(rng, 50, 8), unit(rng, 60, 8)
    a_ids, i_ids = [f"a{k:02d}" for k in range(50)], [f"i{k:02d}" for k in range(60)]
    for method in ("greedy", "optimal-knn"):
        on_device = match_ids(a_ids, A, i_ids, X, MatchConfig(method, SMALL), device="cpu")
        on_numpy = match_ids(a_ids, A, i_ids, X, MatchConfig(method, SMALL))
        assert (on_device.audio_ids, on_device.image_ids) == (on_numpy.audio_ids, on_numpy.image_ids)
        np.testing.assert_array_equal(on_device.similarity, on_numpy.similarity)


def test_ieee_float32_switches_tf32_off_and_restores_the_setting():
    matmul = torch.backends.cuda.matmul
    before = matmul.fp32_precision
    matmul.fp32_precision = "tf32"
    try:
        with ieee_float32():
            assert matmul.fp32_precision == "ieee"
        assert matmul.fp32_precision == "tf32"
    finally:
        matmul.fp32_precision = before


def test_device_similarity_pass_sums_the_first_entry_of_every_block():
    rng = np.random.default_rng(6)
    A, X = unit(rng, 300, 32), unit(rng, 500, 32)
    expected = sum(float(A[r] @ X[c]) for r in range(0, 300, 128) for c in range(0, 500, 200))
    assert DeviceItems(X, "cpu").similarity_pass(A, 128, 200) == pytest.approx(expected, rel=1e-5)
    assert sim.blocked_similarity_pass(A, X, 128, 200) == pytest.approx(expected, rel=1e-5)
