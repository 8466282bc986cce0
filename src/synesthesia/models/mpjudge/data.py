"""MPJudge's training data: a split's scored and preference pairs as rows
of the media caches, and the epoch plan (one seeded permutation of each per
epoch, cut into near-equal steps; under DDP each process takes every
``world``-th item, padded by wrapping as DistributedSampler does)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from synesthesia.datasets.readers.mpd import MPDMedia, read_preference_pairs, read_scored_pairs
from synesthesia.models.mpjudge.evaluate import preference_rows

# --- data -------------------------------------------------------------------------------

@dataclass
class SplitData:
    """Row indices (into the media caches) and targets of one split."""

    painting_rows: np.ndarray
    clip_rows: np.ndarray
    scores: np.ndarray
    # preference items: (painting, clip) rows and annotated score (NaN: unscored) of chosen / rejected
    pref_chosen: tuple[np.ndarray, np.ndarray, np.ndarray]
    pref_rejected: tuple[np.ndarray, np.ndarray, np.ndarray]

    @property
    def n_scored(self) -> int:
        return len(self.scores)

    @property
    def n_pref(self) -> int:
        return len(self.pref_chosen[0])


def load_split(folder: Path, split: str, media: MPDMedia) -> SplitData:
    pairs = read_scored_pairs(folder, split)
    p_ids, c_ids = pairs.column("painting_id").to_pylist(), pairs.column("clip_id").to_pylist()
    scores = pairs.column("score").to_numpy().astype(np.float32)
    p_rows, c_rows = media.rows_of(p_ids, c_ids)
    prefs = read_preference_pairs(folder, split)
    score_of = {(p, c): s for p, c, s in zip(p_rows.tolist(), c_rows.tolist(), scores.tolist())}
    if prefs.num_rows:
        pc_, cc_, pr_, cr_ = preference_rows(media, prefs)
    else:
        pc_ = cc_ = pr_ = cr_ = np.zeros(0, np.int64)
    lookup = lambda ps, cs: np.array([score_of.get((p, c), np.nan) for p, c in zip(ps.tolist(), cs.tolist())], np.float32)
    return SplitData(p_rows, c_rows, scores, (pc_, cc_, lookup(pc_, cc_)), (pr_, cr_, lookup(pr_, cr_)))


def _rank_share(order: np.ndarray, rank: int, world: int) -> np.ndarray:
    """Every ``world``-th item from ``rank``, after padding by wrapping so all ranks get as many."""
    if len(order) == 0:
        return order
    per_rank = math.ceil(len(order) / world)
    return np.resize(order, per_rank * world)[rank::world]


def steps_per_epoch(n_scored: int, batch_size: int, world: int) -> int:
    per_rank_batch = max(1, batch_size // world)
    return max(1, math.ceil(math.ceil(n_scored / world) / per_rank_batch))


def epoch_plan(n_scored: int, n_pref: int, epoch: int, seed: int, batch_size: int, rank: int = 0, world: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """This rank's steps of one epoch: (scored item indices, preference item indices) per step."""
    rng = np.random.default_rng([seed, epoch])
    scored = _rank_share(rng.permutation(n_scored), rank, world)
    prefs = _rank_share(rng.permutation(n_pref), rank, world)
    n_steps = steps_per_epoch(n_scored, batch_size, world)
    return list(zip(np.array_split(scored, n_steps), np.array_split(prefs, n_steps)))


class StepBatches(torch.utils.data.Dataset):
    """Item ``k`` is the whole batch of step ``k``: paintings (uint8), mels
    (float16 dB) and targets (NaN where unscored) laid out as
    ``[scored pairs | chosen pairs | rejected pairs]``."""

    def __init__(self, data: SplitData, media: MPDMedia, plan: list[tuple[np.ndarray, np.ndarray]]):
        self.data, self.media, self.plan = data, media, plan

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, k: int) -> dict:
        s, p = self.plan[k]
        d = self.data
        paintings = np.concatenate([d.painting_rows[s], d.pref_chosen[0][p], d.pref_rejected[0][p]])
        clips = np.concatenate([d.clip_rows[s], d.pref_chosen[1][p], d.pref_rejected[1][p]])
        targets = np.concatenate([d.scores[s], d.pref_chosen[2][p], d.pref_rejected[2][p]])
        return {
            "paintings": self.media.paintings(paintings),
            "mels": self.media.mels(clips),
            "targets": targets.astype(np.float32),
            "n_scored": len(s),
            "n_pref": len(p),
        }


