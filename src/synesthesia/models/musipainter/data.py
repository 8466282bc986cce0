"""Training examples from a built Museart folder (``datasets.readers.museart``).

Each pair gives: the BEATs fbank of its 16 kHz mono clip (cut or zero-padded
to ``clip_seconds``), its image as SD input pixels (RGB — the authors' loader
swapped R and B; we do not — resized so the shorter side is ``image_size``
with PIL bicubic, centre-cropped, scaled to [-1, 1]) and its category index.
The image of each audio item is the one materialised in ``pairs.parquet``
(the authors re-drew it at every access).
"""

from __future__ import annotations

import numpy as np
import torch

from synesthesia.datasets.media import to_rgb
from synesthesia.models.musipainter.beats import SAMPLE_RATE, beats_fbank


def fixed_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    out = np.zeros(n_samples, np.float32)
    piece = np.asarray(audio, np.float32)[:n_samples]
    out[: len(piece)] = piece
    return out


def image_pixels(image, size: int) -> np.ndarray:
    """PIL image → ``[3, size, size]`` float32 in [-1, 1] (RGB)."""
    from PIL import Image

    image = to_rgb(image)  # the reader composited transparency already; this keeps any other input on the same policy
    w, h = image.size
    scale = size / min(w, h)
    image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    image = image.crop((left, top, left + size, top + size))
    return np.asarray(image, np.float32).transpose(2, 0, 1) / 127.5 - 1.0


class MusipainterExamples(torch.utils.data.Dataset):
    """``(fbank [frames, 128], pixels [3, S, S], category_index)`` per pair of a split."""

    def __init__(self, folder, split: str, image_size: int, clip_seconds: float):
        from synesthesia.datasets.readers.museart import MuseartPairs

        self.pairs = MuseartPairs(folder, split)
        if self.pairs.sample_rate != SAMPLE_RATE:
            raise ValueError(f"{folder}: clips at {self.pairs.sample_rate} Hz; BEATs needs {SAMPLE_RATE} Hz")
        self.categories = self.pairs.categories
        self.image_size = image_size
        self.n_samples = int(round(clip_seconds * SAMPLE_RATE))

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        item = self.pairs[index]
        return {
            "fbank": torch.from_numpy(beats_fbank(fixed_length(item["audio"], self.n_samples))),
            "pixels": torch.from_numpy(image_pixels(item["image"], self.image_size)),
            "category_index": int(item["category_index"]),
            "index": index,
        }
