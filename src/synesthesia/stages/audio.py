"""The audio stages: clip plans, log-mel shards and clip files.

Shared by the three datasets (MPD: 15 s clips; ArtSound: 10 s segments;
Museart: 30 s clips); only :class:`~synesthesia.datasets.media.ClipConfig`
differs. Clips are either turned into log-mels (:func:`mel_shard_step`) or
stored as audio files (:func:`clip_file_shard_step`). Decoding, resampling
and the mel maths live in :mod:`synesthesia.datasets.media`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.stages.shards import ShardRunner, ShardStore, plan_shards, run_serially, work_dir, write_once
from synesthesia.datasets.media import (
    ClipConfig,
    MelConfig,
    clip_starts,
    cut_clips,
    load_audio,
    log_mel,
    resampled_length,
)

# --- clips -----------------------------------------------------------------------

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


def mel_table(clip_ids: list[str], mels: np.ndarray, config: MelConfig) -> pa.Table:
    schema = S.mels_schema(
        config.n_mels,
        mels.shape[-1] if len(mels) else config.n_frames(0),
        {
            "sample_rate": config.sample_rate,
            "n_fft": config.n_fft,
            "hop_length": config.hop_length,
            "scale": config.scale,
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



def mel_shard(root: str | Path, items: list[dict], clip: ClipConfig = ClipConfig(), mel: MelConfig = MelConfig()) -> pa.Table:
    """The mel rows of a shard of tracks (items from :func:`clip_work_items`)."""
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
    from :func:`clip_work_items`)."""

    def produce():
        table = mel_shard(root, list(shard.items), clip, mel)
        return {"part": (table, None)}, {"tracks": len(shard.items), "clips": table.num_rows}

    return write_once(shard, folder, produce)


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


def clip_file_shard(root: str | Path, items: list[dict], clip: ClipConfig, folder: str | Path, fmt: str = "flac", native: bool = False) -> pa.Table:
    """Decode each track of a shard once (16 kHz mono), cut its clips (zero-
    padded past the end) and write each as its own file under ``folder``.
    Returns the :data:`schema.CLIP_FILES` rows (paths relative to ``folder``).

    ``native=True``: keep the track's own sample rate and channels (each clip
    is read straight from the file, ``clip.clip_seconds`` long): listening
    copies for people (MPD raters), not model input."""
    rows = []
    for item in items:
        clips = native_clips(Path(root) / item["path"], item["clips"], clip.clip_seconds) if native else _resampled_clips(Path(root) / item["path"], item["clips"], clip)
        for cid, samples, sample_rate, signal in clips:
            rel = clip_file_path(cid, fmt)
            write_clip_file(samples, Path(folder) / rel, sample_rate, fmt)
            rows.append({"clip_id": cid, "path": rel, "sample_rate": sample_rate, "n_samples": len(samples), "signal_samples": signal})
    return S.from_rows(rows, S.CLIP_FILES)


def _resampled_clips(path: Path, clips, clip: ClipConfig):
    """(clip_id, 16 kHz mono samples, rate, samples of real signal) per clip of a track."""
    y = load_audio(path, clip.sample_rate)
    size = clip.clip_samples
    starts = [int(round(start * clip.sample_rate)) for _, start in clips]
    for (cid, _), start, samples in zip(clips, starts, cut_clips(y, starts, size)):
        yield cid, samples, clip.sample_rate, int(max(0, min(size, len(y) - start)))


def native_clips(path: Path, clips, clip_seconds: float):
    """(clip_id, samples at the file's rate and channels, rate, samples of real
    signal) per ``(clip_id, start_s)``: read with a seek, no resampling."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        size = int(round(clip_seconds * f.samplerate))
        for cid, start_s in clips:
            f.seek(min(int(round(start_s * f.samplerate)), f.frames))
            piece = f.read(size, dtype="float32", always_2d=True)
            signal = piece.shape[0]
            if signal < size:
                piece = np.concatenate([piece, np.zeros((size - signal, f.channels), np.float32)])
            yield cid, (piece[:, 0] if f.channels == 1 else piece), f.samplerate, signal


def clip_file_shard_step(shard, root: str, clip: ClipConfig, folder: str, index_folder: str, fmt: str = "flac", native: bool = False) -> dict:
    """Write the clip files of one shard of tracks (``shard.items`` from
    :func:`clip_work_items`) into ``folder``; the shard's index part in
    ``index_folder`` is written last and marks the shard done."""

    def produce():
        table = clip_file_shard(root, list(shard.items), clip, folder, fmt, native)
        return {"part": (table, None)}, {"tracks": len(shard.items), "clips": table.num_rows}

    return write_once(shard, index_folder, produce)


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


# --- the sharded stages ------------------------------------------------------------

def compute_mels(
    tracks: pa.Table, clips: pa.Table, root: str | Path, out: str | Path, clip_config: ClipConfig, mel_config: MelConfig,
    shard_size: int, id_column: str = "track_id", run: ShardRunner = run_serially,
) -> list[Path]:
    """The sharded mel stage: ``out/mels/part-*.parquet`` for every planned clip."""
    items = clip_work_items(tracks, clips, id_column)
    fingerprints = [(i["track_id"], i["sha256"], i["clips"]) for i in items]
    shards = plan_shards("mels", items, shard_size, (clip_config, mel_config), fingerprints)
    folder = Path(out) / "mels"
    run(mel_shard_step, shards, root=str(root), clip=clip_config, mel=mel_config, folder=str(folder))
    return ShardStore(folder).finalize(shards)


def write_clip_files(
    tracks: pa.Table, clips: pa.Table, root: str | Path, out: str | Path, clip_config: ClipConfig, shard_size: int,
    fmt: str = "flac", id_column: str = "track_id", native: bool = False, run: ShardRunner = run_serially,
) -> pa.Table:
    """The sharded clip-file stage: every planned clip as a 16 kHz mono file
    (``native``: at the track's own rate and channels) under ``out/clips/``
    and its :data:`schema.CLIP_FILES` row. Files no current clip owns are
    removed. Returns the merged clip-file table."""
    items = clip_work_items(tracks, clips, id_column)
    fingerprints = [(i["track_id"], i["sha256"], i["clips"]) for i in items]
    shards = plan_shards("clip-files", items, shard_size, (clip_config, fmt, native) if native else (clip_config, fmt), fingerprints)
    folder = Path(out) / "clips"
    index = work_dir(out, "clip-files")
    store = ShardStore(index)
    for shard in shards:  # a finished shard whose files were deleted since is redone
        if store.done(shard):
            paths = dio.read_table(store.path(shard), columns=["path"]).column("path").to_pylist()
            if not all((folder / p).is_file() for p in paths):
                store.path(shard).unlink()
    run(clip_file_shard_step, shards, root=str(root), clip=clip_config, folder=str(folder), index_folder=str(index), fmt=fmt, native=native)
    files = store.finalize(shards)
    table = dio.concat((dio.read_table(f, S.CLIP_FILES) for f in files), S.CLIP_FILES)
    prune_clip_files(folder, set(table.column("path").to_pylist()))
    return table
