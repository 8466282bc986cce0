"""What both scorers share."""

from __future__ import annotations


class MissingWeights(RuntimeError):
    """A scorer's model or weights file is not available; the message says
    where to get it and which option skips the score instead."""


def resolve_device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
