"""Audio → AudioLDM's log-mel: the input of AudioLDM 2's VAE (no torchaudio).

AudioLDM computes a magnitude STFT (FFT 1024, Hann window 1024, hop 160,
reflect padding), a 64-band Slaney mel filterbank over 0–8 kHz and
``ln(max(mel, 1e-5))``. That is :func:`synesthesia.datasets.media.log_mel`
with :class:`FrontEndConfig`'s ``mel`` (tested against librosa); this module
only chooses the segment, normalises it and lays the result out time-first,
``[frames, 64]``, as the VAE expects (``[batch, 1, frames, 64]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synesthesia.models.art2mus.config import FrontEndConfig
from synesthesia.datasets.media import load_audio, log_mel


def segment_start(n_samples: int, config: FrontEndConfig) -> int:
    """First sample of the segment: ``offset_seconds`` in, moved earlier so a
    full segment fits when the track is shorter than offset + segment."""
    sr = config.mel.sample_rate
    seg = int(round(config.segment_seconds * sr))
    offset = int(round(config.offset_seconds * sr))
    return max(0, min(offset, n_samples - seg))


def select_segment(y: np.ndarray, config: FrontEndConfig) -> np.ndarray:
    """The (at most) ``segment_seconds`` long piece the model trains on."""
    start = segment_start(len(y), config)
    return y[start : start + int(round(config.segment_seconds * config.mel.sample_rate))]


def normalise(y: np.ndarray, peak: float) -> np.ndarray:
    """Remove the mean and scale the largest magnitude to ``peak`` (silence stays silence)."""
    y = np.asarray(y, dtype=np.float32)
    y = y - y.mean() if len(y) else y
    top = float(np.abs(y).max()) if len(y) else 0.0
    return y * (peak / (top + 1e-8))


def segment_waveform(y: np.ndarray, config: FrontEndConfig = FrontEndConfig()) -> np.ndarray:
    """16 kHz track → the normalised, zero-padded segment (``target_frames · hop`` samples)."""
    seg = normalise(select_segment(y, config), config.peak)
    total = config.target_frames * config.mel.hop_length
    out = np.zeros(total, np.float32)
    out[: min(total, len(seg))] = seg[:total]
    return out


def waveform_mel(segments: np.ndarray, config: FrontEndConfig = FrontEndConfig()) -> np.ndarray:
    """Segments ``[n, target_frames·hop]`` → log-mels ``[n, target_frames, n_mels]`` (time first)."""
    mel = log_mel(np.atleast_2d(segments), config.mel)  # [n, n_mels, frames + 1]
    return np.ascontiguousarray(mel[:, :, : config.target_frames].transpose(0, 2, 1), dtype=np.float32)


def track_mel(path: str | Path, config: FrontEndConfig = FrontEndConfig()) -> np.ndarray:
    """Decode a track and return the VAE input of its segment, ``[target_frames, n_mels]``."""
    y = load_audio(path, config.mel.sample_rate)
    return waveform_mel(segment_waveform(y, config)[None], config)[0]


def ground_truth_segment(path: str | Path, config: FrontEndConfig = FrontEndConfig()) -> np.ndarray:
    """The un-padded segment of a track the model is trained to match (used as
    the evaluation reference), normalised like the training input."""
    y = load_audio(path, config.mel.sample_rate)
    return normalise(select_segment(y, config), config.peak)
