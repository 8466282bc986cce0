"""ImageBind's input preprocessing, without torchvision, torchaudio or pytorchvideo.

Images (official ``load_and_transform_vision_data``): RGB; resize so the
shorter side is 224 with PIL bicubic (the longer side ``int(224 * long /
short)``); centre crop 224 × 224 at offsets ``int(round((size - 224) / 2))``
(Python rounding, half to even, as torchvision); scale to [0, 1]; subtract the
CLIP mean and divide by the CLIP std per channel.

Audio (official ``load_and_transform_audio_data``), for a mono 16 kHz waveform:

1. Three 2 s clips placed as pytorchvideo's ``ConstantClipsPerVideoSampler``
   does: with ``d`` the duration in seconds (``n / 16000`` as a float), the
   starts are ``0, m/2, m`` for ``m = max(d - 2, 0)`` — computed with
   ``Fraction`` of the float, exactly as the sampler — and a clip is
   ``waveform[int(start * 16000) : int((start + 2) * 16000)]``. A file
   shorter than 6 s has overlapping clips; one shorter than 2 s gives three
   copies of the whole file.
2. Each clip has its mean subtracted *in place on the shared waveform* (the
   official code subtracts through a tensor view), so where clips overlap a
   later clip sees an earlier clip's subtraction. We reproduce this; it only
   changes frames that straddle the edge of an overlap, since the fbank also
   removes each frame's own mean.
3. Kaldi fbank as ``torchaudio.compliance.kaldi.fbank(htk_compat=True,
   use_energy=False, window_type="hanning", num_mel_bins=128, dither=0,
   frame_length=25, frame_shift=10)`` — i.e. 400-sample frames every 160
   samples (``snip_edges``: 198 frames for 2 s), per-frame DC removal,
   pre-emphasis 0.97, symmetric Hann window, 512-point FFT, power spectrum,
   128 triangular mel filters from 20 Hz to 8 kHz, ``log(max(x, eps))``.
   We implement it here (:func:`kaldi_fbank`) rather than call
   kaldi-native-fbank, because Kaldi (and kaldi-native-fbank) refuse 128 bins
   over a 512-point FFT at 16 kHz: filter 3 is narrower than an FFT bin and
   covers none. torchaudio, which ImageBind used, keeps that all-zero filter,
   so bin 3 is ``log(eps)`` in every frame; so is ours. Tests check our fbank
   against kaldi-native-fbank on configurations it accepts.
4. Transpose to ``[128, frames]``, zero-pad (or cut) the time axis to 204
   frames, then normalise ``(x - (-4.268)) / 9.138`` (padding included).

Clips with fewer samples than one 25 ms frame have no frames (all padding);
the official code raises there. Resampling to 16 kHz (when the caller's rate
differs) uses soxr like the rest of the toolkit; the official loader uses
torchaudio's windowed-sinc resampler — a small numerical difference.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

# --- images --------------------------------------------------------------------------

#: CLIP's per-channel RGB statistics (official ``transforms.Normalize`` arguments).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_SIZE = 224


def open_image(image: Any):
    """A PIL image from a PIL image, a path, bytes, or an ``[H, W(, C)]`` uint8 array."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (str, Path)):
        with Image.open(image) as im:
            im.load()
            return im
    if isinstance(image, (bytes, bytearray)):
        im = Image.open(io.BytesIO(image))
        im.load()
        return im
    if isinstance(image, np.ndarray):
        return Image.fromarray(image)
    raise TypeError(f"cannot read an image from {type(image).__name__}")


def resized_size(width: int, height: int, size: int = IMAGE_SIZE) -> tuple[int, int]:
    """(width, height) after scaling the shorter side to ``size`` (torchvision's
    ``Resize(int)``: the longer side is truncated, not rounded)."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def image_pixels(image: Any, size: int = IMAGE_SIZE) -> np.ndarray:
    """One image -> ``[3, size, size]`` float32, normalised as the official loader."""
    from PIL import Image

    im = open_image(image).convert("RGB")
    new_size = resized_size(*im.size, size)
    if new_size != im.size:
        im = im.resize(new_size, Image.BICUBIC)
    width, height = im.size
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    im = im.crop((left, top, left + size, top + size))
    pixels = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / np.float32(255)
    mean = np.asarray(CLIP_MEAN, np.float32)[:, None, None]
    std = np.asarray(CLIP_STD, np.float32)[:, None, None]
    return (pixels - mean) / std


# --- audio ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FbankConfig:
    """Kaldi fbank options (the ones ImageBind sets, plus Kaldi's defaults it keeps)."""

    sample_rate: int = 16_000
    num_mel_bins: int = 128
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    low_freq: float = 20.0
    preemphasis: float = 0.97

    @property
    def frame_size(self) -> int:
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    @property
    def frame_shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms * 0.001)

    @property
    def n_fft(self) -> int:  # next power of two
        return 1 << (self.frame_size - 1).bit_length()


@dataclass(frozen=True)
class AudioConfig:
    """ImageBind's audio preprocessing (defaults: the official loader's)."""

    sample_rate: int = 16_000
    clip_seconds: float = 2.0
    clips_per_file: int = 3
    fbank: FbankConfig = FbankConfig()
    target_frames: int = 204
    mean: float = -4.268
    std: float = 9.138


def clip_bounds(n_samples: int, config: AudioConfig = AudioConfig()) -> list[tuple[int, int]]:
    """``(start, end)`` sample indices of the clips (end may exceed ``n_samples``;
    slicing stops at the end of the file)."""
    sr = config.sample_rate
    duration = n_samples / sr  # a float, as in the official loader
    length = Fraction(config.clip_seconds)
    latest_start = Fraction(max(duration - length, 0))
    step = Fraction(latest_start, max(config.clips_per_file - 1, 1))
    starts = [step * i for i in range(config.clips_per_file)]
    return [(int(s * sr), int((s + length) * sr)) for s in starts]


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
def _hann(size: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / (size - 1))).astype(np.float32)  # symmetric


def _windowed_frames(x: np.ndarray, fb: FbankConfig) -> np.ndarray:
    """``[frames, frame_size]``: whole frames only (``snip_edges``), each with
    its mean removed, pre-emphasised (the first sample against itself) and
    Hann-windowed."""
    size, shift = fb.frame_size, fb.frame_shift
    if len(x) < size:
        return np.zeros((0, size), np.float32)
    n_frames = 1 + (len(x) - size) // shift
    frames = np.lib.stride_tricks.sliding_window_view(x, size)[::shift][:n_frames]
    frames = frames - frames.mean(axis=1, keepdims=True)
    emphasised = frames.copy()
    emphasised[:, 1:] -= np.float32(fb.preemphasis) * frames[:, :-1]
    emphasised[:, 0] -= np.float32(fb.preemphasis) * frames[:, 0]
    return emphasised * _hann(size)


@lru_cache(maxsize=8)
def _sparse_filters(fb: FbankConfig):
    import scipy.sparse

    return scipy.sparse.csr_matrix(kaldi_mel_filters(fb.num_mel_bins, fb.n_fft, float(fb.sample_rate), fb.low_freq))


def _log_mel(frames: np.ndarray, fb: FbankConfig) -> np.ndarray:
    import scipy.fft

    spectrum = scipy.fft.rfft(frames, n=fb.n_fft, axis=-1, workers=1)
    power = spectrum.real**2 + spectrum.imag**2
    # The filters are ~2 non-zeros per FFT bin: a sparse product is ~10x
    # faster than BLAS here and does not fight other workers for cores.
    energies = (_sparse_filters(fb) @ power.T).T
    return np.log(np.maximum(energies, np.finfo(np.float32).eps))


def kaldi_fbank(waveform: np.ndarray, config: FbankConfig = FbankConfig()) -> np.ndarray:
    """Log mel filterbank ``[frames, num_mel_bins]`` (float32) of a mono
    waveform, Kaldi style (see the module docstring for the exact options)."""
    x = np.ascontiguousarray(waveform, dtype=np.float32)
    return _log_mel(_windowed_frames(x, config), config).astype(np.float32, copy=False)


def audio_clips(waveform: np.ndarray, config: AudioConfig = AudioConfig()) -> list[np.ndarray]:
    """The clips of a 16 kHz mono waveform, each with its mean subtracted in
    place on a shared copy of the waveform (the official loader's order)."""
    y = np.array(waveform, dtype=np.float32).reshape(-1)
    if y.size == 0:
        raise ValueError("empty waveform")
    clips = []
    for start, end in clip_bounds(len(y), config):
        view = y[start:end]
        view -= view.mean(dtype=np.float32)
        clips.append(view.copy())
    return clips


def audio_features(waveform: np.ndarray, config: AudioConfig = AudioConfig()) -> np.ndarray:
    """A 16 kHz mono waveform -> ``[clips, 1, num_mel_bins, target_frames]`` float32."""
    fb = config.fbank
    frames = [_windowed_frames(clip, fb) for clip in audio_clips(waveform, config)]
    # one FFT and one matrix product for all clips of the file
    log_mel = _log_mel(np.concatenate(frames), fb).astype(np.float32, copy=False)
    out = np.zeros((config.clips_per_file, 1, fb.num_mel_bins, config.target_frames), np.float32)
    first = 0
    for k, clip_frames in enumerate(frames):
        n = min(len(clip_frames), config.target_frames)
        out[k, 0, :, :n] = log_mel[first : first + n].T
        first += len(clip_frames)
    return (out - np.float32(config.mean)) / np.float32(config.std)
