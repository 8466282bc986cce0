"""Audio: decode, resample to 16 kHz mono, cut into clips, log-mel spectrograms.

Shared by the three datasets (MPD: 15 s clips; ArtSound: 10 s segments;
Museart: 30 s clips); only :class:`ClipConfig` differs. Clips are either
turned into log-mels (:func:`mel_shard_step`) or stored as 16 kHz mono audio
files (:func:`clip_file_shard_step`).

Mel spectrogram (MPD paper, Experimental Details): 16 kHz, FFT/window 1024,
hop 512, 128 mel bins. With a centred STFT a 15 s clip (240,000 samples) has
``1 + 240000 // 512 = 469`` frames, so one clip is a **128 × 469** array:
axis 0 is mel frequency (low → high), axis 1 is time. The paper writes
"469 × 128" (time × frequency); we store frequency-first, the usual layout for
2-D convolutions over spectrograms. Values are log power in dB,
``10·log10(max(power, 1e-10))`` with reference 1 (no per-clip max
normalisation, so loudness differences between clips survive), which also
keeps them inside float16's range for storage.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S

TARGET_SAMPLE_RATE = 16_000
#: MPD: "non-overlapping 15-second clips".
MPD_CLIP_SECONDS = 15.0


@dataclass(frozen=True)
class ClipConfig:
    """How a track is cut into clips (all at ``sample_rate``).

    ``short_track``: what to do with a track shorter than one clip — ``"drop"``
    (it yields no clip; ingest quarantines it) or ``"pad"`` (one zero-padded
    clip). ``tail``: a remainder shorter than a clip at the end of a longer
    track is always dropped (``"drop"``) unless ``"pad"``.
    """

    clip_seconds: float = MPD_CLIP_SECONDS
    sample_rate: int = TARGET_SAMPLE_RATE
    short_track: Literal["drop", "pad"] = "drop"
    tail: Literal["drop", "pad"] = "drop"

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))


@dataclass(frozen=True)
class MelConfig:
    """Log-mel parameters (defaults: the MPD paper)."""

    sample_rate: int = TARGET_SAMPLE_RATE
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None  # None → sample_rate / 2
    amin: float = 1e-10

    def n_frames(self, n_samples: int) -> int:
        """Frames of a centred STFT over ``n_samples``."""
        return 1 + n_samples // self.hop_length


# --- decoding ------------------------------------------------------------------

def resampled_length(n_frames: int, sample_rate: int, target_sr: int = TARGET_SAMPLE_RATE) -> int:
    """Samples a track has after resampling, by integer arithmetic (floor), so
    the clip plan can be made from ingest metadata without decoding."""
    return n_frames * target_sr // sample_rate


def load_audio(source: str | Path | bytes, target_sr: int = TARGET_SAMPLE_RATE) -> np.ndarray:
    """Decode, average channels to mono, resample (soxr, high quality) to ``target_sr``."""
    import soundfile as sf

    def handle():
        return io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source

    # libsndfile's int→float conversion is slow (measured ~8x slower than
    # reading 16-bit PCM as int16 and scaling here).
    pcm16 = sf.info(handle()).subtype == "PCM_16"
    samples, sr = sf.read(handle(), dtype="int16" if pcm16 else "float32", always_2d=True)
    weights = np.full(samples.shape[1], (1 / 32768 if pcm16 else 1.0) / samples.shape[1], np.float32)
    mono = samples.astype(np.float32, copy=False) @ weights  # channel average (a matvec; .mean is slow here)
    return resample(mono, sr, target_sr)


def resample(y: np.ndarray, sr: int, target_sr: int = TARGET_SAMPLE_RATE) -> np.ndarray:
    if sr == target_sr:
        return np.ascontiguousarray(y, dtype=np.float32)
    import soxr

    return soxr.resample(y, sr, target_sr, quality="HQ").astype(np.float32, copy=False)


# --- clips -----------------------------------------------------------------------

def clip_starts(n_samples: int, config: ClipConfig) -> list[int]:
    """Start samples of the non-overlapping clips cut from the start of a track."""
    size = config.clip_samples
    if n_samples < size:
        return [0] if (config.short_track == "pad" and n_samples > 0) else []
    n_full = n_samples // size
    starts = [i * size for i in range(n_full)]
    if config.tail == "pad" and n_samples % size:
        starts.append(n_full * size)
    return starts


def clip_id(track_id: str, index: int) -> str:
    return f"{track_id}-c{index:03d}"


def plan_clips(tracks: pa.Table, config: ClipConfig, id_column: str = "track_id") -> pa.Table:
    """``clips.parquet`` rows for every track, from ingest metadata alone."""
    rows = []
    ids = tracks.column(id_column).to_pylist()
    frames = tracks.column("n_frames").to_pylist()
    rates = tracks.column("sample_rate").to_pylist()
    splits = tracks.column("split").to_pylist() if "split" in tracks.column_names else [None] * len(ids)
    sr = config.sample_rate
    for tid, n, rate, split in zip(ids, frames, rates, splits):
        n16 = resampled_length(n, rate, sr)
        for i, start in enumerate(clip_starts(n16, config)):
            rows.append(
                {
                    "clip_id": clip_id(tid, i),
                    "track_id": tid,
                    "clip_index": i,
                    "start_s": start / sr,
                    "end_s": (start + config.clip_samples) / sr,
                    "split": split,
                }
            )
    return S.from_rows(rows, S.CLIPS)


def cut_clips(y: np.ndarray, starts: list[int], size: int) -> np.ndarray:
    """Stack clips ``y[start:start+size]``; zero-pad any that run past the end."""
    out = np.zeros((len(starts), size), dtype=np.float32)
    for k, s in enumerate(starts):
        piece = y[s : s + size]
        out[k, : len(piece)] = piece
    return out


# --- mel ---------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float32)


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    # Periodic Hann, as librosa's get_window("hann", n, fftbins=True).
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def log_mel(clips: np.ndarray, config: MelConfig = MelConfig()) -> np.ndarray:
    """Log-mel (dB) of a batch of clips ``[n, samples]`` → ``[n, n_mels, frames]``.

    Equal to ``power_to_db(librosa.feature.melspectrogram(y, sr, n_fft, hop,
    n_mels, center=True, pad_mode="constant"), ref=1, amin, top_db=None)``
    (tested), but batched: all frames of all clips go through one FFT and one
    matrix product.
    """
    import scipy.fft

    clips = np.atleast_2d(np.asarray(clips, dtype=np.float32))
    n, length = clips.shape
    pad = config.n_fft // 2
    padded = np.pad(clips, ((0, 0), (pad, pad)))
    n_frames = config.n_frames(length)
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft, axis=1)[:, :: config.hop_length][:, :n_frames]
    spec = scipy.fft.rfft(frames * _hann(config.n_fft), axis=-1, workers=1)
    power = spec.real**2 + spec.imag**2  # [n, frames, bins]
    basis = _mel_basis(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
    mel = np.matmul(basis, power.transpose(0, 2, 1))  # [n, n_mels, frames]
    return 10.0 * np.log10(np.maximum(mel, config.amin))


def mel_table(clip_ids: list[str], mels: np.ndarray, config: MelConfig) -> pa.Table:
    schema = S.mels_schema(
        config.n_mels,
        mels.shape[-1] if len(mels) else config.n_frames(0),
        {
            "sample_rate": config.sample_rate,
            "n_fft": config.n_fft,
            "hop_length": config.hop_length,
            "scale": "dB, 10*log10(max(power, amin)), ref 1",
            "amin": config.amin,
        },
    )
    column = dio.numpy_to_fixed_list(mels.astype(np.float16), pa.float16())
    return pa.Table.from_arrays([pa.array(clip_ids, pa.string()), column], schema=schema)


def track_mels(path: str | Path, starts: list[int], clip: ClipConfig, mel: MelConfig) -> np.ndarray:
    """Decode one track and return the log-mels of the clips starting at ``starts``."""
    if not starts:
        return np.zeros((0, mel.n_mels, mel.n_frames(clip.clip_samples)), np.float32)
    y = load_audio(path, clip.sample_rate)
    # Small batches: one FFT over a few clips stays in cache (measured ~3x
    # faster per clip than one FFT over 40 clips).
    batch = 4
    return np.concatenate(
        [log_mel(cut_clips(y, starts[i : i + batch], clip.clip_samples), mel) for i in range(0, len(starts), batch)]
    )


def clip_work_items(tracks: pa.Table, clips: pa.Table, id_column: str = "track_id") -> list[dict]:
    """One work item per track that has clips: its id, path, sha256 and the
    (clip_id, start second) of its clips. Mel and clip-file shards are made of these."""
    by_track: dict[str, list[tuple[str, float]]] = {}
    for cid, tid, start in zip(
        clips.column("clip_id").to_pylist(), clips.column("track_id").to_pylist(), clips.column("start_s").to_pylist()
    ):
        by_track.setdefault(tid, []).append((cid, start))
    items = []
    for tid, path, sha in zip(tracks.column(id_column).to_pylist(), tracks.column("path").to_pylist(), tracks.column("sha256").to_pylist()):
        if tid in by_track:
            items.append({"track_id": tid, "path": path, "sha256": sha, "clips": tuple(sorted(by_track[tid], key=lambda c: c[1]))})
    return items


#: The former name (mel shards were the first users).
mel_work_items = clip_work_items


def mel_shard(root: str | Path, items: list[dict], clip: ClipConfig = ClipConfig(), mel: MelConfig = MelConfig()) -> pa.Table:
    """The mel rows of a shard of tracks (items from :func:`mel_work_items`)."""
    from threadpoolctl import threadpool_limits

    ids, arrays = [], []
    # Parallelism comes from running shards side by side; a multi-threaded
    # BLAS inside each worker only contends (measured 20x slower matmuls).
    with threadpool_limits(limits=1, user_api="blas"):
        for item in items:
            starts = [int(round(start * clip.sample_rate)) for _, start in item["clips"]]
            arrays.append(track_mels(Path(root) / item["path"], starts, clip, mel))
            ids.extend(cid for cid, _ in item["clips"])
    frames = mel.n_frames(clip.clip_samples)
    stacked = np.concatenate(arrays) if arrays else np.zeros((0, mel.n_mels, frames), np.float32)
    return mel_table(ids, stacked, mel)


def read_mels(folder: str | Path) -> tuple[list[str], np.ndarray]:
    """All mels of a ``mels/`` folder: (clip ids, float32 array ``[n, mel, time]``)."""
    import pyarrow.parquet as pq

    files = dio.part_files(folder)
    if not files:
        return [], np.zeros((0, 0, 0), np.float32)
    ids: list[str] = []
    arrays = []
    for f in files:
        table = pq.read_table(f)
        shape = tuple(S.schema_meta(table.schema)["shape"])
        ids.extend(table.column("clip_id").to_pylist())
        arrays.append(dio.fixed_list_to_numpy(table.column("mel"), shape).astype(np.float32))
    return ids, np.concatenate(arrays)


# --- shard step --------------------------------------------------------------------

def mel_shard_step(shard, root: str, clip: ClipConfig, mel: MelConfig, folder: str) -> dict:
    """Compute and write the mels of one shard of tracks (``shard.items``
    from :func:`mel_work_items`)."""
    from synesthesia.pipelines.shards import ShardStore

    store = ShardStore(folder)
    if store.done(shard):
        return {"skipped": True}
    table = mel_shard(root, list(shard.items), clip, mel)
    dio.write_table(table, store.path(shard))
    return {"tracks": len(shard.items), "clips": table.num_rows}


# --- clips as audio files ------------------------------------------------------------

CLIP_FORMATS = {"flac": "FLAC", "wav": "WAV"}


def clip_file_path(clip_id: str, fmt: str = "flac") -> str:
    """Where a clip file lives below the clip folder: 256 sub-folders keyed
    by a hash of the id, so no folder holds more than a few hundred files
    even at 100k clips."""
    import hashlib

    bucket = hashlib.sha1(clip_id.encode()).hexdigest()[:2]
    return f"{bucket}/{clip_id}.{fmt}"


def to_pcm16(y: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → int16 (clipped; resampling can overshoot
    slightly and a wrap-around would be a loud click)."""
    return np.round(np.clip(y, -1.0, 1.0) * 32767.0).astype(np.int16)


def write_clip_file(samples: np.ndarray, path: str | Path, sample_rate: int, fmt: str = "flac") -> Path:
    """Write one mono clip as 16-bit PCM (FLAC or WAV) atomically."""
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


def clip_file_shard(root: str | Path, items: list[dict], clip: ClipConfig, folder: str | Path, fmt: str = "flac") -> pa.Table:
    """Decode each track of a shard once (16 kHz mono), cut its clips (zero-
    padded past the end) and write each as its own file under ``folder``.
    Returns the :data:`schema.CLIP_FILES` rows (paths relative to ``folder``)."""
    rows = []
    size = clip.clip_samples
    for item in items:
        y = load_audio(Path(root) / item["path"], clip.sample_rate)
        starts = [int(round(start * clip.sample_rate)) for _, start in item["clips"]]
        for (cid, _), start, samples in zip(item["clips"], starts, cut_clips(y, starts, size)):
            rel = clip_file_path(cid, fmt)
            write_clip_file(samples, Path(folder) / rel, clip.sample_rate, fmt)
            rows.append(
                {
                    "clip_id": cid,
                    "path": rel,
                    "sample_rate": clip.sample_rate,
                    "n_samples": size,
                    "signal_samples": int(max(0, min(size, len(y) - start))),
                }
            )
    return S.from_rows(rows, S.CLIP_FILES)


def clip_file_shard_step(shard, root: str, clip: ClipConfig, folder: str, index_folder: str, fmt: str = "flac") -> dict:
    """Write the clip files of one shard of tracks (``shard.items`` from
    :func:`clip_work_items`) into ``folder``; the shard's index part in
    ``index_folder`` is written last and marks the shard done."""
    from synesthesia.pipelines.shards import ShardStore

    store = ShardStore(index_folder)
    if store.done(shard):
        return {"skipped": True}
    table = clip_file_shard(root, list(shard.items), clip, folder, fmt)
    dio.write_table(table, store.path(shard))
    return {"tracks": len(shard.items), "clips": table.num_rows}


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


def load_clip(path: str | Path, sample_rate: int = TARGET_SAMPLE_RATE) -> np.ndarray:
    """A stored clip as float32 mono at ``sample_rate`` (no resampling when the
    file already has that rate, which stored clips do)."""
    return load_audio(path, sample_rate)
