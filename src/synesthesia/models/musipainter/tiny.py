"""Tiny random-weight Stable Diffusion and BEATs, built offline from configs.

Every component has the real class (``CLIPTokenizer``, ``CLIPTextModel``,
``AutoencoderKL``, ``UNet2DConditionModel``, SD v1-4's schedulers; our
:class:`BEATs`), only small and untrained, so the loading, training and
generation code runs unchanged on a machine without the hub. The CLIP
tokenizer is byte-level BPE with an empty merge list (one token per
character) written here; ``save_tiny_sd`` writes a diffusers folder that
``from_pretrained`` reads like the real ``CompVis/stable-diffusion-v1-4``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from synesthesia.models.musipainter.beats import BEATs, BEATsConfig

#: Same structure as the released BEATs (12 layers, relative positions, GRU
#: gate, deep norm, fine-tuned head), small widths.
TINY_BEATS = BEATsConfig(
    embed_dim=16, encoder_embed_dim=24, encoder_ffn_embed_dim=32, encoder_attention_heads=2,
    conv_pos=8, conv_pos_groups=2, num_buckets=32, max_distance=64, predictor_class=5,
)
TINY_TEXT_DIM = 32


def save_tiny_beats(path: str | Path, seed: int = 0, cfg: BEATsConfig = TINY_BEATS) -> Path:
    """A random BEATs checkpoint in the official file layout ``{"cfg", "model"}``."""
    import dataclasses

    torch.manual_seed(seed)
    model = BEATs(cfg)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"cfg": dataclasses.asdict(cfg), "model": model.state_dict()}, path)
    return path


def tiny_clip_tokenizer(max_length: int = 77):
    """A ``CLIPTokenizer`` over single byte-level characters (no merges)."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    chars = sorted(ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(chars)}
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def save_tiny_sd(folder: str | Path, seed: int = 0, text_dim: int = TINY_TEXT_DIM, sample_size: int = 32) -> Path:
    """A random-weight ``StableDiffusionPipeline`` saved with ``save_pretrained``."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = tiny_clip_tokenizer()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer), hidden_size=text_dim, intermediate_size=2 * text_dim, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        )
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"), up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        norm_num_groups=8, sample_size=sample_size,
    )
    unet = UNet2DConditionModel(
        sample_size=sample_size // 2, in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=text_dim, attention_head_dim=4, norm_num_groups=8,
    )
    # SD v1-4's schedule (scaled-linear betas 0.00085 → 0.012 over 1000 steps).
    schedule = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000, steps_offset=1)
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=PNDMScheduler(skip_prk_steps=True, **schedule), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder
