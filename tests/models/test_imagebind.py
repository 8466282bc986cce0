"""ImageBind: model layout vs the official checkpoint, preprocessing,
checkpoint loading and the ``imagebind`` embedder (tiny random-weight models;
the full-size model only on the ``meta`` device)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from synesthesia.models.imagebind import checkpoint as ckpt
from synesthesia.models.imagebind import preprocess as pp
from synesthesia.models.embedders.imagebind import ImageBindEmbedder
from synesthesia.models.imagebind.model import IMAGEBIND_HUGE, Attention, ImageBind, ImageBindConfig
from synesthesia.models.embedders import get_embedder

TINY = ImageBindConfig(
    name="imagebind_tiny_test", embed_dim=16,
    vision_width=32, vision_layers=2, vision_heads=2,
    audio_width=24, audio_layers=2, audio_heads=2,
    text_width=32, text_layers=2, text_heads=2,
)


# --- the official key layout, derived by reading the official code -------------------------
#
# facebookresearch/ImageBind, imagebind/models/imagebind_model.py builds
# ``ImageBindModel`` from four nn.ModuleDicts keyed by modality, so every key is
# ``modality_{preprocessors,trunks,heads,postprocessors}.<modality>.<...>``.
# ``imagebind_huge()`` sets vision 1280 wide / 32 blocks, text 1024 / 24,
# out_embed_dim 1024 and keeps the class defaults audio 768 / 12, depth 384 /
# 12, thermal 768 / 12, IMU 512 / 6. The official file is loaded there with a
# strict ``load_state_dict``, so its keys are exactly this model's state_dict.
# (We also ran the official model code beside ours once and compared the
# state_dict and the outputs; see the README.)


def official_layout(
    out=1024, vision=(1280, 32), text=(1024, 24), audio=(768, 12), depth=(384, 12), thermal=(768, 12), imu=(512, 6)
) -> dict[str, tuple[int, ...]]:
    keys: dict[str, tuple[int, ...]] = {}

    def block(prefix: str, d: int, bias_kv: bool) -> None:
        # transformer.py BlockWithMasking: attn = nn.MultiheadAttention(d, heads,
        # bias=True, add_bias_kv=...) -> packed in_proj + out_proj (+ bias_k/v of
        # shape (1, 1, d)); norm_1/norm_2 LayerNorms; Mlp fc1 (4d) / fc2.
        keys[f"{prefix}.attn.in_proj_weight"] = (3 * d, d)
        keys[f"{prefix}.attn.in_proj_bias"] = (3 * d,)
        if bias_kv:
            keys[f"{prefix}.attn.bias_k"] = (1, 1, d)
            keys[f"{prefix}.attn.bias_v"] = (1, 1, d)
        keys[f"{prefix}.attn.out_proj.weight"] = (d, d)
        keys[f"{prefix}.attn.out_proj.bias"] = (d,)
        for norm in ("norm_1", "norm_2"):
            keys[f"{prefix}.{norm}.weight"] = (d,)
            keys[f"{prefix}.{norm}.bias"] = (d,)
        keys[f"{prefix}.mlp.fc1.weight"] = (4 * d, d)
        keys[f"{prefix}.mlp.fc1.bias"] = (4 * d,)
        keys[f"{prefix}.mlp.fc2.weight"] = (d, 4 * d)
        keys[f"{prefix}.mlp.fc2.bias"] = (d,)

    def trunk(name: str, d: int, n: int, bias_kv: bool, pre_ln: bool) -> None:
        # instantiate_trunk: pre_transformer_layer = Sequential(LayerNorm or
        # Identity, EinOpsRearrange) -> only the vision LayerNorm has ".0." keys.
        if pre_ln:
            keys[f"modality_trunks.{name}.pre_transformer_layer.0.weight"] = (d,)
            keys[f"modality_trunks.{name}.pre_transformer_layer.0.bias"] = (d,)
        for i in range(n):
            block(f"modality_trunks.{name}.blocks.{i}", d, bias_kv)

    def cls_and_pos(name: str, d: int, tokens: int) -> None:
        # RGBDTPreprocessor: cls_token (1, 1, d); SpatioTemporalPosEmbeddingHelper
        # (learnable) -> pos_embedding_helper.pos_embed (1, 1 + patches, d).
        keys[f"modality_preprocessors.{name}.cls_token"] = (1, 1, d)
        keys[f"modality_preprocessors.{name}.pos_embedding_helper.pos_embed"] = (1, tokens, d)

    P = "modality_preprocessors"
    dv, nv = vision
    # PatchEmbedGeneric keeps a multi-layer stem as a Sequential: [PadIm2Video,
    # Conv3d(3, dv, kernel=stride=(2, 14, 14), bias=False)] -> "proj.1.weight".
    keys[f"{P}.vision.rgbt_stem.proj.1.weight"] = (dv, 3, 2, 14, 14)
    cls_and_pos("vision", dv, 1 + (2 // 2) * (224 // 14) ** 2)
    dt, nt = text
    # TextPreprocessor(vocab 49408, context 77): embedding, pos_embed, causal mask buffer.
    keys[f"{P}.text.token_embedding.weight"] = (49408, dt)
    keys[f"{P}.text.pos_embed"] = (1, 77, dt)
    keys[f"{P}.text.mask"] = (77, 77)
    da, na = audio
    # A one-layer stem is stored bare ("proj.weight"): Conv2d(1, da, 16, stride 10)
    # over 128 x 204 -> 12 x 19 patches; LayerNorm norm_layer.
    keys[f"{P}.audio.rgbt_stem.proj.weight"] = (da, 1, 16, 16)
    keys[f"{P}.audio.rgbt_stem.norm_layer.weight"] = (da,)
    keys[f"{P}.audio.rgbt_stem.norm_layer.bias"] = (da,)
    cls_and_pos("audio", da, 1 + ((128 - 16) // 10 + 1) * ((204 - 16) // 10 + 1))
    dd, nd = depth
    # depth: RGBDTPreprocessor(rgbt_stem=None, depth_stem=Conv2d(1, dd, 16, stride 16)) on 224 x 224.
    keys[f"{P}.depth.depth_stem.proj.weight"] = (dd, 1, 16, 16)
    keys[f"{P}.depth.depth_stem.norm_layer.weight"] = (dd,)
    keys[f"{P}.depth.depth_stem.norm_layer.bias"] = (dd,)
    cls_and_pos("depth", dd, 1 + (224 // 16) ** 2)
    dth, nth = thermal
    keys[f"{P}.thermal.rgbt_stem.proj.weight"] = (dth, 1, 16, 16)
    keys[f"{P}.thermal.rgbt_stem.norm_layer.weight"] = (dth,)
    keys[f"{P}.thermal.rgbt_stem.norm_layer.bias"] = (dth,)
    cls_and_pos("thermal", dth, 1 + (224 // 16) ** 2)
    di, ni = imu
    # IMUPreprocessor: its own pos_embed (1, 2000 // 8 + 1, di), cls_token, Linear(48, di) stem + LayerNorm.
    keys[f"{P}.imu.pos_embed"] = (1, 2000 // 8 + 1, di)
    keys[f"{P}.imu.cls_token"] = (1, 1, di)
    keys[f"{P}.imu.imu_stem.proj.weight"] = (di, 48)
    keys[f"{P}.imu.imu_stem.norm_layer.weight"] = (di,)
    keys[f"{P}.imu.imu_stem.norm_layer.bias"] = (di,)

    trunk("vision", dv, nv, bias_kv=False, pre_ln=True)
    trunk("text", dt, nt, bias_kv=False, pre_ln=False)
    for name, (d, n) in (("audio", audio), ("depth", depth), ("thermal", thermal), ("imu", imu)):
        trunk(name, d, n, bias_kv=True, pre_ln=False)

    # heads: Sequential(LayerNorm, SelectElement, Linear(bias=False)); IMU has a
    # Dropout before the Linear (index 3); text is SelectEOSAndProject(proj=Sequential(LN, Linear)).
    for name, d in (("vision", dv), ("audio", da), ("depth", dd), ("thermal", dth), ("imu", di)):
        keys[f"modality_heads.{name}.0.weight"] = (d,)
        keys[f"modality_heads.{name}.0.bias"] = (d,)
        keys[f"modality_heads.{name}.{3 if name == 'imu' else 2}.weight"] = (out, d)
    keys["modality_heads.text.proj.0.weight"] = (dt,)
    keys["modality_heads.text.proj.0.bias"] = (dt,)
    keys["modality_heads.text.proj.1.weight"] = (out, dt)
    # postprocessors: Sequential(Normalize, LearnableLogitScaling) -> a scalar
    # log_logit_scale (parameter for text, buffer for the others); vision has none.
    for name in ("text", "audio", "depth", "thermal", "imu"):
        keys[f"modality_postprocessors.{name}.1.log_logit_scale"] = ()
    return keys


def tiny_layout() -> dict[str, tuple[int, ...]]:
    return official_layout(
        out=TINY.embed_dim, vision=(TINY.vision_width, TINY.vision_layers), text=(TINY.text_width, TINY.text_layers),
        audio=(TINY.audio_width, TINY.audio_layers), depth=(16, 1), thermal=(16, 1), imu=(16, 1),
    )


def ours_only(layout: dict) -> dict:
    return {k: v for k, v in layout.items() if k.split(".")[1] in ("vision", "text", "audio")}


def random_official_state_dict(layout: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in layout.items():
        if key.endswith(".mask"):
            state[key] = torch.full(shape, float("-inf")).triu_(1)
        elif key.endswith("log_logit_scale"):
            state[key] = torch.tensor(math.log(20.0 if ".audio." in key else 1 / 0.07))
        elif key.endswith(("norm_1.weight", "norm_2.weight", ".0.weight")) and len(shape) == 1:
            state[key] = 1 + 0.05 * torch.randn(shape, generator=g)
        else:
            state[key] = 0.05 * torch.randn(shape, generator=g)
    return state


# --- model layout --------------------------------------------------------------------------


def test_full_size_model_on_meta_has_the_official_names_and_shapes():
    with torch.device("meta"):
        model = ImageBind(IMAGEBIND_HUGE)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = ours_only(official_layout())
    assert sorted(set(expected) - set(ours)) == []  # nothing missing
    assert sorted(set(ours) - set(expected)) == []  # nothing extra
    assert ours == expected
    assert len(ours) == 864
    # the size we quote for the official file counts all six modalities
    assert sum(math.prod(s) for s in official_layout().values()) == ckpt.CHECKPOINT_VALUES


def test_tiny_model_runs_all_three_modalities():
    torch.manual_seed(0)
    model = ImageBind(TINY).eval()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == ours_only(tiny_layout())
    with torch.no_grad():
        image = model.encode_image(torch.randn(2, 3, 224, 224))
        tokens = torch.zeros(2, 77, dtype=torch.long)
        tokens[:, :4] = torch.tensor([[49406, 320, 1125, 49407], [49406, 2368, 49407, 0]])
        text = model.encode_text(tokens)
        mels = torch.randn(2, 3, 1, 128, 204)
        audio = model.encode_audio(mels)
        clips = model.encode_audio(mels.flatten(0, 1).unsqueeze(1))  # each clip alone
    assert image.shape == text.shape == audio.shape == (2, TINY.embed_dim)
    assert torch.allclose(image.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(text.norm(dim=-1), torch.full((2,), 1 / 0.07), atol=1e-4)  # × learned logit scale
    assert torch.allclose(clips.norm(dim=-1), torch.full((6,), 20.0), atol=1e-4)  # audio × fixed 20
    assert torch.allclose(audio, clips.view(2, 3, -1).mean(dim=1), atol=1e-5)  # a track = mean of its clips
    assert not torch.allclose(audio[0], audio[1])
    out = model({"vision": torch.randn(1, 3, 224, 224)})
    assert set(out) == {"vision"}


@pytest.mark.parametrize("add_bias_kv, causal", [(True, False), (False, True), (False, False)])
def test_attention_matches_torch_multihead_attention(add_bias_kv, causal):
    # The official trunks use nn.MultiheadAttention on [L, B, D]; ours must load
    # the same parameters (strict) and compute the same thing.
    torch.manual_seed(1)
    ours = Attention(32, 4, add_bias_kv)
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.2)
    reference = torch.nn.MultiheadAttention(32, 4, bias=True, add_bias_kv=add_bias_kv)
    reference.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(3, 10, 32)
    mask = torch.full((10, 10), float("-inf")).triu_(1) if causal else None
    expected = reference(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), need_weights=False, attn_mask=mask)[0]
    assert torch.allclose(ours(x, mask), expected.transpose(0, 1), atol=1e-5)


def test_text_embedding_reads_the_end_of_text_token_only_through_earlier_tokens():
    torch.manual_seed(0)
    model = ImageBind(TINY).eval()
    tokens = torch.zeros(2, 77, dtype=torch.long)
    tokens[:, :5] = torch.tensor([49406, 320, 1125, 539, 49407])
    tokens[1, 5:9] = torch.tensor([5, 6, 7, 8])  # after <|endoftext|>: causal mask hides them
    changed = tokens.clone()
    changed[0, 2] = 2368  # before it: must matter
    with torch.no_grad():
        a = model.encode_text(tokens)
        b = model.encode_text(changed)
    assert torch.allclose(a[0], a[1], atol=1e-5)
    assert not torch.allclose(a[0], b[0], atol=1e-3)


# --- checkpoint ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    layout = tiny_layout()
    state = random_official_state_dict(layout)
    path = tmp_path_factory.mktemp("imagebind") / "imagebind_tiny.pth"
    torch.save(state, path)
    return path, state, layout


def test_official_layout_checkpoint_loads_strictly_sets_aside_other_modalities_and_embeds(tiny_checkpoint, tmp_path):
    path, state, layout = tiny_checkpoint
    embedder = get_embedder("imagebind", checkpoint=str(path), config=TINY, device="cpu", workers=2, batch_size=2)
    assert isinstance(embedder, ImageBindEmbedder)
    report = embedder.load_report
    assert report.loaded == len(ours_only(layout))
    for modality in ("depth", "thermal", "imu"):
        expected = sorted(k for k in layout if k.split(".")[1] == modality)
        assert sorted(report.set_aside[modality]) == expected and expected
    assert "depth" in report.summary() and str(path) in report.summary()
    # every kept tensor is the file's value
    loaded = embedder.model.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in ours_only(layout))
    assert embedder.model.dtype == torch.float32 and not embedder.model.training

    rng = np.random.default_rng(0)
    images = [Image.fromarray((rng.random((90 + 20 * i, 120, 3)) * 255).astype(np.uint8)) for i in range(3)]
    waves = [(0.1 * rng.standard_normal(int(s * 16000))).astype(np.float32) for s in (1.0, 5.0, 8.5)]
    texts = ["a calm impressionist landscape", "an energetic rock song with distorted guitars", "a dog"]
    outputs = [embedder.embed_images(images), embedder.embed_audio(waves, 16000), embedder.embed_texts(texts)]
    for out in outputs:
        assert out.shape == (3, TINY.embed_dim) and out.dtype == np.float32
        assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
        assert len({tuple(np.round(row, 5)) for row in out}) == 3  # inputs differ -> embeddings differ
    # deterministic, across calls and across a fresh load of the same file
    again = ImageBindEmbedder(path, config=TINY, device="cpu", workers=1, batch_size=2)
    assert np.array_equal(outputs[0], again.embed_images(images))
    assert np.array_equal(outputs[1], again.embed_audio(waves, 16000))
    assert np.array_equal(outputs[2], embedder.embed_texts(texts))
    again.batch_size = again.audio_batch_size = 3  # other batch sizes: same up to float rounding
    assert np.allclose(outputs[0], again.embed_images(images), atol=1e-6)
    assert np.allclose(outputs[1], again.embed_audio(waves, 16000), atol=1e-6)
    # an image given as path, bytes or array is the same image
    buffer = io.BytesIO()
    images[0].save(buffer, format="PNG")
    (tmp_path / "x.png").write_bytes(buffer.getvalue())
    as_other = embedder.embed_images([str(tmp_path / "x.png"), buffer.getvalue(), np.asarray(images[0])])
    assert np.allclose(as_other, outputs[0][[0, 0, 0]], atol=1e-6)
    # audio at another rate is resampled to 16 kHz first
    from synesthesia.datasets.media import resample

    at_44k = resample(waves[1], 16000, 44100)
    assert np.allclose(embedder.embed_audio([at_44k], 44100), embedder.embed_audio([resample(at_44k, 44100, 16000)], 16000))
    assert embedder.embed_texts([]).shape == (0, TINY.embed_dim)
    with pytest.raises(ValueError, match="mono"):
        embedder.embed_audio([np.zeros((2, 16000), np.float32)], 16000)
    with pytest.raises(ValueError, match="empty"):
        embedder.embed_audio([np.zeros(0, np.float32)], 16000)


def test_checkpoint_with_a_missing_or_unknown_key_is_refused(tiny_checkpoint, tmp_path):
    _, state, _ = tiny_checkpoint
    missing = dict(state)
    del missing["modality_trunks.audio.blocks.1.attn.bias_k"]
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(RuntimeError, match="modality_trunks.audio.blocks.1.attn.bias_k"):
        ckpt.load_imagebind(tmp_path / "missing.pth", TINY, device="cpu")
    extra = dict(state)
    extra["modality_trunks.vision.blocks.7.norm_1.weight"] = torch.ones(TINY.vision_width)
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(RuntimeError, match="modality_trunks.vision.blocks.7.norm_1.weight"):
        ckpt.load_imagebind(tmp_path / "extra.pth", TINY, device="cpu")
    wrong_shape = dict(state)
    wrong_shape["modality_heads.vision.2.weight"] = torch.zeros(8, TINY.vision_width)
    torch.save(wrong_shape, tmp_path / "shape.pth")
    with pytest.raises(RuntimeError, match="modality_heads.vision.2.weight"):
        ckpt.load_imagebind(tmp_path / "shape.pth", TINY, device="cpu")


class _NotATensor:
    pass


def test_checkpoint_is_read_with_weights_only(tmp_path):
    torch.save({"x": _NotATensor()}, tmp_path / "pickle.pth")
    with pytest.raises(Exception, match="[Ww]eights only"):
        ckpt.read_state_dict(tmp_path / "pickle.pth")


def test_missing_checkpoint_names_the_download_url_and_size(tmp_path, monkeypatch):
    monkeypatch.delenv(ckpt.CHECKPOINT_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError) as error:
        ImageBindEmbedder(tmp_path / "nope.pth", config=TINY, device="cpu")
    message = str(error.value)
    assert ckpt.CHECKPOINT_URL in message and "4.8" in message and str(tmp_path / "nope.pth") in message
    with pytest.raises(FileNotFoundError, match=ckpt.CHECKPOINT_ENV):  # default location: says how to configure
        ckpt.resolve_checkpoint()
    (tmp_path / "env.pth").write_bytes(b"")
    monkeypatch.setenv(ckpt.CHECKPOINT_ENV, str(tmp_path / "env.pth"))
    assert ckpt.resolve_checkpoint() == tmp_path / "env.pth"
    assert ckpt.resolve_checkpoint(tmp_path / "env.pth") == tmp_path / "env.pth"
    monkeypatch.delenv(ckpt.CHECKPOINT_ENV)
    ckpt.default_checkpoint_path().parent.mkdir(parents=True)
    ckpt.default_checkpoint_path().write_bytes(b"")
    assert ckpt.resolve_checkpoint() == tmp_path / "cache" / "synesthesia" / "imagebind_huge.pth"


def test_inference_dtype_is_float32_on_cpu_and_half_precision_on_request():
    assert ckpt.inference_dtype(torch.device("cpu")) == torch.float32
    assert ckpt.inference_dtype(torch.device("cpu"), "bfloat16") == torch.bfloat16
    assert ckpt.inference_dtype(torch.device("cpu"), torch.float16) == torch.float16


# --- audio preprocessing -------------------------------------------------------------------


def test_audio_defaults_are_the_official_ones():
    c = pp.AudioConfig()
    assert (c.sample_rate, c.clip_seconds, c.clips_per_file) == (16000, 2.0, 3)
    assert (c.fbank.num_mel_bins, c.target_frames, c.mean, c.std) == (128, 204, -4.268, 9.138)
    assert (c.fbank.frame_length_ms, c.fbank.frame_shift_ms, c.fbank.low_freq, c.fbank.preemphasis) == (25.0, 10.0, 20.0, 0.97)
    assert (c.fbank.frame_size, c.fbank.frame_shift, c.fbank.n_fft) == (400, 160, 512)


def test_clip_placement_for_files_shorter_and_longer_than_six_seconds():
    assert pp.clip_bounds(160000) == [(0, 32000), (64000, 96000), (128000, 160000)]  # 10 s: spread to the end
    assert pp.clip_bounds(96000) == [(0, 32000), (32000, 64000), (64000, 96000)]  # 6 s: back to back
    assert pp.clip_bounds(64000) == [(0, 32000), (16000, 48000), (32000, 64000)]  # 4 s: overlapping
    assert pp.clip_bounds(24000) == [(0, 32000)] * 3  # 1.5 s: three copies of the whole file
    # 32004 samples: the sampler uses the float duration 32004 / 16000, whose
    # binary value is a hair below 2.00025 s; Fraction keeps that, so the later
    # clips start 1 and 3 samples in, not 2 and 4 (checked against
    # pytorchvideo's ConstantClipsPerVideoSampler on 90,000 lengths).
    assert pp.clip_bounds(32004) == [(0, 32000), (1, 32001), (3, 32003)]


def test_fbank_128_bins_keeps_the_empty_filter_as_log_eps():
    filters = pp.kaldi_mel_filters(128, 512, 16000.0, 20.0)
    empty = np.flatnonzero(filters.sum(axis=1) == 0)
    assert empty.tolist() == [3]
    fbank = pp.kaldi_fbank(np.random.default_rng(0).standard_normal(32000).astype(np.float32) * 0.1)
    assert fbank.shape == (198, 128)
    assert np.all(fbank[:, 3] == np.log(np.finfo(np.float32).eps))
    others = np.delete(fbank, 3, axis=1)
    assert np.all(others.max(axis=0) > np.log(np.finfo(np.float32).eps) + 1)  # real filters see energy


def test_audio_features_shape_padding_and_normalisation():
    rng = np.random.default_rng(3)
    y = (0.2 * rng.standard_normal(int(7.5 * 16000)) + 0.1).astype(np.float32)
    features = pp.audio_features(y)
    assert features.shape == (3, 1, 128, 204) and features.dtype == np.float32
    for k, (start, end) in enumerate(pp.clip_bounds(len(y))):
        clip = y[start:end] - y[start:end].mean()  # clips do not overlap here
        expected = pp.kaldi_fbank(clip).T  # 198 frames
        assert expected.shape == (128, 198)
        assert np.allclose(features[k, 0, :, :198] * 9.138 - 4.268, expected, atol=1e-4)
        # frames 198..203 are zero padding, normalised like everything else
        assert np.allclose(features[k, 0, :, 198:], (0 + 4.268) / 9.138)
    longer = pp.audio_features(y, pp.AudioConfig(clip_seconds=3.0))  # 298 frames, cut to 204
    assert longer.shape == (3, 1, 128, 204)
    assert np.allclose(longer[0, 0] * 9.138 - 4.268, pp.kaldi_fbank(y[:48000] - y[:48000].mean()).T[:, :204], atol=1e-4)
    tiny = pp.audio_features(np.ones(100, np.float32))  # shorter than one 25 ms frame: all padding
    assert np.allclose(tiny, 4.268 / 9.138)


def test_overlapping_clips_see_the_earlier_clips_mean_subtraction():
    # The official loader subtracts each clip's mean through a view of the
    # shared waveform; for a 4 s file the second clip overlaps the first.
    t = np.arange(64000) / 16000
    y = (0.2 * np.sin(2 * np.pi * 300 * t) + 0.5 * (t > 1.5)).astype(np.float32)
    features = pp.audio_features(y)
    shared = y.copy()
    shared[0:32000] -= shared[0:32000].mean()
    second = shared[16000:48000] - shared[16000:48000].mean()
    expected = (pp.kaldi_fbank(second).T - -4.268) / 9.138
    assert np.allclose(features[1, 0, :, :198], expected, atol=1e-4)
    independent = (pp.kaldi_fbank(y[16000:48000] - y[16000:48000].mean()).T + 4.268) / 9.138
    assert np.abs(features[1, 0, :, :198] - independent).max() > 0.05


# --- image preprocessing -------------------------------------------------------------------


def _normalise(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32).transpose(2, 0, 1) / 255
    return (x - np.array(pp.CLIP_MEAN, np.float32)[:, None, None]) / np.array(pp.CLIP_STD, np.float32)[:, None, None]


def test_image_resize_bicubic_and_centre_crop():
    rng = np.random.default_rng(0)
    wide = Image.fromarray((rng.random((200, 300, 3)) * 255).astype(np.uint8))
    assert pp.resized_size(300, 200) == (336, 224) and pp.resized_size(200, 301) == (224, 337)
    expected = np.asarray(wide.resize((336, 224), Image.BICUBIC))[:, 56:280]
    assert np.array_equal(pp.image_pixels(wide), _normalise(expected))
    # no resize needed; (225 - 224) / 2 = 0.5 rounds to 0 and 1.5 rounds to 2 (half to even)
    a = (rng.random((224, 225, 3)) * 255).astype(np.uint8)
    assert np.array_equal(pp.image_pixels(a), _normalise(a[:, 0:224]))
    b = (rng.random((227, 224, 3)) * 255).astype(np.uint8)
    assert np.array_equal(pp.image_pixels(b), _normalise(b[2:226]))
    grey = Image.new("L", (50, 80), color=128)  # converted to RGB
    out = pp.image_pixels(grey)
    assert out.shape == (3, 224, 224)
    assert np.allclose(out[:, 0, 0], (128 / 255 - np.array(pp.CLIP_MEAN)) / np.array(pp.CLIP_STD), atol=1e-6)


# --- long text -----------------------------------------------------------------------------


def test_long_text_windows_cover_every_sentence(tiny_checkpoint):
    path, _, _ = tiny_checkpoint
    embedder = ImageBindEmbedder(path, config=TINY, device="cpu", long_text="windows", batch_size=4)
    sentences = [f"Sentence number {i} describes a quiet harbour at dawn with fishing boats." for i in range(12)]
    text = " ".join(sentences)
    assert embedder.text_token_counts([text, "a dog"])[0] > 77 and embedder.text_token_counts(["a dog"]) == [4]
    rows = embedder.text_windows(text)
    assert len(rows) > 1
    body = []
    for row in rows:
        end = int(np.argmax(row))
        assert row[0] == 49406 and row[end] == 49407 and end <= 76
        body.extend(row[1:end].tolist())
    assert body == [i for s in sentences for i in embedder.tokenizer.encode(s)]  # nothing lost, nothing repeated
    windowed = embedder.embed_texts([text, "a dog"])
    assert np.allclose(np.linalg.norm(windowed, axis=1), 1, atol=1e-5)
    embedder.long_text = "truncate"
    truncated = embedder.embed_texts([text, "a dog"])
    assert np.allclose(windowed[1], truncated[1], atol=1e-6)  # short text: one window = the official row
    assert not np.allclose(windowed[0], truncated[0], atol=1e-3)
