"""Checkpoints that load without running code.

``torch.load`` without ``weights_only`` unpickles arbitrary objects: a crafted
``.pt`` runs a shell command before any check of ours can look at it. Every
checkpoint synesthesia writes holds only what torch's weights-only unpickler
accepts (tensors, and dicts/lists/tuples of str, int, float, bool, None), so
every checkpoint it reads is loaded with ``weights_only=True``; a file that
needs more is refused with a message, and nothing in it runs.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synesthesia.datasets.io import atomic_output

REFUSED = (
    "{path}: refused: loading it would need Python's pickle, which can run any code in the file "
    "({reason}). Checkpoints written by synesthesia load without it; do not load files of unknown origin."
)


def plain(value: Any) -> Any:
    """``value`` with numpy scalars/arrays and paths turned into what the
    weights-only unpickler accepts (Python numbers, tensors, strings)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        converted = [plain(v) for v in value]
        return converted if isinstance(value, list) else tuple(converted)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def save_state(state: dict, path: str | os.PathLike) -> Path:
    """Write ``state`` atomically in torch's format, loadable weights-only."""
    with atomic_output(path) as tmp:
        torch.save(plain(state), tmp)
    return Path(path)


def load_state(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; a file that needs pickle raises
    ``ValueError`` (what it would have run is never run)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(REFUSED.format(path=path, reason=reason[:200])) from None
