"""MPJudge: a painting encoder modulated by music, scoring coherence in [0, 1].

Jiang et al., "MPJudge / MPD" (Method section, Fig. 3). Read top to bottom:
config → music encoder → MAN → transformer block → MPJudge.

* **Music encoder.** Four blocks (conv, batch norm, SiLU) over the 128 × 469
  log-mel; the ``[C, H', W']`` map is read as ``H'·W'`` tokens of ``C``
  channels and linearly projected to the model width. The mean of the tokens
  is the music vector ``y`` that MAN uses; cross-attention uses the tokens.
  Kernel 4 / stride 2 / padding 1 and channels 64-128-256-512 are the
  authors' public code (the paper gives no sizes); with them the encoder
  has 3.019 M parameters and 3.08 GFLOPs (paper, Table 1: 3.02 M, 3.02 G).
  The authors fed a 3-channel PNG rendering of the mel; we feed the
  1-channel mel itself, which is 2,048 first-layer weights fewer.
* **Painting encoder.** ViT: 16 × 16 patches of a 256 × 256 image, learned
  position embeddings, 12 blocks, 8 heads, width 512, MLP ratio 4, mean
  pooling over the patch tokens (no class token, as the authors' code).
* **MAN** (Eq. 3) ``γ(y)·(x − μ(x))/(σ(x) + ε) + β(y)``, with μ, σ over the
  token axis per channel (σ: population standard deviation), γ and β linear
  in ``y``. It sits after each self-attention sub-block, where a pre-norm
  ViT has its second LayerNorm, and its output *is* the residual stream that
  the MLP sub-block then adds to (the authors' block). With this layout the
  painting encoder with fusion and head has 44,645,377 parameters (paper:
  44.65 M) and 21.15 GFLOPs (paper: 21.16 G).
* **Regression head.** Linear on the pooled token, then a sigmoid, so the
  score lies in [0, 1] (the authors' head had no sigmoid; the issue asks
  for a score in [0, 1]).
* **Fusion variants** (Table 3 ablation): ``man``; ``concat`` (painting-only
  ViT, pooled painting and music vectors concatenated before the head);
  ``cross-attention`` (a pre-norm cross-attention sub-block from painting
  tokens to music tokens in MAN's place, followed by the usual LayerNorm +
  MLP); ``none`` (painting-only ViT, the ablation's "Baseline"; no music
  encoder is built).
* **Modulation Intensity Maps** (Eq. 4): per block, the per-token L1 norm of
  the change made by the fusion sub-block, ``‖x_b,i − x_a,i‖₁``, as a
  ``grid × grid`` map (16 × 16 at paper size); Eq. 4's layer value is the
  mean of its map. Defined for ``man`` and ``cross-attention``.

Inputs are normalised inside the model, so training, evaluation and
``synesthesia judge`` cannot disagree: images arrive as float RGB in [0, 1]
``[B, 3, H, W]`` and are mapped to [-1, 1] ((x − 0.5)/0.5, the authors'
choice); mels arrive in dB as stored in MPD (``[B, n_mels, frames]``) and are
mapped by a fixed affine ``(dB − (−40))/40`` (no per-clip normalisation, so
loudness survives; the first batch norm absorbs any remaining scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from synesthesia.models.configs import ConfigData

FUSIONS = ("man", "concat", "cross-attention", "none")
#: Fusions whose blocks change the painting tokens, so they have modulation maps.
MAP_FUSIONS = ("man", "cross-attention")

#: Paper, Table 1 (parameters; the painting encoder includes the fusion layers).
PAPER_PAINTING_ENCODER_PARAMS = 44.65e6
PAPER_MUSIC_ENCODER_PARAMS = 3.02e6
PAPER_PAINTING_ENCODER_FLOPS = 21.16e9
PAPER_MUSIC_ENCODER_FLOPS = 3.02e9


@dataclass(frozen=True)
class MPJudgeConfig(ConfigData):
    """The architecture. Defaults are the paper's (Experimental Details)."""

    image_size: int = 256
    patch_size: int = 16
    width: int = 512
    depth: int = 12
    heads: int = 8
    mlp_ratio: float = 4.0
    fusion: str = "man"
    n_mels: int = 128
    mel_frames: int = 469  # 15 s at 16 kHz, hop 512 (only used for FLOP counts and shape checks)
    music_channels: tuple[int, ...] = (64, 128, 256, 512)
    music_kernel: int = 4
    music_stride: int = 2
    man_eps: float = 1e-5
    mel_offset_db: float = -40.0
    mel_scale_db: float = 40.0
    image_mean: float = 0.5
    image_std: float = 0.5

    def __post_init__(self):
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.image_size % self.patch_size:
            raise ValueError("image_size must be a multiple of patch_size")
        if self.width % self.heads:
            raise ValueError("width must be a multiple of heads")
        object.__setattr__(self, "music_channels", tuple(int(c) for c in self.music_channels))

    @property
    def grid(self) -> int:
        """Patches per side: the side of a modulation map."""
        return self.image_size // self.patch_size



# --- music encoder ------------------------------------------------------------------

class MusicEncoder(nn.Module):
    """Four (conv, batch norm, SiLU) blocks → tokens → linear projection."""

    def __init__(self, cfg: MPJudgeConfig):
        super().__init__()
        self.offset, self.scale = cfg.mel_offset_db, cfg.mel_scale_db
        pad = (cfg.music_kernel - cfg.music_stride) // 2
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in cfg.music_channels:
            layers += [nn.Conv2d(c_in, c_out, cfg.music_kernel, cfg.music_stride, pad), nn.BatchNorm2d(c_out), nn.SiLU()]
            c_in = c_out
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Linear(c_in, cfg.width)

    def forward(self, mels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mels`` [B, n_mels, frames] in dB → (tokens [B, H'·W', width], music vector [B, width])."""
        x = (mels.unsqueeze(1) - self.offset) / self.scale
        feature_map = self.convs(x)  # [B, C, H', W']
        tokens = self.proj(feature_map.flatten(2).transpose(1, 2))
        return tokens, tokens.mean(dim=1)


# --- modality-adaptive normalisation ---------------------------------------------

class MAN(nn.Module):
    """Eq. 3: γ(y)·(x − μ(x))/(σ(x) + ε) + β(y), statistics over tokens per channel."""

    def __init__(self, width: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Linear(width, width)
        self.beta = nn.Linear(width, width)
        # Start near plain normalisation (γ ≈ 1, β ≈ 0) with a small music
        # dependence: a γ near 0 would wipe out the residual stream at init.
        nn.init.normal_(self.gamma.weight, std=0.02)
        nn.init.ones_(self.gamma.bias)
        nn.init.normal_(self.beta.weight, std=0.02)
        nn.init.zeros_(self.beta.bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``x`` [B, L, d] painting tokens, ``y`` [B, d] music vector."""
        x32 = x.float()  # statistics in float32 also under bf16 autocast
        mu = x32.mean(dim=1, keepdim=True)
        sigma = x32.std(dim=1, keepdim=True, unbiased=False)
        normalised = (x32 - mu) / (sigma + self.eps)
        return self.gamma(y).float().unsqueeze(1) * normalised + self.beta(y).float().unsqueeze(1)


# --- transformer block ------------------------------------------------------------

class Block(nn.Module):
    """Pre-norm self-attention, then the fusion sub-block, then the MLP."""

    def __init__(self, cfg: MPJudgeConfig):
        super().__init__()
        w = cfg.width
        self.fusion = cfg.fusion
        self.norm1 = nn.LayerNorm(w)
        self.attn = nn.MultiheadAttention(w, cfg.heads, batch_first=True)
        if self.fusion == "man":
            self.man = MAN(w, cfg.man_eps)  # takes the second LayerNorm's place
        else:
            self.norm2 = nn.LayerNorm(w)
        if self.fusion == "cross-attention":
            self.norm_cross = nn.LayerNorm(w)
            self.cross = nn.MultiheadAttention(w, cfg.heads, batch_first=True)
        hidden = int(w * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(w, hidden), nn.GELU(), nn.Linear(hidden, w))

    def forward(
        self, x: torch.Tensor, music_vec: torch.Tensor | None, music_tokens: torch.Tensor | None, want_map: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x_a = x
        if self.fusion == "man":
            x = self.man(x, music_vec)
        elif self.fusion == "cross-attention":
            h = self.norm_cross(x)
            x = x + self.cross(h, music_tokens, music_tokens, need_weights=False)[0]
        change = (x.float() - x_a.float()).abs().sum(dim=-1) if want_map else None  # Eq. 4, per token
        x = x + self.mlp(x if self.fusion == "man" else self.norm2(x))
        return x, change


# --- the model ----------------------------------------------------------------------

class PaintingEncoder(nn.Module):
    """Patch embedding + position embedding + blocks (with their fusion layers)."""

    def __init__(self, cfg: MPJudgeConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = nn.Conv2d(3, cfg.width, cfg.patch_size, cfg.patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.grid * cfg.grid, cfg.width))
        nn.init.normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))

    def forward(self, images, music_vec=None, music_tokens=None, want_maps=False):
        """``images`` [B, 3, H, W] in [0, 1] → (pooled [B, width], maps [B, depth, grid, grid] or None)."""
        cfg = self.cfg
        x = (images - cfg.image_mean) / cfg.image_std
        x = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embed
        changes = []
        for block in self.blocks:
            x, change = block(x, music_vec, music_tokens, want_maps)
            changes.append(change)
        maps = torch.stack(changes, dim=1).unflatten(2, (cfg.grid, cfg.grid)) if want_maps else None
        return x.mean(dim=1), maps


class MPJudge(nn.Module):
    """f_θ(painting, mel) → perceptual coherence in [0, 1]."""

    def __init__(self, cfg: MPJudgeConfig = MPJudgeConfig()):
        super().__init__()
        self.cfg = cfg
        self.music = MusicEncoder(cfg) if cfg.fusion != "none" else None
        self.painting = PaintingEncoder(cfg)
        self.head = nn.Linear(cfg.width * (2 if cfg.fusion == "concat" else 1), 1)

    def forward(self, images: torch.Tensor, mels: torch.Tensor, return_maps: bool = False):
        """Scores [B] (float32); with ``return_maps`` also the modulation maps
        [B, depth, grid, grid] (Eq. 4, per token)."""
        tokens, vec = self.music(mels) if self.music is not None else (None, None)
        return self.score_music_features(images, tokens, vec, return_maps)

    def score_music_features(self, images: torch.Tensor, tokens: torch.Tensor | None, vec: torch.Tensor | None, return_maps: bool = False):
        """The rest of ``forward`` after the music encoder: scores of
        ``images`` with music ``tokens`` / vectors ``vec`` that ``self.music``
        made (None for ``fusion: none``). Every step here is per item; only
        the music encoder's batch norm looks across the batch."""
        if return_maps and self.cfg.fusion not in MAP_FUSIONS:
            raise ValueError(f"modulation maps need a fusion that modulates painting tokens {MAP_FUSIONS}, not {self.cfg.fusion!r}")
        injected = self.cfg.fusion in MAP_FUSIONS
        pooled, maps = self.painting(images, vec if injected else None, tokens if injected else None, return_maps)
        if self.cfg.fusion == "concat":
            pooled = torch.cat([pooled, vec.to(pooled.dtype)], dim=-1)
        score = torch.sigmoid(self.head(pooled).float()).squeeze(-1)
        return (score, maps) if return_maps else score


# --- sizes -----------------------------------------------------------------------------

def count_parameters(model: MPJudge) -> dict[str, int]:
    """Parameters as Table 1 counts them: the painting encoder includes the
    fusion layers (and the head); the music encoder is the conv stack + projection."""
    music = sum(p.numel() for p in model.music.parameters()) if model.music is not None else 0
    total = sum(p.numel() for p in model.parameters())
    return {"music_encoder": music, "painting_encoder": total - music, "total": total}


def count_flops(cfg: MPJudgeConfig) -> dict[str, int]:
    """FLOPs of one forward pass (batch 1; 2 FLOPs per multiply-add), counted
    by torch's FlopCounterMode on the meta device: nothing is computed."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = MPJudge(cfg)
        images = torch.zeros(1, 3, cfg.image_size, cfg.image_size)
        mels = torch.zeros(1, cfg.n_mels, cfg.mel_frames)
    model.eval()
    flops = {"music_encoder": 0}
    if model.music is not None:
        with FlopCounterMode(display=False) as counter:
            model.music(mels)
        flops["music_encoder"] = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        model(images, mels)
    flops["painting_encoder"] = counter.get_total_flops() - flops["music_encoder"]
    return flops


def build_model(cfg: MPJudgeConfig, device: str | torch.device | None = None) -> MPJudge:
    model = MPJudge(cfg)
    return model.to(device) if device is not None else model


__all__ = [
    "ConfigData",
    "FUSIONS",
    "MAP_FUSIONS",
    "MPJudgeConfig",
    "MusicEncoder",
    "MAN",
    "Block",
    "PaintingEncoder",
    "MPJudge",
    "count_parameters",
    "count_flops",
    "build_model",
]
