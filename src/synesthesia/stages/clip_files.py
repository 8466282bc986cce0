"""Clip files: the 15 s (MPD), 10 s or 30 s (Museart) pieces of a track written
as audio files, either 16 kHz mono model input or listening copies at the
track's own rate and channels (people listen, not the model).

They never clip silently: when a track peaks above full scale (lossy streams
decode above 1.0), every clip of it is written with the gain that brings the
track's peak to full scale, and each row records the clip's ``source_peak``
and the ``gain``. :mod:`synesthesia.stages.audio` writes them from the one
decode of each track.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from synesthesia.datasets.media import ClipConfig, DecodedAudio, cut_clips

CLIP_FORMATS = {"flac": "FLAC", "wav": "WAV"}


def clip_file_path(clip_id: str, fmt: str = "flac") -> str:
    """Where a clip file lives below the clip folder: 256 sub-folders keyed
    by a hash of the id, so no folder holds more than a few hundred files
    even at 100k clips."""
    import hashlib

    bucket = hashlib.sha1(clip_id.encode()).hexdigest()[:2]
    return f"{bucket}/{clip_id}.{fmt}"


def to_pcm16(y: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → int16. Values outside are clipped, as a
    guard only: clip files are written with a gain that keeps them inside
    (:func:`track_gain`)."""
    return np.round(np.clip(y, -1.0, 1.0) * 32767.0).astype(np.int16)


def track_gain(peak: float) -> float:
    """The gain applied to every clip of a track whose samples reach ``peak``:
    1 when the track fits full scale, else the gain that brings its peak to
    full scale (the whole track, so loudness within it is unchanged)."""
    return 1.0 if peak <= 1.0 else 1.0 / peak


def write_clip_file(samples: np.ndarray, path: str | Path, sample_rate: int, fmt: str = "flac") -> Path:
    """Write one clip (``[samples]`` mono or ``[samples, channels]``) as 16-bit PCM (FLAC or WAV) atomically."""
    import os
    import tempfile

    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, to_pcm16(samples), sample_rate, format=CLIP_FORMATS[fmt], subtype="PCM_16")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def prune_clip_files(folder: str | Path, keep: set[str]) -> int:
    """Remove clip files (and temp files of killed runs) under ``folder`` whose
    relative path is not in ``keep``: what an older input set or config left."""
    folder = Path(folder)
    removed = 0
    if not folder.is_dir():
        return 0
    for f in folder.glob("*/*"):
        rel = f.relative_to(folder).as_posix()
        if f.is_file() and rel not in keep:
            f.unlink()
            removed += 1
    return removed


@dataclass(frozen=True)
class CopyJob:
    """Clip files of ``clips`` into ``out/clips/`` (index parts in ``_work/clip-files``):
    16 kHz mono model input, or (``native``) listening copies at each track's own rate and channels."""

    clips: pa.Table
    clip: ClipConfig
    fmt: str = "flac"
    native: bool = False

    @property
    def key(self) -> tuple:
        # Clip files with a recorded gain (peak and gain columns) replace the plain 16-bit ones.
        return (self.clip, self.fmt, self.native, "gain-v1") if self.native else (self.clip, self.fmt, "gain-v1")


def native_copies(track: DecodedAudio, clips, clip_seconds: float):
    """(clip_id, samples at the file's rate and channels, rate, samples of real
    signal) per ``(clip_id, start_s)``: the spans the decode kept (requested
    with :func:`copy_spans`, in the same order), zero-padded past the track's
    end, no resampling (people listen, not the model)."""
    sr = track.sample_rate
    size = int(round(clip_seconds * sr))
    for (cid, _), piece in zip(clips, track.spans):
        signal = piece.shape[0]
        if signal < size:
            piece = np.concatenate([piece, np.zeros((size - signal, track.channels), np.float32)])
        yield cid, (piece[:, 0] if track.channels == 1 else piece), sr, signal


def copy_spans(clips, clip_seconds: float) -> list[tuple[float, float]]:
    """The native spans a decode keeps for :func:`native_copies`."""
    return [(start, clip_seconds) for _, start in clips]


def resampled_copies(track: DecodedAudio, clips, clip: ClipConfig):
    """Like :func:`native_copies`, from the 16 kHz (``clip.sample_rate``) mono signal."""
    y = track.mono
    size = clip.clip_samples
    starts = [int(round(start * clip.sample_rate)) for _, start in clips]
    for (cid, _), start, samples in zip(clips, starts, cut_clips(y, starts, size)):
        yield cid, samples, clip.sample_rate, int(max(0, min(size, len(y) - start)))


def copy_rows(track: DecodedAudio, clips, job: "CopyJob", folder: Path) -> list[dict]:
    """Write the clip files of one track and return their ``CLIP_FILES`` rows.
    The gain comes from the peak of everything written from the track (the
    native samples, or the resampled mono signal, which resampling can push
    above the source's peak)."""
    peak = track.peak if job.native else (float(max(track.mono.max(), -track.mono.min())) if clips and len(track.mono) else 0.0)
    gain = track_gain(peak)
    pieces = native_copies(track, clips, job.clip.clip_seconds) if job.native else resampled_copies(track, clips, job.clip)
    rows = []
    for cid, samples, sample_rate, signal in pieces:
        rel = clip_file_path(cid, job.fmt)
        write_clip_file(samples * np.float32(gain) if gain != 1.0 else samples, folder / rel, sample_rate, job.fmt)
        rows.append(
            {
                "clip_id": cid, "path": rel, "sample_rate": sample_rate, "n_samples": len(samples), "signal_samples": signal,
                "source_peak": float(np.abs(samples).max()) if len(samples) else 0.0, "gain": gain,
            }
        )
    return rows
