"""A tiny, random-weight AudioLDM 2 pipeline built from configs, offline.

For tests, smoke runs and demos on a machine without the hub: every
component has AudioLDM 2's real class and wiring (CLAP + Flan-T5 text
encoders, the projection model, GPT-2, the two-stream UNet, the VAE over
64-bin log-mels, a HiFi-GAN vocoder at 16 kHz with 160× upsampling and a
DDIM scheduler with AudioLDM 2's noise schedule), only small and untrained.
The tokenizers are real ``RobertaTokenizer``/``T5Tokenizer`` objects built
from a vocabulary made here (byte-level BPE without merges; a character
unigram model). Save it with ``save_pretrained`` and it loads through the
same :func:`~synesthesia.models.art2mus.model.load_audioldm2` as the real one.
"""

from __future__ import annotations

import string
from pathlib import Path


def tiny_tokenizers(max_length: int = 77):
    """(RobertaTokenizer, T5Tokenizer), built offline."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import RobertaTokenizer, T5Tokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in sorted(ByteLevel.alphabet()):
        vocab.setdefault(ch, len(vocab))
    vocab["<mask>"] = len(vocab)
    roberta = RobertaTokenizer(vocab=vocab, merges=[], model_max_length=max_length)
    chars = string.ascii_letters + string.digits + ".,'!?-"
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in chars] + [("▁" + c, -2.5) for c in string.ascii_lowercase]
    t5 = T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=max_length)
    return roberta, t5


def build_tiny_audioldm2(seed: int = 0, lm_dim: int = 16, t5_dim: int = 32, n_mels: int = 64, max_new_tokens: int = 8):
    """A random-weight ``AudioLDM2Pipeline`` of about a million parameters."""
    import torch
    from diffusers import AudioLDM2Pipeline, AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel, AutoencoderKL, DDIMScheduler
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
        GPT2Config,
        GPT2Model,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
        T5Config,
        T5EncoderModel,
    )

    roberta, t5_tok = tiny_tokenizers()
    torch.manual_seed(seed)
    unet = AudioLDM2UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        # three attention streams per block, as AudioLDM 2: self, GPT-2's LoA, Flan-T5
        cross_attention_dim=([None, lm_dim, t5_dim], [None, lm_dim, t5_dim]), norm_num_groups=8, attention_head_dim=4,
    )
    # AudioLDM 2's schedule (scaled linear 0.0015 → 0.0195 over 1000 steps).
    scheduler = DDIMScheduler(beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear", num_train_timesteps=1000,
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon")
    vae = AutoencoderKL(in_channels=1, out_channels=1, latent_channels=4, block_out_channels=(8, 16, 16), norm_num_groups=4,
                        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3, sample_size=64)
    text = ClapTextConfig(vocab_size=len(roberta), hidden_size=16, intermediate_size=24, num_attention_heads=2, num_hidden_layers=1,
                          projection_dim=16, bos_token_id=0, eos_token_id=2, pad_token_id=1, max_position_embeddings=80)
    audio = ClapAudioConfig(spec_size=64, window_size=4, num_mel_bins=64, intermediate_size=24, depths=[1, 1], num_attention_heads=[2, 2],
                            num_hidden_layers=2, hidden_size=16, projection_dim=16, patch_size=2, patch_stride=2, patch_embed_input_channels=4)
    clap = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16))
    t5 = T5EncoderModel(T5Config(vocab_size=len(t5_tok), d_model=t5_dim, d_ff=40, d_kv=8, num_heads=2, num_layers=1))
    gpt2 = GPT2Model(GPT2Config(n_embd=lm_dim, n_head=2, n_layer=1, vocab_size=64, n_positions=64, bos_token_id=0, eos_token_id=0))
    gpt2.config.max_new_tokens = max_new_tokens
    projection = AudioLDM2ProjectionModel(text_encoder_dim=16, text_encoder_1_dim=t5_dim, langauge_model_dim=lm_dim)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=n_mels, sampling_rate=16_000, upsample_initial_channel=16, upsample_rates=[10, 4, 4],
        upsample_kernel_sizes=[20, 8, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]], normalize_before=False,
    ))
    return AudioLDM2Pipeline(
        vae=vae, text_encoder=clap, text_encoder_2=t5, projection_model=projection, language_model=gpt2,
        tokenizer=roberta, tokenizer_2=t5_tok, feature_extractor=ClapFeatureExtractor(), unet=unet, scheduler=scheduler,
        vocoder=vocoder,
    )


def save_tiny_audioldm2(folder: str | Path, **kwargs) -> Path:
    """Build and ``save_pretrained`` a tiny pipeline into ``folder``."""
    folder = Path(folder)
    build_tiny_audioldm2(**kwargs).save_pretrained(folder)
    return folder
