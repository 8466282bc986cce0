"""Art2Mus against AudioLDM 2 as released: every component built from the
released configuration files (fixtures/audioldm2/, see its README) at full
size on the meta device (shapes and dtypes, no weights), with Art2Mus's
aligner and conditioning path run through them as training and generation
run them. What a tiny test pipeline cannot show: that the aligner's tokens
have GPT-2's width, that the LoA and Flan-T5 states match the UNet's two
cross-attention widths, that the frontend's mel fits the VAE, the UNet and
the vocoder, in bfloat16 as on a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from support.released import read_config, shape_only_masks

from synesthesia.models.art2mus import config as C
from synesthesia.models.art2mus.model import DEFAULT_LOA_TOKENS, Art2Mus, load_audioldm2

FIXTURE = Path(__file__).parent / "fixtures" / "audioldm2"


def _released_pipeline():
    from diffusers import AudioLDM2Pipeline, AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel, AutoencoderKL, DDIMScheduler
    from transformers import (ClapConfig, ClapFeatureExtractor, ClapModel, GPT2Config, GPT2Model, SpeechT5HifiGan,
                              SpeechT5HifiGanConfig, T5Config, T5EncoderModel)

    from synesthesia.models.art2mus.tiny import tiny_tokenizers

    cfg = lambda name: read_config(FIXTURE, name)  # noqa: E731
    with torch.device("meta"):
        parts = dict(
            unet=AudioLDM2UNet2DConditionModel.from_config(cfg("unet/config.json")),
            vae=AutoencoderKL.from_config(cfg("vae/config.json")),
            projection_model=AudioLDM2ProjectionModel.from_config(cfg("projection_model/config.json")),
            language_model=GPT2Model(GPT2Config.from_dict(cfg("language_model/config.json"))),
            text_encoder=ClapModel(ClapConfig.from_dict(cfg("text_encoder/config.json"))),
            text_encoder_2=T5EncoderModel(T5Config.from_dict(cfg("text_encoder_2/config.json"))),
            vocoder=SpeechT5HifiGan(SpeechT5HifiGanConfig.from_dict(cfg("vocoder/config.json"))),
        )
    roberta, t5 = tiny_tokenizers()  # the released tokenizers' vocabularies are not here; no id reaches the aligner
    return AudioLDM2Pipeline(**parts, tokenizer=roberta, tokenizer_2=t5, feature_extractor=ClapFeatureExtractor(),
                             scheduler=DDIMScheduler.from_config(cfg("scheduler/scheduler_config.json")))


@pytest.fixture(scope="module")
def released():
    pipe = _released_pipeline()
    pipe.to(torch.bfloat16)  # the frozen components as training holds them on a GPU (mixed_precision="bf16")
    model = Art2Mus(pipe, C.Art2MusConfig())  # the paper's ImageBind configuration: 1024-d, 16 tokens
    model.aligner.to("meta")  # the trainable aligner stays float32
    return model


def test_the_papers_sizes_are_the_released_ones(released):
    lm, unet, proj = released.pipe.language_model.config, released.pipe.unet.config, released.pipe.projection_model.config
    assert lm.n_embd == C.GPT2_DIM == proj.langauge_model_dim == 768
    assert lm.max_new_tokens == DEFAULT_LOA_TOKENS == released.loa_tokens == 8
    assert released.pipe.text_encoder_2.config.d_model == proj.text_encoder_1_dim == 1024
    assert all(dims == [None, C.GPT2_DIM, 1024] for dims in unet.cross_attention_dim)  # self, LoA stream, Flan-T5 stream
    aligner = released.aligner
    assert aligner.projection[0].in_features == C.STAGING_DIM and aligner.projection[0].out_features == 2 * lm.n_embd
    assert aligner.projection[2].out_features == C.TOKENS_IMAGEBIND * lm.n_embd
    assert all(p.dtype == torch.float32 for p in aligner.parameters())


def test_aligner_tokens_and_loa_plug_into_gpt2_and_the_unet(released, monkeypatch):
    shape_only_masks(monkeypatch)
    embeddings = torch.zeros(2, C.IMAGEBIND_DIM, device="meta")
    assert released.aligner(embeddings).shape == (2, C.TOKENS_IMAGEBIND, C.GPT2_DIM)
    loa = released.image_loa(embeddings)
    assert loa.shape == (2, 8, 768) and loa.dtype == torch.bfloat16
    c = released.conditions(embeddings)
    assert c["t5"].shape[::2] == (2, 1024) and c["t5"].dtype == torch.bfloat16 and c["neg_loa"].shape == loa.shape
    assert c["t5_mask"].shape == c["t5"].shape[:2] and c["t5_mask"].dtype == torch.long
    latents = torch.zeros(2, 8, 256, 16, device="meta", dtype=torch.bfloat16)  # 10.24 s of 64-bin mel, through the VAE
    eps = released.predict_noise(latents, torch.zeros(2, dtype=torch.long, device="meta"), embeddings, guidance_scale=3.5)
    assert eps.shape == latents.shape and eps.dtype == torch.bfloat16


def test_the_frontend_mel_fits_the_vae_unet_and_vocoder(released):
    front = C.FrontEndConfig()
    mel = torch.zeros(2, front.target_frames, front.mel.n_mels, device="meta")
    latents = released.encode_mel(mel)
    unet = released.pipe.unet.config
    assert latents.shape == (2, unet.in_channels, unet.sample_size, front.mel.n_mels // 4) == (2, 8, 256, 16)
    assert released.pipe.vae.config.scaling_factor == pytest.approx(0.4110932946205139)
    vocoder = released.pipe.vocoder
    assert vocoder.config.model_in_dim == front.mel.n_mels and released.sample_rate == front.mel.sample_rate == 16_000
    waveform = vocoder(mel.to(torch.bfloat16))
    assert waveform.shape[-1] >= front.target_frames * front.mel.hop_length  # 160 samples per frame


def test_the_tiny_test_pipeline_has_the_released_noise_schedule():
    from synesthesia.models.art2mus.tiny import build_tiny_audioldm2

    released = read_config(FIXTURE, "scheduler/scheduler_config.json")
    tiny = dict(build_tiny_audioldm2().scheduler.config)
    for key in ("beta_start", "beta_end", "beta_schedule", "num_train_timesteps", "prediction_type", "clip_sample",
                "set_alpha_to_one", "steps_offset"):
        assert tiny[key] == released[key], key


def test_a_missing_checkpoint_is_one_line_saying_what_to_download_and_where(tmp_path):
    with pytest.raises(FileNotFoundError) as missing:
        load_audioldm2(str(tmp_path / "not-downloaded"))
    message = str(missing.value)
    assert "\n" not in message and "hf download cvssp/audioldm2-music --local-dir DIR" in message and "--audioldm2 DIR" in message
