"""Training runs people can watch: TensorBoard by default, W&B when asked.

Every trainer (MPJudge, Art2Mus, Musipainter) writes through one
:class:`RunTracker`, with the optimiser step (the run's global step) as the
x-axis:

* ``tensorboard`` (the default): event files under ``RUN_DIR/tensorboard/``;
  watch with ``tensorboard --logdir RUN_DIR`` (several runs: their parent).
* ``wandb``: Weights & Biases, when the ``wandb`` package is installed
  (``WANDB_MODE=offline`` keeps it local). The run's id is kept in
  ``RUN_DIR/wandb-run-id``, so a resumed run continues the same W&B run.
* ``none``: nothing but the run folder's own metrics files.

**Resuming continues the same curves.** Resuming is re-running the same
``train`` command into the same ``--out``; the trainer passes the step it
resumes from, and TensorBoard's writer purges the events at or after that
step (a crashed run may have logged steps past its last checkpoint), so the
resumed points continue the curves without a fold-back or duplicates.

Only the main process of a multi-process run logs (``enabled=False`` on the
others turns every call into a no-op).
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

TRACKERS = ("tensorboard", "wandb", "none")
DEFAULT_TRACKERS = ("tensorboard",)
TENSORBOARD_DIR = "tensorboard"
WANDB_ID_FILE = "wandb-run-id"
TRACKER_HELP = "Where the run's curves go: tensorboard (RUN_DIR/tensorboard/), wandb (if installed), both ('tensorboard,wandb') or none."


class TrackerUnavailable(ValueError):
    """A requested tracker's package is not installed (the message says what to install)."""


def parse_trackers(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"tensorboard,wandb"`` / a list / None (the default) → validated names; ``none`` alone means no tracker."""
    if spec is None:
        return DEFAULT_TRACKERS
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    unknown = sorted(set(names) - set(TRACKERS))
    if unknown:
        raise ValueError(f"unknown tracker(s) {unknown}; choose from {list(TRACKERS)} (comma-separated)")
    if "none" in names and len(names) > 1:
        raise ValueError("tracker 'none' cannot be combined with another")
    return () if names == ["none"] else tuple(dict.fromkeys(names))


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def image_grid(images: Sequence[Any]) -> np.ndarray:
    """PIL images or ``HxWx3`` uint8 arrays side by side → one ``HxW'x3`` uint8 array."""
    arrays = [np.asarray(im.convert("RGB")) if hasattr(im, "convert") else np.asarray(im) for im in images]
    height = max(a.shape[0] for a in arrays)
    padded = [np.pad(a, ((0, height - a.shape[0]), (0, 0), (0, 0))) for a in arrays]
    return np.concatenate(padded, axis=1).astype(np.uint8)


class RunTracker:
    """Scalars, image grids and audio clips of one training run, by global step."""

    def __init__(self, run_dir: str | os.PathLike, trackers: Sequence[str] | str | None = None, *, resume_step: int = 0,
                 config: Mapping[str, Any] | None = None, name: str | None = None, project: str = "synesthesia",
                 enabled: bool = True):
        self.run_dir = Path(run_dir)
        self.trackers = parse_trackers(trackers) if enabled else ()
        self._tb = self._wandb = None
        if "tensorboard" in self.trackers:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise TrackerUnavailable("TensorBoard logging needs the tensorboard package: pip install tensorboard "
                                         "(part of the ml extra), or choose --tracker none") from None
            self._tb = SummaryWriter(str(self.run_dir / TENSORBOARD_DIR), purge_step=resume_step or None)
        if "wandb" in self.trackers:
            self._wandb = self._start_wandb(config, name or self.run_dir.name, project)

    def _start_wandb(self, config, name: str, project: str):
        try:
            import wandb
        except ImportError:
            raise TrackerUnavailable("W&B logging needs the wandb package: pip install wandb (then `wandb login`, "
                                     "or WANDB_MODE=offline), or choose --tracker tensorboard") from None
        id_file = self.run_dir / WANDB_ID_FILE
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if id_file.exists():
            run_id = id_file.read_text().strip()
        else:
            run_id = secrets.token_hex(8)
            id_file.write_text(run_id + "\n")
        return wandb.init(project=project, name=name, id=run_id, resume="allow", dir=str(self.run_dir), config=dict(config or {}))

    @property
    def active(self) -> bool:
        return self._tb is not None or self._wandb is not None

    def scalars(self, values: Mapping[str, Any], step: int, prefix: str = "") -> None:
        """Finite numbers of ``values`` as ``prefix/name`` curves (None/NaN are skipped)."""
        clean = {f"{prefix}/{k}" if prefix else k: v for k, v in ((k, _finite(v)) for k, v in values.items()) if v is not None}
        if not clean:
            return
        if self._tb is not None:
            for tag, value in clean.items():
                self._tb.add_scalar(tag, value, step)
        if self._wandb is not None:
            self._wandb.log(clean, step=step)

    def images(self, tag: str, images: Sequence[Any], step: int) -> None:
        """Images side by side as one picture under ``tag``."""
        if not images or not self.active:
            return
        grid = image_grid(images)
        if self._tb is not None:
            self._tb.add_image(tag, grid, step, dataformats="HWC")
        if self._wandb is not None:
            import wandb

            self._wandb.log({tag: wandb.Image(grid)}, step=step)

    def audio(self, tag: str, waveforms: Sequence[np.ndarray], sample_rate: int, step: int) -> None:
        """Mono clips, one entry per clip (``tag/0``, ``tag/1``, ...)."""
        for k, wave in enumerate(waveforms):
            clip = np.clip(np.asarray(wave, dtype=np.float32).reshape(-1), -1.0, 1.0)
            if self._tb is not None:
                import torch

                self._tb.add_audio(f"{tag}/{k}", torch.from_numpy(clip)[None], step, sample_rate=sample_rate)
            if self._wandb is not None:
                import wandb

                self._wandb.log({f"{tag}/{k}": wandb.Audio(clip, sample_rate=sample_rate)}, step=step)

    def flush(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            import wandb

            self._wandb.finish()
            self._wandb = None
            if wandb.run is None:  # finish() may return before the run file is written; no other run is open here
                wandb.teardown()

    def __enter__(self) -> "RunTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def grad_norm(parameters) -> float:
    """The global L2 norm of the gradients (what clipping measures), without clipping."""
    import torch

    norms = [p.grad.detach().float().norm() for p in parameters if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0
