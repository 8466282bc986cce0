"""Judge any painting against any music file, and draw Modulation Intensity Maps.

``judge(checkpoint, painting, music)``:

* the music file is decoded to 16 kHz mono and cut into non-overlapping
  clips of the dataset's clip length (15 s for MPD) from the start, with
  the same clip and mel settings the model was trained on (the checkpoint
  keeps the MPD folder's); a remainder shorter than a clip is dropped, and a
  file shorter than one clip gives one zero-padded clip;
* each clip is scored with the painting and the **coherence score is the
  mean of the clip scores** (every clip is reported too);
* the modulation maps (Eq. 4) of each block are averaged over the clips.

``render_maps`` draws a Figure-5-style PNG: the painting, then one overlay per
block (the first three and the last three blocks, as Figure 5, or all when
there are six or fewer). Each map is bilinearly upsampled from its 16 × 16
grid to the painting and shown with its own min–max colour range (brighter =
stronger modulation); the panel title gives the block's Eq. 4 value, the mean
of its map, so blocks stay comparable.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch

from synesthesia.datasets.media import load_rgb
from synesthesia.models.mpjudge import checkpoint as ckpt
from synesthesia.models.devices import resolve_device
from synesthesia.models.mpjudge.evaluate import autocast, to_model_inputs
from synesthesia.models.mpjudge.model import MAP_FUSIONS
from synesthesia.datasets.media import ClipConfig, MelConfig, clip_starts, cut_clips, load_audio, log_mel

#: Size at which the painting is drawn under the maps.
DISPLAY_SIZE = 256


def _dataclass_from(cls, values: dict | None):
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in (values or {}).items() if k in names})


def music_mels(music: str | os.PathLike, clip: ClipConfig = ClipConfig(), mel: MelConfig = MelConfig()) -> tuple[np.ndarray, list[float]]:
    """Log-mels ``[clips, n_mels, frames]`` of a music file's clips and their start times (s)."""
    clip = dataclasses.replace(clip, short_track="pad", tail="drop")
    y = load_audio(music, clip.sample_rate)
    starts = clip_starts(len(y), clip)
    if not starts:
        raise ValueError(f"{music}: no audio samples to score")
    return log_mel(cut_clips(y, starts, clip.clip_samples), mel), [s / clip.sample_rate for s in starts]


@torch.no_grad()
def judge(
    checkpoint: str | os.PathLike,
    painting: str | os.PathLike,
    music: str | os.PathLike,
    maps_out: str | os.PathLike | None = None,
    device: str = "auto",
    batch_size: int = 16,
) -> dict:
    """Coherence of a painting with a music file (mean over its clips); with
    ``maps_out`` also writes the modulation-map overlay PNG there."""
    dev = resolve_device(device)
    model, info = ckpt.load_model(checkpoint, dev)
    data = info.get("data_config") or {}
    clip, mel = _dataclass_from(ClipConfig, data.get("clip")), _dataclass_from(MelConfig, data.get("mel"))
    mels, starts = music_mels(music, clip, mel)
    image = load_rgb(painting, model.cfg.image_size)
    want_maps = maps_out is not None
    if want_maps and model.cfg.fusion not in MAP_FUSIONS:
        raise ValueError(f"this checkpoint's fusion ({model.cfg.fusion}) has no modulation maps; they need {MAP_FUSIONS}")
    scores, maps = [], []
    for start in range(0, len(mels), batch_size):
        chunk = mels[start : start + batch_size]
        images, mel_t = to_model_inputs(np.repeat(image[None], len(chunk), axis=0), chunk, dev)
        with autocast(dev, "auto"):
            out = model(images, mel_t, return_maps=want_maps)
        score, block_maps = out if want_maps else (out, None)
        scores.append(score.float().cpu().numpy())
        if want_maps:
            maps.append(block_maps.float().cpu().numpy())
    clip_scores = np.concatenate(scores)
    result = {
        "score": float(clip_scores.mean()),
        "clip_scores": [float(s) for s in clip_scores],
        "clip_starts_s": starts,
        "clip_seconds": clip.clip_seconds,
        "checkpoint": str(ckpt.resolve(checkpoint)),
        "fusion": model.cfg.fusion,
    }
    if want_maps:
        mean_maps = np.concatenate(maps).mean(axis=0)  # [depth, grid, grid]
        result["maps"] = mean_maps
        result["maps_png"] = str(render_maps(load_rgb(painting, DISPLAY_SIZE), mean_maps, maps_out, title=f"predicted coherence {result['score']:.2f} (mean of {len(clip_scores)} clip(s))"))
    return result


def figure5_blocks(depth: int) -> list[int]:
    """The blocks Figure 5 shows: the first three and the last three."""
    return list(range(depth)) if depth <= 6 else [0, 1, 2, depth - 3, depth - 2, depth - 1]


def render_maps(image: np.ndarray, maps: np.ndarray, out: str | os.PathLike, blocks: list[int] | None = None, title: str = "") -> Path:
    """Painting + per-block modulation-map overlays in one row, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blocks = figure5_blocks(len(maps)) if blocks is None else blocks
    h, w = image.shape[:2]
    fig, axes = plt.subplots(1, len(blocks) + 1, figsize=(2.2 * (len(blocks) + 1), 2.6), squeeze=False)
    axes = axes[0]
    axes[0].imshow(image)
    axes[0].set_title("painting", fontsize=9)
    for ax, b in zip(axes[1:], blocks):
        m = maps[b].astype(np.float64)
        span = m.max() - m.min()
        normalised = (m - m.min()) / span if span > 0 else np.zeros_like(m)
        ax.imshow(image)
        ax.imshow(normalised, cmap="inferno", alpha=0.6, interpolation="bilinear", extent=(0, w, h, 0), vmin=0, vmax=1)
        ax.set_title(f"block {b + 1}  MIM {m.mean():.3g}", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
