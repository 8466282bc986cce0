"""ImageBind (vision, audio, text) in plain torch, readable top to bottom.

ImageBind (Girdhar et al., CVPR 2023) embeds six modalities into one space. We
implement the three the music–painting datasets use — images, audio, text —
with module and parameter names chosen so that ``state_dict()`` has exactly the
keys and shapes of the official ``imagebind_huge.pth`` for those modalities
(the depth, thermal and IMU entries of that file are set aside by
:mod:`synesthesia.models.imagebind.checkpoint`).

Layout of every modality (the official model's four ``ModuleDict`` s)::

    modality_preprocessors[m]   input -> tokens (+ cls token, + positions)
    modality_trunks[m]          pre-norm transformer
    modality_heads[m]           final LayerNorm, pick one token, project to ``embed_dim``
    modality_postprocessors[m]  L2 normalise (text: × learned logit scale, audio: × 20)

- vision: ViT-H/14. An image is repeated into a 2-frame clip and cut by a
  (2, 14, 14) Conv3d into 16 × 16 patches; LayerNorm before the blocks; the
  cls token is the output.
- audio: an AST-style ViT-B over a 1 × 128 × 204 log-mel "image": 16 × 16
  patches with stride 10 (12 × 19 patches), LayerNorm (eps 1e-5) on the patch
  embeddings, learned bias_k/bias_v in attention; the cls token is the output.
  A track is three 2 s clips whose post-processed embeddings are averaged.
- text: CLIP's causal text transformer over 77 BPE tokens; the output is the
  token at the end-of-text position (the largest token id of each row).

The model is inference-only: drop-path (0.1 in the official audio trunk) and
dropout are the identity in evaluation and are not implemented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

#: The modalities implemented here, named as in the official checkpoint.
MODALITIES = ("vision", "text", "audio")
#: The official checkpoint's other modalities, set aside when loading.
OTHER_MODALITIES = ("depth", "thermal", "imu")


@dataclass(frozen=True)
class ImageBindConfig:
    """Sizes of the three encoders. The defaults are ImageBind-Huge
    (``imagebind_huge()`` in the official code); tests use a tiny one with the
    same structure."""

    name: str = "imagebind_huge"
    embed_dim: int = 1024  # shared output space
    mlp_ratio: int = 4
    # vision: ViT-H/14 over a 2-frame clip made by repeating the image
    vision_width: int = 1280
    vision_layers: int = 32
    vision_heads: int = 16
    image_size: int = 224
    patch_size: int = 14
    video_frames: int = 2
    # audio: 128 mel bins x 204 frames, 16x16 patches, stride 10
    audio_width: int = 768
    audio_layers: int = 12
    audio_heads: int = 12
    num_mel_bins: int = 128
    audio_frames: int = 204
    audio_kernel: int = 16
    audio_stride: int = 10
    # text: CLIP BPE tokens, causal attention
    text_width: int = 1024
    text_layers: int = 24
    text_heads: int = 16
    context_length: int = 77
    vocab_size: int = 49408
    # post-processing: text logits are scaled by a learned factor (init 1/0.07,
    # clipped at 100), audio by a fixed 20
    text_logit_scale_init: float = 1 / 0.07
    audio_logit_scale: float = 20.0
    max_logit_scale: float = 100.0

    @property
    def vision_grid(self) -> tuple[int, int, int]:
        """(time, height, width) of the vision patch grid."""
        side = self.image_size // self.patch_size
        return (1, side, side)  # the temporal kernel spans all video_frames

    @property
    def audio_grid(self) -> tuple[int, int]:
        """(frequency, time) of the audio patch grid (a strided conv, no padding)."""
        def n(size: int) -> int:
            return (size - self.audio_kernel) // self.audio_stride + 1

        return (n(self.num_mel_bins), n(self.audio_frames))

    @property
    def vision_tokens(self) -> int:
        return 1 + math.prod(self.vision_grid)

    @property
    def audio_tokens(self) -> int:
        return 1 + math.prod(self.audio_grid)


IMAGEBIND_HUGE = ImageBindConfig()


# --- transformer ------------------------------------------------------------------

class Attention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameters
    (the official trunks use that class): a packed ``in_proj`` for q, k, v, an
    ``out_proj``, and optionally a learned key/value (``bias_k``/``bias_v``)
    appended to every sequence after the projection."""

    def __init__(self, width: int, heads: int, add_bias_kv: bool):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        if add_bias_kv:
            self.bias_k = nn.Parameter(torch.empty(1, 1, width))
            self.bias_v = nn.Parameter(torch.empty(1, 1, width))
        else:
            self.bias_k = self.bias_v = None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        if self.bias_k is not None:
            k = torch.cat([k, self.bias_k.expand(batch, 1, width)], dim=1)
            v = torch.cat([v, self.bias_v.expand(batch, 1, width)], dim=1)
            if mask is not None:  # the extra key is visible to every query
                mask = F.pad(mask, (0, 1))
        q, k, v = (t.unflatten(-1, (self.heads, -1)).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(out.transpose(1, 2).flatten(2))


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (LayerNorm eps 1e-6, exact GELU)."""

    def __init__(self, width: int, heads: int, mlp_ratio: int, add_bias_kv: bool):
        super().__init__()
        self.attn = Attention(width, heads, add_bias_kv)
        self.norm_1 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = Mlp(width, width * mlp_ratio)
        self.norm_2 = nn.LayerNorm(width, eps=1e-6)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm_1(x), mask)
        return x + self.mlp(self.norm_2(x))


class Trunk(nn.Module):
    """A stack of blocks, optionally preceded by a LayerNorm (vision only).
    ``pre_transformer_layer`` is a one-element Sequential so the LayerNorm's
    parameters are ``pre_transformer_layer.0.*`` as in the checkpoint."""

    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: int, pre_norm: bool, add_bias_kv: bool):
        super().__init__()
        self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(width, eps=1e-6) if pre_norm else nn.Identity())
        self.blocks = nn.ModuleList(Block(width, heads, mlp_ratio, add_bias_kv) for _ in range(layers))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.pre_transformer_layer(tokens)
        for block in self.blocks:
            x = block(x, mask)
        return x


# --- preprocessors: input -> tokens --------------------------------------------------

class RepeatFrames(nn.Module):
    """An image ``[B, C, H, W]`` becomes a clip ``[B, C, T, H, W]`` of ``T``
    identical frames, so the video-shaped Conv3d stem applies to it."""

    def __init__(self, frames: int):
        super().__init__()
        self.frames = frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = x.unsqueeze(2)
        if x.shape[2] == 1:
            x = x.expand(-1, -1, self.frames, -1, -1)
        return x


class PatchEmbed(nn.Module):
    """Convolutional patchify -> ``[B, patches, width]``, optionally LayerNorm'd."""

    def __init__(self, proj: nn.Module, norm_layer: nn.Module | None = None):
        super().__init__()
        self.proj = proj
        self.norm_layer = norm_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(2).transpose(1, 2)
        return self.norm_layer(x) if self.norm_layer is not None else x


class PositionalEmbedding(nn.Module):
    """Learned positions for the cls token and every patch."""

    def __init__(self, tokens: int, width: int):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, width))


class PatchTokens(nn.Module):
    """Patches of an image or a spectrogram, a cls token in front, positions
    added. (The official class is shared with depth/thermal, hence the stem's
    name ``rgbt_stem`` for audio too.)"""

    def __init__(self, stem: PatchEmbed, tokens: int, width: int):
        super().__init__()
        self.rgbt_stem = stem
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.pos_embedding_helper = PositionalEmbedding(tokens, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = self.rgbt_stem(x)
        cls = self.cls_token.expand(patches.shape[0], -1, -1)
        tokens = torch.cat([cls, patches], dim=1)
        pos = self.pos_embedding_helper.pos_embed
        if tokens.shape[1] != pos.shape[1]:
            raise ValueError(f"got {tokens.shape[1]} tokens but the model has {pos.shape[1]} positions; check the input size")
        return tokens + pos


def causal_mask(length: int) -> torch.Tensor:
    """Additive mask: 0 on and below the diagonal, -inf above (a token sees
    only itself and earlier tokens)."""
    return torch.full((length, length), float("-inf")).triu_(1)


class TextTokens(nn.Module):
    """Token + position embeddings; carries the causal mask as a buffer (it is
    stored in the checkpoint as ``mask``)."""

    def __init__(self, vocab_size: int, context_length: int, width: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.pos_embed = nn.Parameter(torch.zeros(1, context_length, width))
        self.register_buffer("mask", causal_mask(context_length))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(tokens) + self.pos_embed


# --- heads and post-processing -----------------------------------------------------------

class SelectToken(nn.Module):
    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index]


def cls_head(width: int, embed_dim: int) -> nn.Sequential:
    """LayerNorm, take the cls token, project (``.0`` norm, ``.2`` projection)."""
    return nn.Sequential(nn.LayerNorm(width, eps=1e-6), SelectToken(0), nn.Linear(width, embed_dim, bias=False))


class EndOfTextHead(nn.Module):
    """Take each row's end-of-text token — the position of its largest token id,
    since ``<|endoftext|>`` is the last vocabulary entry — then LayerNorm and project."""

    def __init__(self, width: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(width, eps=1e-6), nn.Linear(width, embed_dim, bias=False))

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        eot = tokens.argmax(dim=-1)
        return self.proj(x[torch.arange(x.shape[0], device=x.device), eot])


class Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1)


class LogitScale(nn.Module):
    """Multiply by ``min(exp(log_logit_scale), max_scale)``. A learned
    parameter for text, a fixed buffer for audio — both are in the checkpoint."""

    def __init__(self, init: float, learnable: bool, max_scale: float):
        super().__init__()
        self.max_scale = max_scale
        value = torch.tensor(math.log(init))
        if learnable:
            self.log_logit_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_logit_scale", value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_logit_scale.exp().clamp(max=self.max_scale) * x


# --- the model -----------------------------------------------------------------------------

class ImageBind(nn.Module):
    """The vision, audio and text encoders of ImageBind.

    ``encode_image([B, 3, H, W])``, ``encode_audio([B, clips, 1, mels, frames])``
    and ``encode_text([B, context])`` return ``[B, embed_dim]`` exactly as the
    official ``forward`` does: unit vectors for images, unit vectors × the
    logit scale for text, and for audio the mean over clips of 20 × unit
    vectors (so not unit-norm; the embedder re-normalises).
    """

    def __init__(self, config: ImageBindConfig = IMAGEBIND_HUGE):
        super().__init__()
        c = self.config = config
        vision_stem = PatchEmbed(
            nn.Sequential(
                RepeatFrames(c.video_frames),
                nn.Conv3d(3, c.vision_width, kernel_size=(c.video_frames, c.patch_size, c.patch_size),
                          stride=(c.video_frames, c.patch_size, c.patch_size), bias=False),
            )
        )
        audio_stem = PatchEmbed(
            nn.Conv2d(1, c.audio_width, kernel_size=c.audio_kernel, stride=c.audio_stride, bias=False),
            norm_layer=nn.LayerNorm(c.audio_width),  # default eps 1e-5, as the official stem
        )
        self.modality_preprocessors = nn.ModuleDict(
            {
                "vision": PatchTokens(vision_stem, c.vision_tokens, c.vision_width),
                "text": TextTokens(c.vocab_size, c.context_length, c.text_width),
                "audio": PatchTokens(audio_stem, c.audio_tokens, c.audio_width),
            }
        )
        self.modality_trunks = nn.ModuleDict(
            {
                "vision": Trunk(c.vision_width, c.vision_layers, c.vision_heads, c.mlp_ratio, pre_norm=True, add_bias_kv=False),
                "text": Trunk(c.text_width, c.text_layers, c.text_heads, c.mlp_ratio, pre_norm=False, add_bias_kv=False),
                "audio": Trunk(c.audio_width, c.audio_layers, c.audio_heads, c.mlp_ratio, pre_norm=False, add_bias_kv=True),
            }
        )
        self.modality_heads = nn.ModuleDict(
            {
                "vision": cls_head(c.vision_width, c.embed_dim),
                "text": EndOfTextHead(c.text_width, c.embed_dim),
                "audio": cls_head(c.audio_width, c.embed_dim),
            }
        )
        self.modality_postprocessors = nn.ModuleDict(
            {
                "vision": Normalize(),
                "text": nn.Sequential(Normalize(), LogitScale(c.text_logit_scale_init, learnable=True, max_scale=c.max_logit_scale)),
                "audio": nn.Sequential(Normalize(), LogitScale(c.audio_logit_scale, learnable=False, max_scale=c.max_logit_scale)),
            }
        )
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random initialisation in the official style (OpenCLIP-scaled cls
        tokens and positions, Xavier linear layers). Only random-weight models
        (tests) depend on it; a checkpoint overwrites every value."""
        for name in ("vision", "audio"):
            pre = self.modality_preprocessors[name]
            scale = pre.cls_token.shape[-1] ** -0.5
            nn.init.normal_(pre.cls_token, std=scale)
            nn.init.normal_(pre.pos_embedding_helper.pos_embed, std=scale)
        text = self.modality_preprocessors["text"]
        nn.init.normal_(text.token_embedding.weight, std=0.02)
        nn.init.normal_(text.pos_embed, std=0.01)
        for trunk in self.modality_trunks.values():
            for module in trunk.modules():
                if isinstance(module, nn.Linear):
                    nn.init.xavier_uniform_(module.weight)
                    nn.init.zeros_(module.bias)
                elif isinstance(module, Attention):
                    nn.init.xavier_uniform_(module.in_proj_weight)
                    nn.init.zeros_(module.in_proj_bias)
                    if module.bias_k is not None:
                        nn.init.xavier_normal_(module.bias_k)
                        nn.init.xavier_normal_(module.bias_v)

    @property
    def dtype(self) -> torch.dtype:
        return self.modality_preprocessors["text"].pos_embed.dtype

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` normalised pixels -> ``[B, embed_dim]`` unit vectors."""
        tokens = self.modality_preprocessors["vision"](pixels.to(self.dtype))
        x = self.modality_trunks["vision"](tokens)
        return self.modality_postprocessors["vision"](self.modality_heads["vision"](x))

    def encode_audio(self, mels: torch.Tensor) -> torch.Tensor:
        """``[B, clips, 1, mels, frames]`` (or one clip each, ``[B, 1, mels,
        frames]``) -> ``[B, embed_dim]``: the mean over a track's clips of the
        post-processed clip embeddings."""
        if mels.ndim == 4:
            mels = mels.unsqueeze(1)
        batch, clips = mels.shape[:2]
        tokens = self.modality_preprocessors["audio"](mels.flatten(0, 1).to(self.dtype))
        x = self.modality_trunks["audio"](tokens)
        per_clip = self.modality_postprocessors["audio"](self.modality_heads["audio"](x))
        return per_clip.unflatten(0, (batch, clips)).mean(dim=1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, context]`` token ids -> ``[B, embed_dim]`` (unit vectors × logit scale)."""
        pre = self.modality_preprocessors["text"]
        x = self.modality_trunks["text"](pre(tokens), pre.mask.to(self.dtype))
        return self.modality_postprocessors["text"](self.modality_heads["text"](x, tokens))

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The official calling convention: ``{"vision"|"audio"|"text": tensor}``."""
        encoders = {"vision": self.encode_image, "audio": self.encode_audio, "text": self.encode_text}
        unknown = set(inputs) - set(encoders)
        if unknown:
            raise KeyError(f"modalities {sorted(unknown)} are not implemented; this model has {list(MODALITIES)}")
        return {name: encoders[name](value) for name, value in inputs.items()}
