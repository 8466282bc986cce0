"""Audio stage throughput on the formats real corpora use.

Generates tracks (44.1 kHz stereo, like most music corpora) as WAV, FLAC,
Ogg Vorbis or MP3 (``--format``; soundfile writes all four) and runs the
audio pass the ``build mpd`` flow runs (``synesthesia.stages.audio``): each
track decoded once, resampled to 16 kHz, cut into 15 s clips, log-mel; with
``--copies`` also the raters' listening copies (15 s FLAC at the source's
rate and channels) of every clip from the same decode, as MPD makes them
when every clip is paired. Runs it in 1 process and in a pool of
``--workers`` processes (what the local runner does) and prints the
real-time factor (seconds of audio per wall second) and the time per clip.

    python benchmarks/audio_stage.py [--format ogg] [--tracks 24] [--seconds 180] [--workers 2] [--copies]

Goal (issue 2): >= 1,000x real time on 2 cores (measured on WAV; see
docs/performance.md for the compressed formats).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import soundfile as sf

from synesthesia.datasets.media import ClipConfig, MelConfig
from synesthesia.stages.audio import CopyJob, MelJob, audio_pass, plan_clips

FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"), "mp3": ("MP3", "MPEG_LAYER_III")}


def make_tracks(folder: Path, n: int, seconds: float, fmt: str = "wav", sr: int = 44_100) -> pa.Table:
    rng = np.random.default_rng(0)
    rows = []
    container, subtype = FORMATS[fmt]
    for k in range(n):
        t = np.arange(int(seconds * sr)) / sr
        y = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 800) * t) + 0.05 * rng.standard_normal(len(t))
        path = folder / f"track{k:04d}.{fmt}"
        write_chunked(path, np.stack([y, np.roll(y, 40)], 1).astype(np.float32), sr, container, subtype)
        frames = sf.info(path).frames
        rows.append({"track_id": f"t{k:04d}", "path": path.name, "sha256": str(k), "n_frames": frames, "sample_rate": sr})
    return pa.Table.from_pylist(rows)


def write_chunked(path: Path, y: np.ndarray, sr: int, container: str, subtype: str) -> None:
    """soundfile.write in blocks: libsndfile 1.2 crashes writing a minute of Vorbis in one call."""
    with sf.SoundFile(path, "w", sr, y.shape[1], subtype, format=container) as f:
        for start in range(0, len(y), 1 << 16):
            f.write(y[start : start + (1 << 16)])


def pool_runner(workers: int):
    """A ShardRunner on a process pool (what the local Prefect runner does, without Prefect)."""
    pool = ProcessPoolExecutor(workers)

    def run(step, shards, **kwargs):
        return [f.result() for f in [pool.submit(step, shard=s, **kwargs) for s in shards]]

    return run, pool


def timed_pass(folder: Path, out: Path, tracks: pa.Table, copies: bool, run=None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, clips) of one audio pass."""
    clips = plan_clips(tracks, ClipConfig())
    kwargs = {"run": run} if run else {}
    cpu = time.process_time()
    started = time.perf_counter()
    result = audio_pass(
        tracks, folder, out, 200, mels=MelJob(clips, ClipConfig(), MelConfig()),
        copies=CopyJob(clips, ClipConfig(), native=True) if copies else None, **kwargs,
    )
    elapsed = time.perf_counter() - started
    assert result.failed.num_rows == 0
    return elapsed, time.process_time() - cpu, clips.num_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--format", choices=sorted(FORMATS), default="wav")
    ap.add_argument("--tracks", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--copies", action="store_true", help="also write every clip's listening copy from the same decode")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "music"
        folder.mkdir()
        tracks = make_tracks(folder, args.tracks, args.seconds, args.format)
        timed_pass(folder, Path(tmp) / "warm", tracks.slice(0, 1), args.copies)  # imports, mel filterbank
        one, cpu, n = timed_pass(folder, Path(tmp) / "one", tracks, args.copies)
        run, pool = pool_runner(args.workers)
        with pool:
            timed_pass(folder, Path(tmp) / "warm-pool", tracks.slice(0, args.workers), args.copies, run)  # start the workers
            many, _, _ = timed_pass(folder, Path(tmp) / "many", tracks, args.copies, run)
        audio_s = n * ClipConfig().clip_seconds
        what = "mels + listening copies" if args.copies else "mels"
        print(f"tracks: {args.tracks} x {args.seconds:g} s (44.1 kHz stereo {args.format.upper()}) -> {n} clips of 15 s = {audio_s:.0f} s of audio; {what}")
        print(f"1 process      : {one:6.2f} s wall, {audio_s / one:7.0f}x real time, {1000 * one / n:6.2f} ms per clip; "
              f"{cpu:6.2f} CPU s, {audio_s / cpu:7.0f}x real time per CPU-second (less sensitive to a busy machine)")
        print(f"{args.workers} processes    : {many:6.2f} s wall, {audio_s / many:7.0f}x real time, {1000 * many / n:6.2f} ms per clip")
        print(f"goal >= 1000x real time on 2 cores: {'met' if audio_s / many >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
