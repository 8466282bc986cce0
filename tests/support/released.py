"""Released model configurations (small JSON files under tests/models/*/fixtures/)
built at full size with random weights, most of them on the meta device."""

from __future__ import annotations

import json
from pathlib import Path


def read_config(folder: Path, name: str) -> dict:
    return json.loads((Path(folder) / name).read_text())


def shape_only_masks(monkeypatch) -> None:
    """transformers skips an all-ones attention mask after looking at its
    values (``mask.all()``), which a meta tensor does not have; turning the
    shortcut off makes it build the mask, which changes no shape or dtype."""
    import transformers.masking_utils as masking

    monkeypatch.setattr(masking, "_ignore_causal_mask_sdpa", lambda *args, **kwargs: False)
    monkeypatch.setattr(masking, "_ignore_bidirectional_mask_sdpa", lambda *args, **kwargs: False)
