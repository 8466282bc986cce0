"""BEATs (Chen et al., 2023), the audio encoder Musipainter uses: our own torch
implementation, read top to bottom, that loads the official checkpoints
(``BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt``) strictly.

Input: a 16 kHz mono waveform in [-1, 1].

1. Kaldi fbank (``torchaudio.compliance.kaldi.fbank`` defaults: Povey window,
   25 ms / 10 ms, 128 mel bins) of ``waveform * 2**15``, normalised
   ``(fbank - 15.41663) / (2 * 6.55582)`` — the official ``preprocess``.
2. 16 × 16 patches of the ``[frames, 128]`` fbank (a strided Conv2d) →
   ``(frames // 16) * 8`` tokens, time-major (token ``t * 8 + f``); LayerNorm;
   a linear projection 512 → 768.
3. A convolutional positional embedding (weight-normalised grouped Conv1d of
   kernel 128, then GELU) added to the tokens; LayerNorm (post-norm model).
4. 12 post-norm ("deep norm") transformer layers whose attention adds a
   bucketed relative-position bias, gated per query by a small GRU-like gate
   (``grep_linear``, ``grep_a``). The bias table belongs to layer 0 and is
   shared by every layer (so it appears under every layer's name in the
   state dict, exactly as in the official model).

:meth:`BEATs.layer_outputs` returns the hidden states after chosen layers
(Musipainter concatenates layers 4, 8 and 12 → 2,304 features per token).

Parameter names equal the official ones (``patch_embedding``, ``layer_norm``,
``post_extract_proj``, ``encoder.pos_conv.0.weight_g/weight_v/bias``,
``encoder.layers.N.self_attn.{q,k,v,out}_proj``, ``...relative_attention_bias``,
``...grep_linear``, ``...grep_a``, ``self_attn_layer_norm``, ``fc1``, ``fc2``,
``final_layer_norm``, ``encoder.layer_norm``, ``predictor``), so
``load_state_dict(strict=True)`` takes the released file as it is.
Not implemented (training-time only in the official code, off at inference):
dropout and layer drop; the layer-wise gradient decay is implemented.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from synesthesia.models.fbank import FbankConfig, kaldi_fbank

CHECKPOINT_NAME = "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"
CHECKPOINT_ENV = "SYNESTHESIA_BEATS_CHECKPOINT"
CHECKPOINT_HELP = (
    f"Download {CHECKPOINT_NAME} from the BEATs page, https://github.com/microsoft/unilm/tree/master/beats "
    "(\"Fine-tuned BEATs_iter3+ (AS2M) (cpt2)\"), and pass its path as `beats_checkpoint` / --beats-checkpoint "
    f"or set {CHECKPOINT_ENV}."
)
SAMPLE_RATE = 16_000
#: The official ``preprocess`` defaults.
FBANK_MEAN = 15.41663
FBANK_STD = 6.55582
BEATS_FBANK = FbankConfig(sample_rate=SAMPLE_RATE, num_mel_bins=128, window="povey")


@dataclass(frozen=True)
class BEATsConfig:
    """Model sizes; defaults are those of the released iter3+ AS2M checkpoints
    (the file's own ``cfg`` is applied on top when loading)."""

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_wise_gradient_decay_ratio: float = 0.6
    layer_norm_first: bool = False
    deep_norm: bool = True
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = True
    num_buckets: int = 320
    max_distance: int = 800
    gru_rel_pos: bool = True
    finetuned_model: bool = True
    predictor_class: int = 527

    @classmethod
    def from_checkpoint_cfg(cls, cfg: dict) -> "BEATsConfig":
        """The official ``cfg`` dict (unknown keys — dropouts, layer drop —
        are training-only and ignored here)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in cfg.items() if k in names})


class _GradMultiply(torch.autograd.Function):
    """Identity forward; gradient scaled (BEATs' layer-wise gradient decay)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


class WeightNormConv1d(nn.Module):
    """``nn.utils.weight_norm(conv, dim=2)`` with the same parameter names
    (``weight_g`` of shape ``[1, 1, kernel]``, ``weight_v``, ``bias``)."""

    def __init__(self, channels: int, kernel: int, groups: int):
        super().__init__()
        self.padding, self.groups = kernel // 2, groups
        self.weight_v = nn.Parameter(torch.randn(channels, channels // groups, kernel) * math.sqrt(4 / (kernel * channels)))
        self.weight_g = nn.Parameter(self.weight_v.detach().norm(dim=(0, 1), keepdim=True).clone())
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_g * self.weight_v / self.weight_v.norm(dim=(0, 1), keepdim=True)
        out = F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)
        return out[..., :-1] if self.weight_v.shape[-1] % 2 == 0 else out  # "SamePad": an even kernel adds one


class RelativeAttention(nn.Module):
    """fairseq-style multi-head self-attention with BEATs' scaled softmax
    (scores shifted by their max, ×32 for fp16 safety), bucketed relative
    position bias and its GRU-like gate."""

    ALPHA = 32.0

    def __init__(self, cfg: BEATsConfig, bias_table: nn.Embedding | None):
        super().__init__()
        dim, heads = cfg.encoder_embed_dim, cfg.encoder_attention_heads
        self.heads, self.head_dim = heads, dim // heads
        self.scaling = self.head_dim**-0.5
        self.num_buckets, self.max_distance = cfg.num_buckets, cfg.max_distance
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.relative_attention_bias = bias_table  # shared with every layer (may be None)
        self.gru_rel_pos = cfg.gru_rel_pos
        if cfg.gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, heads, 1, 1))

    def _buckets(self, relative: torch.Tensor) -> torch.Tensor:
        half = self.num_buckets // 2
        buckets = (relative > 0).long() * half
        distance = relative.abs()
        exact = half // 2
        large = exact + (torch.log(distance.float() / exact) / math.log(self.max_distance / exact) * (half - exact)).long()
        large = large.clamp(max=half - 1)
        return buckets + torch.where(distance < exact, distance, large)

    def position_bias(self, length: int) -> torch.Tensor:
        """``[heads, length, length]`` bias of key position minus query position."""
        pos = torch.arange(length, device=self.relative_attention_bias.weight.device)
        return self.relative_attention_bias(self._buckets(pos[None, :] - pos[:, None])).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, pos_bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, n, dim = x.shape
        q = self.q_proj(x) * self.scaling / self.ALPHA
        k, v = self.k_proj(x), self.v_proj(x)
        q, k, v = (t.view(b, n, self.heads, self.head_dim).transpose(1, 2) for t in (q, k, v))  # [b, h, n, d]
        scores = q @ k.transpose(-1, -2)
        scores = (scores - scores.amax(dim=-1, keepdim=True)) * self.ALPHA
        if self.relative_attention_bias is not None and pos_bias is None:
            pos_bias = self.position_bias(n)
        if pos_bias is not None:
            bias = pos_bias[None]
            if self.gru_rel_pos:
                raw_q = q * self.ALPHA / self.scaling  # the projected query before scaling
                gate_a, gate_b = torch.sigmoid(self.grep_linear(raw_q).view(b, self.heads, n, 2, 4).sum(-1)).chunk(2, dim=-1)
                bias = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * bias
            scores = scores + bias
        out = scores.softmax(dim=-1).type_as(v) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, n, dim)), pos_bias


class EncoderLayer(nn.Module):
    def __init__(self, cfg: BEATsConfig, bias_table: nn.Embedding | None):
        super().__init__()
        dim = cfg.encoder_embed_dim
        self.self_attn = RelativeAttention(cfg, bias_table)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, cfg.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(cfg.encoder_ffn_embed_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.layer_norm_first = cfg.layer_norm_first
        self.alpha = math.pow(2 * cfg.encoder_layers, 0.25) if cfg.deep_norm else 1.0
        if cfg.activation_fn != "gelu":
            raise ValueError(f"activation {cfg.activation_fn!r} is not supported (the released BEATs use gelu)")

    def forward(self, x: torch.Tensor, pos_bias: torch.Tensor | None):
        if self.layer_norm_first:
            h, pos_bias = self.self_attn(self.self_attn_layer_norm(x), pos_bias)
            x = x + h
            return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x)))), pos_bias
        h, pos_bias = self.self_attn(x, pos_bias)
        x = self.self_attn_layer_norm(x * self.alpha + h)
        return self.final_layer_norm(x * self.alpha + self.fc2(F.gelu(self.fc1(x)))), pos_bias


class Encoder(nn.Module):
    def __init__(self, cfg: BEATsConfig):
        super().__init__()
        self.pos_conv = nn.Sequential(WeightNormConv1d(cfg.encoder_embed_dim, cfg.conv_pos, cfg.conv_pos_groups))
        table = nn.Embedding(cfg.num_buckets, cfg.encoder_attention_heads) if cfg.relative_position_embedding else None
        self.layers = nn.ModuleList(EncoderLayer(cfg, table) for _ in range(cfg.encoder_layers))
        self.layer_norm = nn.LayerNorm(cfg.encoder_embed_dim)
        self.layer_norm_first = cfg.layer_norm_first
        self.grad_decay = cfg.layer_wise_gradient_decay_ratio

    def forward(self, x: torch.Tensor, keep: set[int]) -> dict[int, torch.Tensor]:
        """Hidden states after the layers numbered in ``keep`` (1-based)."""
        x = x + F.gelu(self.pos_conv(x.transpose(1, 2))).transpose(1, 2)
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        out, pos_bias = {}, None
        for i, layer in enumerate(self.layers, start=1):
            if self.grad_decay != 1.0 and x.requires_grad:
                x = _GradMultiply.apply(x, self.grad_decay)
            x, pos_bias = layer(x, pos_bias)
            if i in keep:
                out[i] = x
            if i >= max(keep):
                break
        return out


class BEATs(nn.Module):
    def __init__(self, cfg: BEATsConfig = BEATsConfig()):
        super().__init__()
        self.cfg = cfg
        p = cfg.input_patch_size
        self.patch_embedding = nn.Conv2d(1, cfg.embed_dim, kernel_size=p, stride=p, bias=cfg.conv_bias)
        self.layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.post_extract_proj = nn.Linear(cfg.embed_dim, cfg.encoder_embed_dim) if cfg.embed_dim != cfg.encoder_embed_dim else None
        self.encoder = Encoder(cfg)
        # Kept so the fine-tuned checkpoint loads strictly; Musipainter does not use it.
        self.predictor = nn.Linear(cfg.encoder_embed_dim, cfg.predictor_class) if cfg.finetuned_model else None

    def tokens(self, fbank: torch.Tensor) -> torch.Tensor:
        """Normalised fbank ``[batch, frames, 128]`` → ``[batch, tokens, encoder_dim]``."""
        x = self.patch_embedding(fbank.unsqueeze(1))  # [b, embed, frames/16, 128/16]
        x = self.layer_norm(x.flatten(2).transpose(1, 2))
        return self.post_extract_proj(x) if self.post_extract_proj is not None else x

    def layer_outputs(self, fbank: torch.Tensor, layers: tuple[int, ...] = (4, 8, 12)) -> torch.Tensor:
        """Hidden states after ``layers`` concatenated on the feature axis:
        ``[batch, tokens, len(layers) * encoder_dim]``."""
        out = self.encoder(self.tokens(fbank), set(layers))
        return torch.cat([out[i] for i in layers], dim=-1)


# --- preprocessing ------------------------------------------------------------------------


def beats_fbank(waveform: np.ndarray, mean: float = FBANK_MEAN, std: float = FBANK_STD) -> np.ndarray:
    """``[frames, 128]`` normalised fbank of a 16 kHz mono waveform in [-1, 1]
    (the official ``preprocess``: ×2^15, Kaldi fbank, ``(x - mean) / (2 std)``)."""
    x = np.asarray(waveform, dtype=np.float32) * np.float32(2**15)
    return ((kaldi_fbank(x, BEATS_FBANK) - np.float32(mean)) / np.float32(2 * std)).astype(np.float32)


def n_tokens(n_samples: int, cfg: BEATsConfig = BEATsConfig()) -> int:
    """Tokens BEATs makes of ``n_samples`` at 16 kHz (30 s → 187 × 8 = 1,496)."""
    return (BEATS_FBANK.n_frames(n_samples) // cfg.input_patch_size) * (BEATS_FBANK.num_mel_bins // cfg.input_patch_size)


# --- checkpoint ---------------------------------------------------------------------------


def resolve_checkpoint(path: str | os.PathLike | None) -> Path:
    candidate = Path(path) if path else (Path(os.environ[CHECKPOINT_ENV]) if os.environ.get(CHECKPOINT_ENV) else None)
    if candidate is None:
        raise FileNotFoundError(f"No BEATs checkpoint given. {CHECKPOINT_HELP}")
    if not candidate.is_file():
        raise FileNotFoundError(f"BEATs checkpoint not found at {candidate}. {CHECKPOINT_HELP}")
    return candidate


def load_beats(path: str | os.PathLike | None = None, map_location: str | torch.device = "cpu") -> BEATs:
    """The official checkpoint file → :class:`BEATs`, strictly: every tensor
    of the file has a parameter and every parameter a tensor. The file is a
    dict ``{"cfg": {...}, "model": state_dict}``; ``torch.load`` runs with
    ``weights_only=True`` (it holds only tensors and plain values)."""
    file = resolve_checkpoint(path)
    checkpoint = torch.load(file, map_location=map_location, weights_only=True)
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise ValueError(f"{file}: not a BEATs checkpoint (expected a dict with 'cfg' and 'model')")
    model = BEATs(BEATsConfig.from_checkpoint_cfg(checkpoint.get("cfg") or {}))
    model.load_state_dict(checkpoint["model"], strict=True)
    return model.eval()
