"""MPJudge's optimizers and learning-rate schedule (shared by the trainer and its tests)."""

from __future__ import annotations

import math

import torch

from synesthesia.models.mpjudge.config import TrainConfig
from synesthesia.models.mpjudge.model import MPJudge


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Parameter groups for weight decay: ``weight_decay`` on weight matrices
    and conv kernels (parameters with ``ndim >= 2``), none on biases, norm
    parameters (LayerNorm, batch norm), other 1-D parameters and the position
    embedding. Shared by both optimizers."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or name.endswith("pos_embed") else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: MPJudge, cfg: TrainConfig) -> torch.optim.Optimizer:
    """``adam`` (default, the paper's "Adam ... weight decay 0.05"):
    torch.optim.Adam, whose weight decay is the L2 term ``wd·θ`` added to the
    gradient; ``adamw``: decoupled weight decay. Both decay only the
    ``decay_groups`` weights."""
    groups = decay_groups(model, cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.adam_betas)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.adam_betas)


def lr_factor(step: int, total: int, cfg: TrainConfig) -> float:
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return 1.0
    span = max(1, total - cfg.warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - cfg.warmup_steps) / span)))
