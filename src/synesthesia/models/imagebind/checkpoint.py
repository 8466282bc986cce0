"""Finding and loading the official ImageBind-Huge checkpoint.

The file is the official ``imagebind_huge.pth`` (a plain ``state_dict`` of the
six-modality model, float32). Where it is, in order: the ``checkpoint``
argument (config), ``$SYNESTHESIA_IMAGEBIND_CHECKPOINT``, then
``$XDG_CACHE_HOME/synesthesia/imagebind_huge.pth`` (``~/.cache`` by default).
Nothing is downloaded: a missing file fails with the URL and the size to expect.

Loading: ``torch.load(weights_only=True)`` (memory-mapped when the file
allows), the depth / thermal / IMU entries are set aside *by name* and
reported, and the rest must match the model exactly (``strict=True``): a
missing or unexpected key is an error, never silently skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import torch

from synesthesia.models.imagebind.model import IMAGEBIND_HUGE, MODALITIES, OTHER_MODALITIES, ImageBind, ImageBindConfig

CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"
CHECKPOINT_ENV = "SYNESTHESIA_IMAGEBIND_CHECKPOINT"
CHECKPOINT_NAME = "imagebind_huge.pth"
#: float32 values in the official file (all six modalities), counted from the
#: official model definition. Saved with torch.save that is 4,803,687,030 bytes
#: (4.47 GiB): the values × 4 plus a little zip/pickle framing.
CHECKPOINT_VALUES = 1_200_786_990
CHECKPOINT_SIZE_TEXT = "about 4.8 GB (4.47 GiB)"


def default_checkpoint_path() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "synesthesia" / CHECKPOINT_NAME


def resolve_checkpoint(path: str | os.PathLike | None = None) -> Path:
    """The checkpoint file to load, or a FileNotFoundError that says where we
    looked, where to download it from and how large it is."""
    if path:
        candidate, source = Path(path), "the checkpoint option"
    elif os.environ.get(CHECKPOINT_ENV):
        candidate, source = Path(os.environ[CHECKPOINT_ENV]), f"${CHECKPOINT_ENV}"
    else:
        candidate, source = default_checkpoint_path(), "the default location"
    if candidate.is_file():
        return candidate
    raise FileNotFoundError(
        f"ImageBind checkpoint not found at {candidate} ({source}). Download the official "
        f"imagebind_huge.pth ({CHECKPOINT_SIZE_TEXT}) from {CHECKPOINT_URL} and pass its path "
        f"as `checkpoint=...`, set {CHECKPOINT_ENV}, or save it as {default_checkpoint_path()}."
    )


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """``torch.load(weights_only=True)`` on the CPU; memory-mapped when the file
    is in torch's zip format, so a 4.5 GB file is not read twice into memory."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as error:
        if "mmap" not in str(error):
            raise
        state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict")
    return dict(state)


def entry_modality(key: str) -> str | None:
    """``modality_trunks.audio.blocks.0...`` -> ``"audio"``; None for a key
    outside the four per-modality dicts."""
    parts = key.split(".")
    if len(parts) >= 2 and parts[0] in ("modality_preprocessors", "modality_trunks", "modality_heads", "modality_postprocessors"):
        return parts[1]
    return None


@dataclass
class LoadReport:
    """What a load kept and what it set aside (by modality, key names)."""

    path: str
    loaded: int
    set_aside: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        aside = ", ".join(f"{m}: {len(keys)}" for m, keys in sorted(self.set_aside.items())) or "none"
        return f"loaded {self.loaded} tensors from {self.path}; set aside (unused modalities): {aside}"


def split_state_dict(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """Entries for this model, and the depth / thermal / IMU keys by modality.
    Everything else is kept, so an unknown key reaches the strict load and fails there."""
    kept: dict[str, torch.Tensor] = {}
    aside: dict[str, list[str]] = {}
    for key, value in state.items():
        modality = entry_modality(key)
        if modality in OTHER_MODALITIES:
            aside.setdefault(modality, []).append(key)
        else:
            kept[key] = value
    return kept, aside


def load_state_into(model: ImageBind, state: Mapping[str, torch.Tensor], path: str = "<memory>", assign: bool = False) -> LoadReport:
    """Strictly load the vision/audio/text entries of an official-layout state
    dict into ``model``; raises with the missing / unexpected keys listed."""
    kept, aside = split_state_dict(state)
    try:
        model.load_state_dict(kept, strict=True, assign=assign)
    except RuntimeError as error:
        raise RuntimeError(
            f"{path} does not match the ImageBind {'/'.join(MODALITIES)} model ({model.config.name}): {error}"
        ) from error
    return LoadReport(path=str(path), loaded=len(kept), set_aside=aside)


def inference_dtype(device: torch.device, dtype: str | torch.dtype = "auto") -> torch.dtype:
    """``"auto"``: bfloat16 on a GPU that supports it, else float16 on a GPU,
    float32 on the CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype != "auto":
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_imagebind(
    path: str | os.PathLike | None = None,
    config: ImageBindConfig = IMAGEBIND_HUGE,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype = "auto",
) -> tuple[ImageBind, LoadReport]:
    """Build the model without allocating random weights (``meta`` device),
    load the checkpoint strictly into it, move it to ``device`` / ``dtype``,
    and return it in evaluation mode with gradients off."""
    file = resolve_checkpoint(path)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    with torch.device("meta"):
        model = ImageBind(config)
    report = load_state_into(model, read_state_dict(file), str(file), assign=True)
    model = model.to(device=device, dtype=inference_dtype(device, dtype))
    return model.eval().requires_grad_(False), report
