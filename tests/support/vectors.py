"""Test support: embedding instances for the pairing tests, and how two matchings are compared."""

from __future__ import annotations

import numpy as np

from synesthesia.models.embedders import l2_normalize


def unit(rng, n, d):
    return l2_normalize(rng.standard_normal((n, d)))


def tie_heavy(rng, n, d=16):
    """Unit vectors with four entries of ±0.5: every similarity is a multiple
    of 0.25, exact in any arithmetic, so most comparisons are exact ties."""
    v = np.zeros((n, d), np.float32)
    for i in range(n):
        idx = rng.choice(d, 4, replace=False)
        v[i, idx] = rng.choice([-0.5, 0.5], 4)
    return v


def assert_same(fast, ref):
    np.testing.assert_array_equal(fast.image, ref.image)
    np.testing.assert_array_equal(fast.rank, ref.rank)
    np.testing.assert_array_equal(fast.similarity, ref.similarity)
