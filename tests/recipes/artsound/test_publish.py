"""ArtSound published: the Hugging Face export of the demo's ArtSound folder
loads with `datasets` (every pair, the artwork, the track's own bytes, the
captions and scores), its card parses, and the WebDataset shards hold the
same samples."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from PIL import Image

from support.publish import assert_webdataset_round_trip, decode, export_hf, load_export
from synesthesia.datasets import io as dio
from synesthesia.datasets.readers.shards import hub_split
from synesthesia.flows import publish as P


@pytest.fixture(scope="module")
def exported(demo_folders, tmp_path_factory) -> Path:
    return export_hf(demo_folders["artsound"], tmp_path_factory)


def test_every_pair_loads_with_its_artwork_track_and_captions(demo_folders, exported):
    folder = demo_folders["artsound"]
    roots = dio.read_manifest(folder)["media_roots"]
    source = {r["pair_id"]: r for r in pq.read_table(folder / "pairs.parquet").to_pylist()}
    ds = load_export(exported)
    assert {s: ds[s].num_rows for s in ds} == dict(Counter(hub_split(r["split"]) for r in source.values()))
    for split in ds:
        for row in ds[split]:
            pair = source[row["pair_id"]]
            for column in ("audio_id", "image_id", "similarity", "image_caption", "audio_caption", "audio_caption_acs", "style"):
                assert row[column] == pair[column], column
            assert "audio_path" not in row and "split" not in row  # no path of this machine; the split is the file
            assert isinstance(row["image"], Image.Image)
            artwork = Path(roots["artworks"]) / pair["image_path"]
            assert np.array_equal(np.asarray(row["image"].convert("RGB")), np.asarray(Image.open(artwork).convert("RGB")))
            track = Path(roots["music"]) / pair["audio_path"]
            assert row["audio"]["bytes"] == track.read_bytes() and row["audio"]["path"] == pair["audio_path"]
            samples, rate = decode(row["audio"]["bytes"])
            original, original_rate = sf.read(track, dtype="float32", always_2d=True)
            assert rate == original_rate and np.array_equal(samples, original)


def test_the_card_names_licences_tasks_and_the_paper(exported):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(exported / "README.md")
    data = card.data.to_dict()
    for key in ("license", "task_categories", "tags", "size_categories", "configs", "dataset_info", "pretty_name"):
        assert data.get(key), key
    assert data["language"] == ["en"] and "image-to-audio" in data["tags"]
    features = {f["name"]: f.get("dtype", f.get("list")) for f in data["dataset_info"]["features"]}
    assert features["image"] == "image" and features["audio"] == "audio" and features["audio_caption_acs"] == "float64"
    assert features["music_subgenres"] == "string"  # a list of strings (the track's sub-genres)
    assert "Art2Mus: Artwork-to-Music Generation" in card.text and "captions" in card.text
    assert "synesthesia sample corpus" in card.text  # the demo's media are generated: no third-party rights
    assert "**Warning.**" not in card.text  # nothing simulated here
    assert set(P.check(exported)["default"]) <= {"train", "validation", "test"}


def test_webdataset_shards_hold_the_same_samples(demo_folders, exported, tmp_path):
    P.export_webdataset(demo_folders["artsound"], tmp_path / "shards", max_samples=4, log=lambda m: None)
    n = assert_webdataset_round_trip(tmp_path / "shards", exported, "default", "pair_id")
    assert n == pq.read_metadata(demo_folders["artsound"] / "pairs.parquet").num_rows
