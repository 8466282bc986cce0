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
from pathlib import Path
from typing import Any

import numpy as np

from synesthesia.datasets.media import to_rgb
from synesthesia.models.fbank import FbankConfig, kaldi_mel_filters, log_mel_energies, windowed_frames  # noqa: F401 (re-exported)
from synesthesia.models.fbank import kaldi_fbank as shared_fbank

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

    im = to_rgb(open_image(image))
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


#: ImageBind's fbank: Kaldi defaults but a Hann window (``window_type="hanning"``).
IMAGEBIND_FBANK = FbankConfig(window="hanning")


def kaldi_fbank(waveform: np.ndarray, config: FbankConfig = IMAGEBIND_FBANK) -> np.ndarray:
    """ImageBind's log mel filterbank ``[frames, num_mel_bins]`` of a mono waveform."""
    return shared_fbank(waveform, config)


@dataclass(frozen=True)
class AudioConfig:
    """ImageBind's audio preprocessing (defaults: the official loader's)."""

    sample_rate: int = 16_000
    clip_seconds: float = 2.0
    clips_per_file: int = 3
    fbank: FbankConfig = IMAGEBIND_FBANK
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
    frames = [windowed_frames(clip, fb) for clip in audio_clips(waveform, config)]
    # one FFT and one matrix product for all clips of the file
    log_mel = log_mel_energies(np.concatenate(frames), fb).astype(np.float32, copy=False)
    out = np.zeros((config.clips_per_file, 1, fb.num_mel_bins, config.target_frames), np.float32)
    first = 0
    for k, clip_frames in enumerate(frames):
        n = min(len(clip_frames), config.target_frames)
        out[k, 0, :, :n] = log_mel[first : first + n].T
        first += len(clip_frames)
    return (out - np.float32(config.mean)) / np.float32(config.std)
