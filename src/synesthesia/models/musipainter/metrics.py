"""The Musipainter paper's objective metrics (section 3.5.1) on similarity matrices.

All three map a mean *reference-corrected* cosine similarity ``x`` to a
percentage with the arc-cosine: ``(1 − arccos(x) / π) · 100`` — 50 when a
generated image is no closer to its own reference than to the others, 100
at the maximum (x = 1).

* **AIS** (Eq. 5): ``x = (1/G) Σ_i [ sim(i_g, a_i) − (1/T) Σ_{j≠i} sim(i_g, a_j) ]``
  over G generated images, their own audio ``a_i`` and the T audio items of
  the test set. As printed, the inner sum over ``j ≠ i`` is divided by T (not
  T − 1); we follow the formula.
* **IIS** (Eq. 6): the same with the ground-truth image of each generated
  image and the T images of the test set.
* **GIILS** (Eq. 8), per label L: ``x_L`` = the mean over ordered pairs
  ``(i, j)``, ``i ≠ j``, of generated images whose music has label L, of
  ``sim(i, j) − (1/G) Σ_{k≠i} sim(i, k)`` (k over all G generated images).
  Eq. 8 as printed carries stray "/π" terms inside the sum that would make it
  dimensionally inconsistent with Eqs. 5–6; we read it with the same
  structure as Eqs. 5–6 (documented in the README).

All three equations as printed also divide ``x`` by π *inside* the
arc-cosine, ``(1 − arccos(x/π)/π) · 100``. That form can only give values in
[39.7, 60.3], yet the paper's Table 1 reports 76.40 (AudioToken's IIS), so we
read the inner "/π" as a typesetting slip and use ``arccos(x)``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def arccos_percentage(x: float) -> float:
    return (1.0 - math.acos(float(np.clip(x, -1.0, 1.0))) / math.pi) * 100.0


def reference_corrected(sim: np.ndarray, own: Sequence[int]) -> float:
    """Eqs. 5/6's ``x``: ``sim [G, T]`` generated × references; ``own[i]``
    the column of generated item i's own reference."""
    sim = np.asarray(sim, dtype=np.float64)
    own = np.asarray(own, dtype=np.int64)
    g, t = sim.shape
    if len(own) != g:
        raise ValueError("one reference index per generated item is required")
    mine = sim[np.arange(g), own]
    others = (sim.sum(axis=1) - mine) / t
    return float(np.mean(mine - others))


def ais(sim_image_audio: np.ndarray, own_audio: Sequence[int]) -> float:
    """Eq. 5 (percentage)."""
    return arccos_percentage(reference_corrected(sim_image_audio, own_audio))


def iis(sim_image_image: np.ndarray, own_image: Sequence[int]) -> float:
    """Eq. 6 (percentage)."""
    return arccos_percentage(reference_corrected(sim_image_image, own_image))


def giils_sample(labels: Sequence[str], per_label: int | None, seed: int = 0) -> np.ndarray:
    """Indices of at most ``per_label`` generated images of each label (seeded,
    in their original order); all of them when ``per_label`` is None.

    The paper's Tables 5-6: "obtained over 10 generated images, sampled among
    those produced with inputs belonging to a specific category"."""
    labels = np.asarray(list(labels), dtype=object)
    if per_label is None:
        return np.arange(labels.size)
    rng = np.random.default_rng(seed)
    keep = []
    for label in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == label)
        keep.append(idx if idx.size <= per_label else rng.choice(idx, per_label, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.arange(0)


def giils(sim_generated: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Eq. 8 per label (percentage); labels with fewer than two generated
    images have no pair and are left out."""
    sim = np.asarray(sim_generated, dtype=np.float64)
    g = sim.shape[0]
    labels = list(labels)
    off_diagonal_mean = (sim.sum(axis=1) - np.diag(sim)) / g  # (1/G) Σ_{k≠i} sim(i, k)
    out = {}
    for label in sorted(set(labels)):
        idx = np.flatnonzero(np.asarray(labels, dtype=object) == label)
        if len(idx) < 2:
            continue
        block = sim[np.ix_(idx, idx)] - off_diagonal_mean[idx, None]
        mask = ~np.eye(len(idx), dtype=bool)
        out[label] = arccos_percentage(float(block[mask].mean()))
    return out
