"""MPJudge run folders and checkpoints.

A run folder (``synesthesia train mpjudge --out RUN_DIR``)::

    RUN_DIR/
      config.yaml                 the resolved model + train config
      checkpoints/step-NNNNNNNN.pt full training state (the latest ``keep_checkpoints``)
      model.pt                    final weights (+ configs), written when training ends
      best.pt                     weights of the epoch with the best validation SRCC
      metrics.csv, metrics.jsonl  one row per finished epoch
      eval-<split>.json / .md     what `synesthesia eval mpjudge` wrote

A full checkpoint holds: ``model`` (state dict), ``reference`` (the frozen
DPO reference's state dict, or None before DPO starts), ``optimizer``,
``scheduler``, ``epoch`` and ``step_in_epoch`` (where to continue),
``global_step``, ``epoch_sums`` (the running sums of the unfinished epoch),
``history`` (metrics of finished epochs), ``best``, the configs and the
dataset's clip/mel settings (``data_config``). ``model.pt``/``best.pt`` hold
the same keys minus the optimizer state. Files are written to a temp file and
renamed, so a crash never leaves a half checkpoint.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from synesthesia.models.checkpoints import load_state, save_state
from synesthesia.models.mpjudge.model import MPJudge, MPJudgeConfig

FORMAT = "synesthesia.mpjudge/1"
_STEP = re.compile(r"step-(\d+)\.pt$")


def save(state: dict, path: str | os.PathLike) -> Path:
    return save_state({"format": FORMAT, **state}, path)


def step_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Full checkpoints of a run, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.pt") if (m := _STEP.search(p.name))]
    return [p for _, p in sorted(found)]


def latest(run_dir: str | os.PathLike) -> Path | None:
    found = step_checkpoints(run_dir)
    return found[-1] if found else None


def prune(run_dir: str | os.PathLike, keep: int) -> None:
    for old in step_checkpoints(run_dir)[: -max(1, keep)]:
        old.unlink(missing_ok=True)


def load(path: str | os.PathLike, map_location="cpu") -> dict:
    state = load_state(path, map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not an MPJudge checkpoint written by synesthesia")
    return state


def resolve(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a run folder (→ its model.pt, else its latest step checkpoint)."""
    path = Path(path)
    if path.is_dir():
        if (path / "model.pt").exists():
            return path / "model.pt"
        found = latest(path)
        if found is None:
            raise FileNotFoundError(f"{path} holds no model.pt and no checkpoints/step-*.pt")
        return found
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return path


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[MPJudge, dict]:
    """The model of a checkpoint (eval mode) and the checkpoint's other entries."""
    state = load(resolve(path))
    model = MPJudge(MPJudgeConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return model, {k: v for k, v in state.items() if k not in ("model", "reference", "optimizer", "scheduler")}
