"""Museart building blocks: names and categories, index matching, the split
helpers it added to `stages.splits`, cell pairing, 30 s clip files."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from synesthesia.recipes import museart as M
from synesthesia.datasets.media import TARGET_SAMPLE_RATE, load_clip
from synesthesia.stages.audio import clip_file_shard
from synesthesia.stages.clip_files import clip_file_path, to_pcm16
from synesthesia.stages.ingest import Source, SourceItem, match_by_stem
from synesthesia.stages.pairing import pair_within_cells
from synesthesia.stages.splits import split_by_counts, split_like, stratified_split


def test_paper_defaults():
    config = M.MuseartConfig()
    assert M.MUSEART_CLIP_SECONDS == 30.0 and config.clip.clip_seconds == 30.0
    assert config.clip.sample_rate == TARGET_SAMPLE_RATE == 16_000
    assert config.clip.clip_samples == 480_000
    assert config.split == "grouped" and dict(config.fractions) == {"train": 0.8, "val": 0.1, "test": 0.1}
    assert sum(M.PUBLISHED_SPLIT_SIZES.values()) == M.PUBLISHED_ITEMS == 24_216
    assert M.PAPER_CATEGORIES[0] == "Renaissance symbolism" and M.PAPER_CATEGORIES[-1] == "20th century traditional figure"
    assert len(set(M.PAPER_CATEGORIES)) == 18
    # short files: padded from 15 s by default; "drop" quarantines anything under 30 s
    assert config.short_audio == "pad" and config.ingest_min_seconds == M.DEFAULT_MIN_AUDIO_SECONDS == 15.0
    assert M.MuseartConfig(short_audio="drop").ingest_min_seconds == 30.0


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="split"):
        M.MuseartConfig(split="random")
    with pytest.raises(ValueError, match="capture group"):
        M.MuseartConfig(group_pattern="segment")
    with pytest.raises(ValueError, match="regex"):
        M.MuseartConfig(group_pattern="(")
    with pytest.raises(ValueError, match="short_audio"):
        M.MuseartConfig(short_audio="loop")


def test_categories_and_groups():
    assert M.canonical_category("heavy_metal") == "Heavy metal"
    assert M.canonical_category("20th-Century  Traditional_figure") == "20th century traditional figure"
    assert M.canonical_category(" Jazz ") == "Jazz"  # any category set works
    assert M.group_key("the_best_of_couperinsegment37") == "the_best_of_couperin"
    assert M.group_key("segment_studiessegment3segment12") == "segment_studiessegment3"  # the last segmentNN only
    assert M.group_key("kittelsen38") == "kittelsen38"
    assert M.group_key("a-part-2", r"^(.*)-part-\d+$") == "a"
    assert M.published_split("Validation") == "val" and M.published_split("train") == "train"
    assert M.published_split("holdout") is None


def _source(*paths):
    return Source(root=None, items=[SourceItem(p) for p in paths])


def test_match_by_stem_uses_folders_for_ids_listed_twice():
    rows = [
        {"id": "a", "category": "Heavy metal", "_line": 2},
        {"id": "Twice 1", "category": "Heavy metal", "_line": 3},
        {"id": "Twice 1", "category": "Electronic music", "_line": 4},
        {"id": "gone", "category": "Heavy metal", "_line": 5},
        {"id": "same", "category": "Heavy metal", "_line": 6},
    ]
    source = _source(
        "train/Heavy_metal/a.jpg",
        "train/Heavy_metal/twice_1.jpg",
        "test/electronic-music/twice_1.jpg",
        "train/Heavy_metal/extra.jpg",
        "x/same.jpg",
        "y/same.jpg",
    )
    matches, problems = match_by_stem(source, rows, "image", "images.csv", "id", "category")
    matched = {item.path: row["_line"] for item, row in matches}
    assert matched == {"train/Heavy_metal/a.jpg": 2, "train/Heavy_metal/twice_1.jpg": 3, "test/electronic-music/twice_1.jpg": 4}
    reasons = {p["path"]: p["reason"] for p in problems}
    assert reasons["train/Heavy_metal/extra.jpg"] == "not listed in images.csv"
    assert "no file" in reasons["images.csv:5"]
    assert "ambiguous" in reasons["x/same.jpg"] and "ambiguous" in reasons["y/same.jpg"]
    assert len(matches) + len(problems) == 8


def test_exact_stratified_split_and_split_by_counts():
    ids = [f"i{k}" for k in range(1602)]
    split = stratified_split(ids, ["c"] * 1602, seed=0, allocation="exact")
    assert Counter(split) == {"train": 1282, "val": 160, "test": 160}
    assert split == stratified_split(ids, ["c"] * 1602, seed=0, allocation="exact")
    with pytest.raises(ValueError, match="allocation"):
        stratified_split(ids, None, allocation="rounded")
    labels = split_by_counts(["a", "b", "c", "d"], ["x", "x", "y", "y"], {"x": {"train": 1, "test": 1}, "y": {"val": 2}})
    assert Counter(zip(["x", "x", "y", "y"], labels)) == {("x", "train"): 1, ("x", "test"): 1, ("y", "val"): 2}
    with pytest.raises(ValueError, match="stratum"):
        split_by_counts(["a", "b"], ["x", "x"], {"x": {"train": 1}})


def test_split_like_follows_the_reference_and_fills_every_used_split():
    ref_strata = ["c"] * 10 + ["d"] * 10
    ref_splits = ["train"] * 8 + ["val", "test"] + ["train"] * 10
    # 20 images of c follow 8/1/1; 3 images of c still get one val and one test; e has no reference
    split = split_like([f"i{k}" for k in range(20)], ["c"] * 20, ref_strata, ref_splits)
    assert Counter(split) == {"train": 16, "val": 2, "test": 2}
    split = split_like(["a", "b", "c"], ["c"] * 3, ref_strata, ref_splits)
    assert Counter(split) == {"train": 1, "val": 1, "test": 1}
    split = split_like([f"i{k}" for k in range(5)], ["d"] * 5, ref_strata, ref_splits)
    assert Counter(split) == {"train": 5}
    split = split_like([f"i{k}" for k in range(10)], ["e"] * 10, ref_strata, ref_splits)
    assert Counter(split) == {"train": 8, "val": 1, "test": 1}


def test_pair_within_cells_is_balanced_deterministic_and_local():
    queries = [f"q{k:02d}" for k in range(23)]
    q_cells = ["A"] * 17 + ["B"] * 5 + ["C"]
    partners = ["p0", "p1", "p2", "p3", "p4", "p5"]
    p_cells = ["A", "A", "A", "A", "B", "B"]
    out, usage = pair_within_cells(queries, q_cells, partners, p_cells, seed=3)
    cell_of = dict(zip(partners, p_cells))
    assert all(cell_of[p] == c for p, c in zip(out[:22], q_cells[:22]))
    assert out[22] is None and usage["C"]["partners"] == 0
    use = Counter(out[:17])
    assert sorted(use.values()) == [4, 4, 4, 5]  # 17 over 4 images: floor/ceil
    assert usage["A"] == {"queries": 17, "partners": 4, "min_use": 4, "max_use": 5}
    assert (out, usage) == pair_within_cells(queries, q_cells, partners, p_cells, seed=3)
    # another cell's items do not move this cell's draw
    more, _ = pair_within_cells(queries + ["q99"], q_cells + ["B"], partners, p_cells, seed=3)
    assert more[:17] == out[:17]
    other, _ = pair_within_cells(queries, q_cells, partners, p_cells, seed=4)
    assert other[:17] != out[:17]


def test_clip_files_are_16k_mono_30s_padded_and_clipped(tmp_path):
    sr = 44_100
    t = np.arange(int(20.0 * sr)) / sr
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 440 * t)], axis=1)
    sf.write(tmp_path / "short.wav", stereo, sr, subtype="PCM_16")
    t = np.arange(int(65.0 * sr)) / sr
    sf.write(tmp_path / "long.wav", 0.3 * np.sin(2 * np.pi * 220 * t), sr, subtype="PCM_16")
    clip = M.MuseartConfig().clip
    items = [
        {"track_id": "s", "path": "short.wav", "sha256": "", "clips": (("s-c000", 0.0),)},
        {"track_id": "l", "path": "long.wav", "sha256": "", "clips": (("l-c000", 0.0), ("l-c001", 30.0))},
    ]
    table = clip_file_shard(tmp_path, items, clip, tmp_path / "clips")
    rows = {r["clip_id"]: r for r in table.to_pylist()}
    assert rows["s-c000"]["signal_samples"] == 20 * 16_000 and rows["l-c001"]["signal_samples"] == 480_000
    for cid, row in rows.items():
        assert row["path"] == clip_file_path(cid)
        info = sf.info(tmp_path / "clips" / row["path"])
        assert (info.samplerate, info.channels, info.frames, info.format, info.subtype) == (16_000, 1, 480_000, "FLAC", "PCM_16")
    y = load_clip(tmp_path / "clips" / rows["s-c000"]["path"])
    assert y.dtype == np.float32 and y.shape == (480_000,)
    assert np.abs(y[: 19 * 16_000]).max() == pytest.approx(0.5, abs=0.01) and not y[20 * 16_000 + 100 :].any()
    assert to_pcm16(np.array([1.5, -2.0, 0.5])).tolist() == [32767, -32767, 16384]


def test_from_csv_items_without_a_usable_set_are_quarantined_not_guessed():
    rows = [
        {"id": "asegment1", "category": "Jazz", "published_split": "train"},
        {"id": "asegment2", "category": "Jazz", "published_split": None},
        {"id": "bsegment1", "category": "Jazz", "published_split": "test"},
    ]
    audio = M.index_items(rows, "audio")
    audio = audio.set_column(audio.schema.get_field_index("path"), "path", audio["name"])
    images = M.index_items([{"id": "p", "category": "Jazz", "published_split": "train"}], "image")
    images = images.set_column(images.schema.get_field_index("path"), "path", images["name"])
    config = M.MuseartConfig(split="from-csv")
    a, i = M.assign_splits(audio, images, config)
    assert a.column("split").to_pylist() == ["train", None, "test"]
    problems = M.unsplit_rows(a, i, config)
    assert [(p["path"], p["stage"]) for p in problems] == [("asegment2", "split")]
    pairs, usage, unpaired = M.pair_items(a, i)
    # the test item has no test image: it is reported as unpaired, never paired across splits
    assert pairs.column("audio_id").to_pylist() == ["Jazz/asegment1"] and unpaired == ["Jazz/bsegment1"]
    assert usage[("Jazz", "test")]["partners"] == 0
