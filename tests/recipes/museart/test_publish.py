"""Museart published: the Hugging Face export of the demo's Museart folder
loads with `datasets` (every pair, the stored 30 s FLAC clip, the image, the
category as a ClassLabel in dataset.json's order), its card parses, and the
WebDataset shards hold the same samples."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from support.publish import assert_webdataset_round_trip, decode, export_hf, load_export
from synesthesia.datasets import io as dio
from synesthesia.datasets.media import load_clip
from synesthesia.datasets.readers.museart import read_pairs
from synesthesia.datasets.readers.shards import hub_split
from synesthesia.flows import publish as P


@pytest.fixture(scope="module")
def exported(demo_folders, tmp_path_factory) -> Path:
    return export_hf(demo_folders["museart"], tmp_path_factory)


def test_every_pair_loads_with_its_clip_image_and_category(demo_folders, exported):
    folder = demo_folders["museart"]
    categories = dio.read_manifest(folder)["categories"]
    source = {r["audio_id"]: r for r in read_pairs(folder).to_pylist()}
    ds = load_export(exported)
    assert {s: ds[s].num_rows for s in ds} == dict(Counter(hub_split(r["split"]) for r in source.values()))
    assert ds["train"].features["category"].names == categories
    for split in ds:
        for row in ds[split]:
            pair = source[row["audio_id"]]
            assert row["image_id"] == pair["image_id"] and row["category"] == pair["category_index"]
            assert np.array_equal(np.asarray(row["image"].convert("RGB")), np.asarray(Image.open(pair["image_path"]).convert("RGB")))
            assert row["audio"]["bytes"][:4] == b"fLaC" and row["audio"]["path"].startswith("clips/")
            samples, rate = decode(row["audio"]["bytes"])
            assert rate == 16_000 and samples.shape == (480_000, 1)  # 30 s at 16 kHz, mono
            assert np.array_equal(samples[:, 0], load_clip(pair["audio_path"]))


def test_the_card_and_its_citation(exported):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(exported / "README.md")
    data = card.data.to_dict()
    for key in ("license", "task_categories", "tags", "size_categories", "configs", "dataset_info", "pretty_name"):
        assert data.get(key), key
    category = next(f for f in data["dataset_info"]["features"] if f["name"] == "category")
    assert "class_label" in category["dtype"]
    assert "doi     = {10.1016/j.iswa.2025.200611}" in card.text and "Musipainter" in card.text


def test_webdataset_shards_hold_the_same_samples(demo_folders, exported, tmp_path):
    P.export_webdataset(demo_folders["museart"], tmp_path / "shards", max_samples=5, log=lambda m: None)
    n = assert_webdataset_round_trip(tmp_path / "shards", exported, "default", "audio_id")
    assert n == pq.read_metadata(demo_folders["museart"] / "pairs.parquet").num_rows
