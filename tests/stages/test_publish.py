"""The generic publishing writers on a hand-made publication (no dataset
folder, no Prefect): Parquet shards rolled by size with Image/Audio/Array2D/
ClassLabel features that `datasets` loads, media left as paths, the card's
licence fields and sources, WebDataset shards the `webdataset` library
reads (same bytes every time), and the Hub push up to the upload call."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf
from PIL import Image

from support.publish import load_export
from synesthesia.datasets.readers import shards as W
from synesthesia.stages.publish import card as C
from synesthesia.stages.publish import hf, hub, webdataset
from synesthesia.stages.publish.spec import Array, Config, Media, Publication, Source, declared_sources, is_synthetic

N = 130  # three row groups of 64: three shards when each holds one


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("media")
    files = {}
    for k in range(3):
        Image.fromarray(np.full((8, 12, 3), 40 * k, np.uint8)).save(root / f"p{k}.png")
        sf.write(root / f"t{k}.wav", np.linspace(-0.5, 0.5, 800 + k, dtype=np.float32), 8000, subtype="PCM_16")
        files[k] = (root / f"p{k}.png", root / f"t{k}.wav")
    return {"root": root, "files": files}


def _values(ids):
    return np.stack([np.full((3, 4), int(i.split("-")[1]), np.float16) for i in ids])


def publication(media: dict, folder: Path, **config) -> Publication:
    rows = pa.table({
        "item_id": [f"item-{i:03d}" for i in range(N)],
        "score": [i / N for i in range(N)],
        "kind": ["b" if i % 3 else "a" for i in range(N)],
        "split": ["train" if i < 100 else ("val" if i < 120 else "test") for i in range(N)],
        "image_file": [str(media["files"][i % 3][0]) for i in range(N)],
        "image_name": [f"p{i % 3}.png" for i in range(N)],
        "audio_file": [str(media["files"][i % 3][1]) for i in range(N)],
        "audio_name": [f"t{i % 3}.wav" for i in range(N)],
    })
    cfg = Config("items", rows, "item_id", media=(Media("picture", "image", "image_file", "image_name"), Media("sound", "audio", "audio_file", "audio_name")),
                 arrays=(Array("grid", (3, 4), "float16", "item_id", _values),), labels={"kind": ["a", "b"]}, **config)
    return Publication("toy", "Toy", folder, [cfg], "A toy.", [Source("made here", "all", "cc0-1.0", "no rights")], ["other"], ["toy"],
                       "@misc{toy, title={Toy}}", {"seed": 1})


def test_parquet_shards_roll_by_size_and_load_with_datasets(media, tmp_path, monkeypatch):
    pub = publication(media, tmp_path / "dataset")
    result = hf.export_hf(pub, tmp_path / "out", shard_mb=1e-6, log=lambda m: None)  # every row group starts a new file
    assert sorted(result["files"]) == [f"items/test-00000-of-00001.parquet"] + [f"items/train-0000{k}-of-00002.parquet" for k in range(2)] + [
        "items/validation-00000-of-00001.parquet"]
    ds = load_export(tmp_path / "out")
    assert {s: ds[s].num_rows for s in ds} == {"train": 100, "validation": 20, "test": 10}
    assert ds["train"].features["kind"].names == ["a", "b"] and ds["train"].features["grid"].shape == (3, 4)
    row = ds["validation"][0]
    assert row["item_id"] == "item-100" and row["kind"] == 1 and row["score"] == 100 / N
    assert isinstance(row["picture"], Image.Image) and np.asarray(row["picture"]).tolist() == np.asarray(Image.open(media["files"][1][0])).tolist()
    assert row["sound"]["bytes"] == media["files"][1][1].read_bytes() and row["sound"]["path"] == "t1.wav"
    assert np.array_equal(np.asarray(row["grid"]), np.full((3, 4), 100))
    assert hub.check(tmp_path / "out") == {"items": {"train": 100, "validation": 20, "test": 10}}


def test_media_can_stay_as_paths_and_the_card_says_so(media, tmp_path):
    pub = publication(media, tmp_path / "dataset")
    hf.export_hf(pub, tmp_path / "out", embed_media=False, log=lambda m: None)
    ds = load_export(tmp_path / "out")
    assert ds["test"][0]["sound"] == {"bytes": None, "path": str(media["files"][120 % 3][1])}
    assert isinstance(ds["test"][0]["picture"], Image.Image)  # decoded from the path
    assert "Media are not embedded" in (tmp_path / "out" / "README.md").read_text()


def test_a_new_export_drops_configs_it_no_longer_has_and_names_the_repo(media, tmp_path):
    pub = publication(media, tmp_path / "dataset")
    extra = Config("more", pub.configs[0].rows.select(["item_id", "score", "split"]), "item_id")
    pub.configs.append(extra)
    hf.export_hf(pub, tmp_path / "out", log=lambda m: None)
    assert (tmp_path / "out" / "more").is_dir()
    (tmp_path / "out" / "notes").mkdir()
    (tmp_path / "out" / "notes" / "mine.txt").write_text("kept")
    pub.configs.pop()
    hf.export_hf(pub, tmp_path / "out", log=lambda m: None, repo_id="someone/toy")
    assert not (tmp_path / "out" / "more").exists() and (tmp_path / "out" / "notes" / "mine.txt").exists()
    assert 'datasets.load_dataset("someone/toy"' in (tmp_path / "out" / "README.md").read_text()


def test_an_export_never_overwrites_the_dataset_folder(media, tmp_path):
    pub = publication(media, tmp_path)
    with pytest.raises(ValueError, match="not the dataset folder itself"):
        hf.export_hf(pub, tmp_path, log=lambda m: None)


@pytest.mark.parametrize("key, problem", [("item-001", "duplicate"), ("item.1", "dot")])
def test_keys_must_be_unique_and_dot_free(media, tmp_path, key, problem):
    pub = publication(media, tmp_path)
    rows = pub.configs[0].rows
    ids = rows.column("item_id").to_pylist()
    ids[0] = key
    with pytest.raises(ValueError, match="unique, non-null and without dots"):
        Config("items", rows.set_column(0, "item_id", pa.array(ids)), "item_id")


def test_licence_fields_and_sources(media, tmp_path):
    pub = publication(media, tmp_path)
    assert C.license_fields(pub) == {"license": "cc0-1.0"}
    pub.sources.append(Source("elsewhere", "music", "cc-by-4.0", "attribution"))
    assert C.license_fields(pub) == {"license": "other", "license_name": C.PER_SOURCE}
    assert C.license_fields(pub, "mit") == {"license": "mit"}
    paper = [Source("Paper corpus", "images", "other", "its terms")]
    declared = {"sources": [{"name": "Mine", "role": "images", "license": "cc-by-4.0", "terms": "attribution"}]}
    assert declared_sources(declared, {"images": tmp_path}, paper)[0].name == "Mine"
    assert declared_sources({}, {"images": tmp_path}, paper)[0].terms.startswith("its terms (the paper's source")
    (tmp_path / "corpus.json").write_text(json.dumps({"spec": {}}))
    (tmp_path / "images").mkdir()
    assert is_synthetic(tmp_path / "images") and declared_sources({}, {"images": tmp_path / "images"}, paper)[0].name == "synesthesia sample corpus"


def _digests(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.tar"))}


def test_webdataset_shards_round_trip_and_the_library_reads_them(media, tmp_path):
    import webdataset as wds

    pub = publication(media, tmp_path / "dataset")
    index = webdataset.export_webdataset(pub, tmp_path / "shards", max_samples=40, log=lambda m: None)
    train = index["configs"]["items"]["splits"]["train"]
    assert [s["samples"] for s in train["shards"]] == [40, 40, 20] and train["pattern"] == "items/train-{000000..000002}.tar"
    seen = {}
    for split, key, sample in W.iter_samples(tmp_path / "shards", "items"):
        row, got, arrays = W.split_sample(sample)
        assert sorted(sample) == ["grid.npy", "json", "png", "wav"]
        i = int(key.split("-")[1])
        assert row == {"item_id": key, "score": i / N, "kind": 1 if i % 3 else 0}
        assert got["image"][1] == media["files"][i % 3][0].read_bytes() and got["audio"][1] == media["files"][i % 3][1].read_bytes()
        assert np.array_equal(arrays["grid"], np.full((3, 4), i, np.float16))
        seen[key] = split
    assert len(seen) == N and seen["item-100"] == "validation"
    decoded = list(wds.WebDataset(str(tmp_path / "shards" / train["pattern"]), shardshuffle=False).decode("pil"))
    assert len(decoded) == 100 and decoded[5]["json"]["item_id"] == "item-005" and decoded[5]["png"].size == (12, 8)
    first = _digests(tmp_path / "shards")
    webdataset.export_webdataset(pub, tmp_path / "shards", max_samples=40, log=lambda m: None)
    assert _digests(tmp_path / "shards") == first  # the same folder always gives the same bytes
    assert W.training_folder(tmp_path / "dataset", "toy") == tmp_path / "dataset"  # a folder is used as it is
    with pytest.raises(ValueError, match="shards of a 'toy' dataset, not 'mpd'"):
        W.training_folder(tmp_path / "shards", "mpd")


# --- the Hub ------------------------------------------------------------------------------------

SECRET = "hf_not_a_real_token_1234567890"


def test_push_hands_the_export_to_the_hub_api(tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    (tmp_path / "README.md").write_text("---\n---\n")
    calls = []
    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id, kw)) or f"https://hub/datasets/{repo_id}")
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.append(("upload", kw)))
    assert hub.push(tmp_path, "someone/toy", private=True) == "https://hub/datasets/someone/toy"
    assert calls[0] == ("create", "someone/toy", {"repo_type": "dataset", "private": True, "exist_ok": True})
    upload = calls[1][1]
    assert upload["repo_id"] == "someone/toy" and upload["repo_type"] == "dataset" and upload["folder_path"] == str(tmp_path)
    assert ".*" in upload["ignore_patterns"] and "token" not in upload  # the library finds the token itself


def test_push_without_network_or_token_fails_in_one_line(tmp_path, monkeypatch):
    from huggingface_hub import constants

    (tmp_path / "README.md").write_text("---\n---\n")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))  # no stored login either
    with pytest.raises(hub.HubError, match="no Hugging Face token: set HF_TOKEN"):
        hub.push(tmp_path, "someone/toy")
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with pytest.raises(hub.HubError) as offline:  # the tests run with HF_HUB_OFFLINE=1
        hub.push(tmp_path, "someone/toy")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: a refused connection
    with pytest.raises(hub.HubError) as refused:
        hub.push(tmp_path, "someone/toy")
    for error in (offline, refused):
        message = str(error.value)
        assert message.startswith("could not upload to the Hugging Face Hub") and "\n" not in message and SECRET not in message
    assert "OfflineModeIsEnabled" in str(offline.value) and "ConnectError" in str(refused.value)


def test_a_thumbnail_shows_a_transparent_painting_composited_as_the_model_sees_it(tmp_path):
    """Red colour data under fully transparent pixels: the browser's thumbnail
    shows the background, not the hidden red (a plain RGB conversion would)."""
    from synesthesia.stages.publish.site import thumbnail

    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere ...
    rgba[16:48, 16:48, 3] = 255  # ... but only the centre is opaque
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut-out.png")
    thumbs = {bg: np.asarray(Image.open(tmp_path / thumbnail(str(tmp_path / "cut-out.png"), tmp_path, bg)), dtype=int) for bg in ("white", "black")}
    assert (thumbs["white"][2, 2] > 240).all() and (thumbs["black"][2, 2] < 15).all()  # corner: the background
    assert thumbs["white"][32, 32, 0] > 240 and thumbs["white"][32, 32, 1] < 15  # centre: the opaque red


def test_a_click_on_a_transparent_painting_opens_its_full_size_composite(tmp_path):
    """The card's full-size link: the composite (same size, hidden red never
    shown) for a transparent painting; the file itself for an opaque one,
    even when it has an alpha channel, and for a JPEG (header read only)."""
    from synesthesia.stages.publish.site import full_size

    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[10:30, 10:50, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut-out.png")
    rel = full_size(str(tmp_path / "cut-out.png"), tmp_path / "site", "black")
    shown = np.asarray(Image.open(tmp_path / "site" / rel))
    assert rel.startswith("full/") and shown.shape == (40, 60, 3)
    assert (shown[0, 0] == 0).all() and tuple(shown[20, 20]) == (255, 0, 0)
    assert full_size(str(tmp_path / "cut-out.png"), tmp_path / "site", "black") == rel  # made once
    assert full_size(str(tmp_path / "cut-out.png"), tmp_path / "site", "white") != rel
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    Image.fromarray(rgba[..., :3]).save(tmp_path / "photo.jpg")
    assert full_size(str(tmp_path / "opaque.png"), tmp_path / "site") is None
    assert full_size(str(tmp_path / "photo.jpg"), tmp_path / "site") is None
