from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from synesthesia.datasets import schema as S
from synesthesia.stages.pairing import balanced_random_pairs, draw_mpd_pairs
from synesthesia.stages.splits import allocate, grouped_split, leaked_groups, quota_sequence, stratified_split


@pytest.mark.parametrize(
    "rows,cols,n",
    [(10, 12, 37), (10, 12, 60), (10, 12, 61), (10, 12, 119), (10, 12, 120), (1, 7, 5), (7, 1, 7), (50, 40, 1999), (300, 200, 5000)],
)
def test_balanced_pairs_are_unique_and_balanced(rows, cols, n):
    cells = balanced_random_pairs(rows, cols, n, np.random.default_rng(3))
    assert cells.shape == (n, 2)
    assert len({(r, c) for r, c in cells.tolist()}) == n
    r_use = np.bincount(cells[:, 0], minlength=rows)
    c_use = np.bincount(cells[:, 1], minlength=cols)
    assert r_use.max() - r_use.min() <= 1
    assert c_use.max() - c_use.min() <= 1


def test_balanced_pairs_are_seed_deterministic_and_capped():
    a = balanced_random_pairs(30, 20, 200, np.random.default_rng(5))
    b = balanced_random_pairs(30, 20, 200, np.random.default_rng(5))
    c = balanced_random_pairs(30, 20, 200, np.random.default_rng(6))
    assert (a == b).all() and not (a == c).all()
    with pytest.raises(ValueError):
        balanced_random_pairs(3, 3, 10, np.random.default_rng(0))


def _items(n_p, n_c, styles=3):
    paintings = pa.table({"painting_id": [f"p{i:03d}" for i in range(n_p)], "style": [f"s{i % styles}" for i in range(n_p)]})
    clips = pa.table({"clip_id": [f"c{i:03d}" for i in range(n_c)], "track_id": [f"t{i // 3}" for i in range(n_c)]})
    return paintings, clips


def test_mpd_pairs_within_item_splits_share_no_painting_or_clip():
    paintings, clips = _items(100, 300)
    p_split = stratified_split(paintings["painting_id"].to_pylist(), paintings["style"].to_pylist(), seed=1)
    t_ids = sorted(set(clips["track_id"].to_pylist()))
    t_split = dict(zip(t_ids, stratified_split(t_ids, seed=2)))
    paintings = paintings.append_column("split", pa.array(p_split))
    clips = clips.append_column("split", pa.array([t_split[t] for t in clips["track_id"].to_pylist()]))
    pairs, summary = draw_mpd_pairs(paintings, clips, 2000, seed=0)
    assert pairs.schema == S.MPD_PAIRS
    assert pairs.num_rows == 2000 and summary["drawn"] == 2000
    assert Counter(pairs["split"].to_pylist()) == {"train": 1600, "val": 200, "test": 200}
    assert len(set(pairs["pair_id"].to_pylist())) == 2000
    ps = dict(zip(paintings["painting_id"].to_pylist(), p_split))
    cs = dict(zip(clips["clip_id"].to_pylist(), clips["split"].to_pylist()))
    for row in pairs.to_pylist():
        assert ps[row["painting_id"]] == cs[row["clip_id"]] == row["split"]
    # balance inside each split
    for split in ("train", "val", "test"):
        sub = pairs.filter(pa.compute.equal(pairs["split"], split))
        for col in ("painting_id", "clip_id"):
            use = Counter(sub[col].to_pylist())
            assert max(use.values()) - min(use.values()) <= 1
    again, _ = draw_mpd_pairs(paintings, clips, 2000, seed=0)
    assert again.equals(pairs)
    other, _ = draw_mpd_pairs(paintings, clips, 2000, seed=1)
    assert not other.equals(pairs)


def test_mpd_pairs_are_capped_per_split():
    paintings, clips = _items(10, 10)
    paintings = paintings.append_column("split", pa.array(["train"] * 8 + ["val", "test"]))
    clips = clips.append_column("split", pa.array(["train"] * 8 + ["val", "test"]))
    pairs, summary = draw_mpd_pairs(paintings, clips, 50_000, seed=0)
    assert summary["splits"]["train"]["possible"] == 64
    assert Counter(pairs["split"].to_pylist()) == {"train": 64, "val": 1, "test": 1}


def test_pair_level_split_mode():
    paintings, clips = _items(20, 30)
    pairs, summary = draw_mpd_pairs(paintings, clips, 500, seed=0, split_mode="pairs")
    assert Counter(pairs["split"].to_pylist()) == {"train": 400, "val": 50, "test": 50}
    assert len(set(zip(pairs["painting_id"].to_pylist(), pairs["clip_id"].to_pylist()))) == 500


def test_allocate_and_quota_sequence():
    assert allocate(10, {"train": 0.8, "val": 0.1, "test": 0.1}) == {"train": 8, "val": 1, "test": 1}
    assert sum(allocate(24_216, {"train": 0.8, "val": 0.1, "test": 0.1}).values()) == 24_216
    seq = quota_sequence(1000, {"train": 0.8, "val": 0.1, "test": 0.1})
    for i in range(1, 1001):
        c = Counter(seq[:i])
        assert abs(c["train"] - 0.8 * i) < 1 and abs(c["val"] - 0.1 * i) < 1 and abs(c["test"] - 0.1 * i) < 1


def test_stratified_split_small_strata_still_fill_every_split():
    ids = [f"t{i}" for i in range(20)]
    strata = [f"g{i % 4}" for i in range(20)]  # 4 genres x 5 tracks
    split = stratified_split(ids, strata, seed=0)
    assert Counter(split) == {"train": 16, "val": 2, "test": 2}
    for g in range(4):
        members = [s for s, st in zip(split, strata) if st == f"g{g}"]
        assert abs(members.count("train") - 4) <= 2
    assert split == stratified_split(ids, strata, seed=0)
    assert split != stratified_split(ids, strata, seed=1)


def test_grouped_split_never_splits_a_group():
    rng = np.random.default_rng(0)
    groups = [f"track{int(g)}" for g in rng.integers(0, 300, 3000)]
    strata = [f"c{int(g[5:]) % 5}" for g in groups]
    ids = [f"i{i}" for i in range(3000)]
    split = grouped_split(ids, groups, strata, seed=0)
    assert leaked_groups(groups, split) == 0
    c = Counter(split)
    assert abs(c["train"] / 3000 - 0.8) < 0.02 and abs(c["val"] / 3000 - 0.1) < 0.02


def test_weighted_split_gives_each_split_its_share_of_clips():
    """MPD splits tracks by their clips: 38 tracks of 1-5 minutes (4-20 clips)
    split by count put 5 % of the clips in test; by weight each split is
    within a point of 80/10/10, every track whole."""
    from synesthesia.stages.splits import weighted_split

    worst_by_count = 0.0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        clips = rng.integers(4, 21, 38)
        ids = [f"t{k:02d}" for k in range(38)]
        genres = [f"g{k % 4}" for k in range(38)]
        splits = weighted_split(ids, clips, genres, seed=seed)
        assert len(splits) == 38 and set(splits) == {"train", "val", "test"}
        for name, target in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
            share = clips[[s == name for s in splits]].sum() / clips.sum()
            assert abs(share - target) <= 0.01, (seed, name, share)
        by_count = stratified_split(ids, genres, seed=seed)
        worst_by_count = max(worst_by_count, max(abs(clips[[s == n for s in by_count]].sum() / clips.sum() - t) for n, t in (("train", 0.8), ("val", 0.1), ("test", 0.1))))
        assert splits == weighted_split(ids, clips, genres, seed=seed)
    assert worst_by_count > 0.03  # what splitting by count did
