"""VGGish audio embeddings for FAD, written from its published description.

Front end (VGGish's ``vggish_input``/``mel_features``): 16 kHz mono; frames of
25 ms (400 samples) every 10 ms (160), no padding; periodic Hann window;
magnitude of a 512-point FFT; 64 mel bands between 125 and 7500 Hz on the HTK
mel scale (``1127·ln(1 + f/700)``), triangles in the mel domain, no area
normalisation, DC bin excluded; ``ln(mel + 0.01)``; non-overlapping examples
of 96 frames (0.96 s) — each example is a ``96 × 64`` patch.

Network: the VGG stack of VGGish (conv 64, pool, conv 128, pool, conv 256 ×2,
pool, conv 512 ×2, pool; 3×3 convolutions, ReLU, 2×2 max pooling) and the
fully connected head 4096 → 4096 → 128. The module layout matches the
widely used PyTorch port's state dict (``features.*``, ``embeddings.*``,
e.g. ``vggish-10086976.pth``), so those weights load directly; the widths are
read from the state dict, so a small random-weight file (tests) loads the
same way. Embeddings are the 128-d output *before* the final ReLU and without
the PCA/quantisation post-processing — the FAD settings of the authors
(``use_pca=False, use_activation=False``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

SAMPLE_RATE = 16_000
WINDOW = 400
HOP = 160
FFT = 512
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96
#: Where the weights are looked for when no path is given: this variable,
#: then torch hub's checkpoint cache.
WEIGHTS_ENV = "SYNESTHESIA_VGGISH_WEIGHTS"
WEIGHTS_FILE = "vggish-10086976.pth"


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


@lru_cache(maxsize=2)
def mel_matrix(n_bins: int = FFT // 2 + 1, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``[n_bins, 64]`` weights: triangles in the mel domain, DC bin zeroed."""
    bins_mel = _hz_to_mel(np.linspace(0.0, sample_rate / 2, n_bins))
    edges = np.linspace(_hz_to_mel(FMIN), _hz_to_mel(FMAX), N_MELS + 2)
    weights = np.zeros((n_bins, N_MELS))
    for i in range(N_MELS):
        lo, mid, hi = edges[i : i + 3]
        rising = (bins_mel - lo) / (mid - lo)
        falling = (hi - bins_mel) / (hi - mid)
        weights[:, i] = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def log_mel_frames(y: np.ndarray) -> np.ndarray:
    """16 kHz waveform → ``[frames, 64]`` log-mel (no padding at the ends)."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) < WINDOW:
        return np.zeros((0, N_MELS))
    frames = np.lib.stride_tricks.sliding_window_view(y, WINDOW)[::HOP]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)  # periodic Hann
    magnitude = np.abs(np.fft.rfft(frames * window, n=FFT, axis=1))
    return np.log(magnitude @ mel_matrix() + LOG_OFFSET)


def examples(y: np.ndarray) -> np.ndarray:
    """Waveform → ``[n_examples, 96, 64]`` patches (a remainder shorter than 0.96 s is dropped)."""
    mel = log_mel_frames(y)
    n = len(mel) // EXAMPLE_FRAMES
    return mel[: n * EXAMPLE_FRAMES].reshape(n, EXAMPLE_FRAMES, N_MELS).astype(np.float32)


def build_vggish(conv_widths: Sequence[int] = (64, 128, 256, 256, 512, 512), hidden: int = 4096, out_dim: int = 128):
    """The VGGish network (``conv_widths`` of the six 3×3 convolutions)."""
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    channels = 1
    pool_after = {0, 1, 3, 5}  # pooling after conv 1, 2, 4 and 6
    for i, width in enumerate(conv_widths):
        layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        if i in pool_after:
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        channels = width

    class VGGish(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            # 96×64 input, four 2× poolings → 6×4
            self.embeddings = nn.Sequential(
                nn.Linear(channels * 6 * 4, hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, out_dim), nn.ReLU(inplace=True),
            )

        def forward(self, x: torch.Tensor, final_relu: bool = False) -> torch.Tensor:
            x = self.features(x)  # [b, c, 6, 4]
            x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # flatten channels-last, as the TF original
            head = self.embeddings if final_relu else self.embeddings[:-1]
            return head(x)

    return VGGish()


def find_weights(path: str | os.PathLike | None = None) -> Path | None:
    """The VGGish weights to use: ``path``, ``$SYNESTHESIA_VGGISH_WEIGHTS``, or
    torch hub's cache (``~/.cache/torch/hub/checkpoints/vggish-10086976.pth``);
    None when there are none."""
    candidates = [path, os.environ.get(WEIGHTS_ENV)]
    try:
        import torch

        candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE)
    except Exception:  # pragma: no cover - torch missing
        pass
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    if path:
        raise FileNotFoundError(f"VGGish weights not found at {path}")
    return None


def load_vggish(path: str | os.PathLike):
    """A VGGish module with the weights of ``path`` (a state dict), its widths read from the tensors' shapes."""
    import torch

    state = torch.load(str(path), map_location="cpu", weights_only=True)
    convs = sorted((int(k.split(".")[1]), v.shape[0]) for k, v in state.items() if k.startswith("features.") and k.endswith(".weight"))
    fcs = sorted((int(k.split(".")[1]), v.shape[0]) for k, v in state.items() if k.startswith("embeddings.") and k.endswith(".weight"))
    if len(convs) != 6 or len(fcs) != 3:
        raise ValueError(f"{path}: not a VGGish state dict (expected 6 conv and 3 linear layers)")
    model = build_vggish([w for _, w in convs], hidden=fcs[0][1], out_dim=fcs[-1][1])
    model.load_state_dict(state)
    return model.eval()


class VGGishEmbedder:
    """Per-example VGGish embeddings of 16 kHz waveforms (``[n_examples_total, 128]``)."""

    def __init__(self, weights: str | os.PathLike, device: str = "cpu", batch_size: int = 256):
        self.weights = Path(weights)
        self.model = load_vggish(weights).to(device)
        self.device, self.batch_size = device, batch_size

    @property
    def label(self) -> str:
        return f"vggish ({self.weights.name})"

    def embed(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        patches = [examples(y) for y in waveforms]
        stacked = np.concatenate([p for p in patches if len(p)]) if any(len(p) for p in patches) else np.zeros((0, EXAMPLE_FRAMES, N_MELS), np.float32)
        out = []
        with torch.no_grad():
            for i in range(0, len(stacked), self.batch_size):
                x = torch.from_numpy(stacked[i : i + self.batch_size])[:, None].to(self.device)
                out.append(self.model(x).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 128), np.float32)
