"""Kaldi-style log mel filterbanks in numpy (no torchaudio), shared by the
audio encoders that were trained on ``torchaudio.compliance.kaldi.fbank``:
ImageBind (``window="hanning"``) and BEATs (Kaldi's default ``"povey"``).

Per frame (``frame_length`` ms every ``frame_shift`` ms, whole frames only —
Kaldi's ``snip_edges``): remove the frame's mean, pre-emphasise (the first
sample against itself), window, zero-pad to the next power of two, power
spectrum, triangular filters equally spaced on Kaldi's mel scale
``1127 ln(1 + f / 700)`` from ``low_freq`` to Nyquist, ``log(max(x, eps))``.
No dither, no energy term (both models use ``dither=0``, ``use_energy=False``).

Kaldi itself (and kaldi-native-fbank) refuse a filter narrower than one FFT
bin, as happens with 128 bins over a 512-point FFT at 16 kHz; torchaudio keeps
such a filter all-zero and so do we (that bin is ``log(eps)``). Tests compare
against kaldi-native-fbank on the configurations it accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

WINDOWS = ("hanning", "povey")


@dataclass(frozen=True)
class FbankConfig:
    """Kaldi fbank options (Kaldi's defaults except where a model sets them)."""

    sample_rate: int = 16_000
    num_mel_bins: int = 128
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    low_freq: float = 20.0
    preemphasis: float = 0.97
    #: "povey" (Kaldi's default, BEATs): Hann^0.85; "hanning" (ImageBind).
    window: Literal["hanning", "povey"] = "povey"

    def __post_init__(self):
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}, not {self.window!r}")

    @property
    def frame_size(self) -> int:
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    @property
    def frame_shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms * 0.001)

    @property
    def n_fft(self) -> int:  # next power of two
        return 1 << (self.frame_size - 1).bit_length()

    def n_frames(self, n_samples: int) -> int:
        return 0 if n_samples < self.frame_size else 1 + (n_samples - self.frame_size) // self.frame_shift


def _mel(freq):
    return 1127.0 * np.log(1.0 + np.asarray(freq, np.float64) / 700.0)


@lru_cache(maxsize=8)
def kaldi_mel_filters(num_bins: int, n_fft: int, sample_rate: float, low_freq: float, high_freq: float = 0.0) -> np.ndarray:
    """``[num_bins, n_fft // 2 + 1]`` triangular filters, equally spaced on
    Kaldi's mel scale ``1127 ln(1 + f / 700)``; the Nyquist column is zero. A
    filter narrower than one FFT bin stays all-zero (torchaudio's behaviour)."""
    nyquist = sample_rate / 2
    high = high_freq if high_freq > 0 else nyquist + high_freq
    lo, hi = _mel(low_freq), _mel(high)
    delta = (hi - lo) / (num_bins + 1)
    k = np.arange(num_bins)[:, None]
    left, centre, right = lo + k * delta, lo + (k + 1) * delta, lo + (k + 2) * delta
    fft_mel = _mel(sample_rate / n_fft * np.arange(n_fft // 2))[None, :]
    up = (fft_mel - left) / (centre - left)
    down = (right - fft_mel) / (right - centre)
    weights = np.maximum(0.0, np.minimum(up, down))
    return np.pad(weights, ((0, 0), (0, 1))).astype(np.float32)


@lru_cache(maxsize=8)
def window(size: int, kind: str) -> np.ndarray:
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / (size - 1))  # symmetric, as Kaldi
    return (hann if kind == "hanning" else hann**0.85).astype(np.float32)


def windowed_frames(x: np.ndarray, fb: FbankConfig) -> np.ndarray:
    """``[frames, frame_size]``: whole frames only, each with its mean removed,
    pre-emphasised (the first sample against itself) and windowed."""
    size, shift = fb.frame_size, fb.frame_shift
    n_frames = fb.n_frames(len(x))
    if n_frames == 0:
        return np.zeros((0, size), np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, size)[::shift][:n_frames]
    frames = frames - frames.mean(axis=1, keepdims=True)
    emphasised = frames.copy()
    emphasised[:, 1:] -= np.float32(fb.preemphasis) * frames[:, :-1]
    emphasised[:, 0] -= np.float32(fb.preemphasis) * frames[:, 0]
    return emphasised * window(size, fb.window)


@lru_cache(maxsize=8)
def _sparse_filters(fb: FbankConfig):
    import scipy.sparse

    return scipy.sparse.csr_matrix(kaldi_mel_filters(fb.num_mel_bins, fb.n_fft, float(fb.sample_rate), fb.low_freq))


def log_mel_energies(frames: np.ndarray, fb: FbankConfig) -> np.ndarray:
    """``[frames, num_mel_bins]`` log mel energies of windowed frames."""
    import scipy.fft

    spectrum = scipy.fft.rfft(frames, n=fb.n_fft, axis=-1, workers=1)
    power = spectrum.real**2 + spectrum.imag**2
    # The filters are ~2 non-zeros per FFT bin: a sparse product is ~10x
    # faster than BLAS here and does not fight other workers for cores.
    energies = (_sparse_filters(fb) @ power.T).T
    return np.log(np.maximum(energies, np.finfo(np.float32).eps))


def kaldi_fbank(waveform: np.ndarray, config: FbankConfig = FbankConfig()) -> np.ndarray:
    """Log mel filterbank ``[frames, num_mel_bins]`` (float32) of a mono waveform."""
    x = np.ascontiguousarray(waveform, dtype=np.float32)
    return log_mel_energies(windowed_frames(x, config), config).astype(np.float32, copy=False)
