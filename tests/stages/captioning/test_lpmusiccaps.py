"""LP-MusicCaps: a tiny config loads a state dict saved in the released key
layout (built here independently of our model code) and generates captions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from support.tiny_models import build_bart_tokenizer

from synesthesia.datasets.media import clip_starts
from synesthesia.stages.captioning import SegmentCaptionerConfig
from synesthesia.stages.captioning.lpmusiccaps import LPMusicCapsCaptioner, LPMusicCapsConfig, htk_mel_filterbank, load_model
from synesthesia.stages.captioning.steps import SEGMENT_CLIP

TINY_BART = dict(
    vocab_size=400, d_model=64, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
    encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
    eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2,
)


def released_state_dict(width: int, n_mels: int = 128, n_ctx: int = 32) -> dict:
    """A checkpoint's state dict as the release lays it out: BartCaptionModel
    with `bart` (transformers BART) and `audio_encoder` (mel front end with
    torchaudio-style `spec_fn.window` / `mel_scale.fb` buffers, conv1,
    5 strided convs, sinusoidal positional_embedding), saved from a
    DataParallel wrapper (`module.` prefix)."""
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(1)
    bart = BartForConditionalGeneration(BartConfig(**TINY_BART))
    sd = {f"bart.{k}": v.clone() for k, v in bart.state_dict().items()}
    sd["audio_encoder.mel_encoder.spec_fn.window"] = torch.hann_window(1024)
    sd["audio_encoder.mel_encoder.mel_scale.fb"] = torch.rand(513, n_mels)
    sd["audio_encoder.conv1.weight"] = torch.randn(width, n_mels, 3) * 0.05
    sd["audio_encoder.conv1.bias"] = torch.randn(width) * 0.05
    for i in range(5):
        sd[f"audio_encoder.conv_stack.{i}.weight"] = torch.randn(width, width, 3) * 0.05
        sd[f"audio_encoder.conv_stack.{i}.bias"] = torch.randn(width) * 0.05
    sd["audio_encoder.positional_embedding"] = torch.randn(n_ctx, width)
    return {f"module.{k}": v for k, v in sd.items()}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("lpmc")
    tok = build_bart_tokenizer(root / "bart-base")
    (tok / "config.json").write_text(json.dumps(TINY_BART))
    sd = released_state_dict(TINY_BART["d_model"])
    torch.save({"state_dict": sd, "epoch": 42}, root / "transfer.pth")
    return {"checkpoint": str(root / "transfer.pth"), "tokenizer": str(tok), "state_dict": sd}


def test_defaults_follow_the_release():
    cfg = LPMusicCapsConfig()
    assert (cfg.sample_rate, cfg.segment_seconds, cfg.num_beams, cfg.max_length) == (16_000, 10.0, 5, 128)
    assert (cfg.n_fft, cfg.hop_length, cfg.n_mels, cfg.f_max) == (1024, 160, 128, 8000.0)
    assert cfg.n_ctx == 32  # 1001 mel frames after conv1 and five stride-2 convs
    assert dict(cfg.bart)["d_model"] == 768 and dict(cfg.bart)["vocab_size"] == 50265
    # segments: pad a short track, drop a short tail
    assert SEGMENT_CLIP.clip_seconds == 10.0
    assert clip_starts(5 * 16_000, SEGMENT_CLIP) == [0]
    assert clip_starts(25 * 16_000, SEGMENT_CLIP) == [0, 160_000]


def test_released_layout_loads_and_generates(release):
    captioner = LPMusicCapsCaptioner(
        SegmentCaptionerConfig("lpmusiccaps", release["checkpoint"], release["tokenizer"]),
        LPMusicCapsConfig(max_length=12, batch_size=2),
    )
    loaded = captioner.net.state_dict()
    for key, value in release["state_dict"].items():
        assert torch.equal(loaded[key.removeprefix("module.")], value), key
    rng = np.random.default_rng(0)
    segments = rng.normal(0, 0.1, (3, 160_000)).astype(np.float32)
    captions = captioner.caption(segments, 16_000)
    assert len(captions) == 3 and all(isinstance(c, str) for c in captions)
    ids = captioner.net.generate(torch.from_numpy(segments[:1]))
    assert ids.shape[1] <= 12  # max_length bounds the beam search
    assert captioner.model == "transfer.pth"
    with pytest.raises(ValueError, match="10 s segments at 16000 Hz"):
        captioner.caption(segments[:, :1000], 16_000)


def test_front_end_is_real_part_power_log_mel(release):
    net, _ = load_model(release["checkpoint"], release["tokenizer"], LPMusicCapsConfig())
    wav = torch.from_numpy(np.random.default_rng(1).normal(0, 0.1, (1, 160_000)).astype(np.float32))
    mel = net.audio_encoder.mel_encoder(wav)[0].numpy()
    assert mel.shape == (128, 1001)
    # reference by hand: centred reflect-padded frames, periodic Hann, rfft, real part squared
    x = np.pad(wav[0].numpy().astype(np.float64), 512, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, 1024)[::160][:1001]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1024) / 1024)
    power = np.fft.rfft(frames * window, axis=1).real ** 2
    fb = release["state_dict"]["module.audio_encoder.mel_encoder.mel_scale.fb"].double().numpy()  # the checkpoint's filterbank is used
    expected = 10 * np.log10(np.maximum(power @ fb, 1e-10)).T
    assert np.allclose(mel, expected, atol=2e-2)
    assert net.audio_encoder(wav).shape == (1, 32, TINY_BART["d_model"])


def test_htk_filterbank_shape_and_band_edges():
    fb = htk_mel_filterbank(16_000, 1024, 128, 0.0, 8000.0)
    assert fb.shape == (513, 128) and fb.min() >= 0 and fb.max() <= 1.0
    assert (fb.sum(axis=0) > 0).all()  # every band has support


def test_missing_files_say_what_to_download(release, tmp_path):
    with pytest.raises(FileNotFoundError, match="transfer.pth.*--lpmusiccaps-checkpoint"):
        LPMusicCapsCaptioner(SegmentCaptionerConfig("lpmusiccaps", str(tmp_path / "transfer.pth"), release["tokenizer"]))
    with pytest.raises(FileNotFoundError, match="facebook/bart-base.*--bart-tokenizer"):
        LPMusicCapsCaptioner(SegmentCaptionerConfig("lpmusiccaps", release["checkpoint"], str(tmp_path)))
    bad = {k: v for k, v in release["state_dict"].items() if "conv_stack.4" not in k}
    torch.save({"state_dict": bad}, tmp_path / "broken.pth")
    with pytest.raises(ValueError, match="missing.*conv_stack.4"):
        load_model(tmp_path / "broken.pth", release["tokenizer"])
    assert Path(release["checkpoint"]).exists()
