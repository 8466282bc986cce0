"""Audio stage throughput: decode + resample to 16 kHz + cut 15 s clips + log-mel.

Generates tracks (44.1 kHz stereo WAV, like most music corpora) and runs the
same shard function the `build mpd` flow runs, in 1 process and in a pool of
`--workers` processes (what the local runner does). Prints the real-time
factor (seconds of audio processed per wall second) and the time per clip.

    python benchmarks/audio_stage.py [--tracks 48] [--seconds 60] [--workers 2]
Goal (issue 2): >= 1,000x real time on 2 cores.
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
from synesthesia.stages.audio import mel_shard, clip_work_items, plan_clips


def make_tracks(folder: Path, n: int, seconds: float, sr: int = 44_100) -> pa.Table:
    rng = np.random.default_rng(0)
    rows = []
    for k in range(n):
        t = np.arange(int(seconds * sr)) / sr
        y = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 800) * t) + 0.05 * rng.standard_normal(len(t))
        path = folder / f"track{k:04d}.wav"
        sf.write(path, np.stack([y, y], 1).astype(np.float32), sr, subtype="PCM_16")
        rows.append({"track_id": f"t{k:04d}", "path": path.name, "sha256": str(k), "n_frames": len(t), "sample_rate": sr})
    return pa.Table.from_pylist(rows)


def run(folder: Path, items: list[dict]) -> int:
    return mel_shard(folder, items, ClipConfig(), MelConfig()).num_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tracks = make_tracks(folder, args.tracks, args.seconds)
        clips = plan_clips(tracks, ClipConfig())
        items = clip_work_items(tracks, clips)
        audio_s = clips.num_rows * ClipConfig().clip_seconds
        run(folder, items[:1])  # warm-up: imports, mel filterbank
        t0 = time.perf_counter()
        n = run(folder, items)
        one = time.perf_counter() - t0
        shards = [items[i :: args.workers * 4] for i in range(args.workers * 4)]
        with ProcessPoolExecutor(args.workers) as pool:
            list(pool.map(run, [folder] * args.workers, [items[:1]] * args.workers))  # warm the workers
            t0 = time.perf_counter()
            total = sum(pool.map(run, [folder] * len(shards), shards))
            many = time.perf_counter() - t0
        assert n == total == clips.num_rows
        print(f"tracks: {args.tracks} x {args.seconds:g} s (44.1 kHz stereo WAV) -> {clips.num_rows} clips of 15 s = {audio_s:.0f} s of audio")
        print(f"1 process      : {one:6.2f} s wall, {audio_s / one:7.0f}x real time, {1000 * one / n:6.2f} ms per clip")
        print(f"{args.workers} processes    : {many:6.2f} s wall, {audio_s / many:7.0f}x real time, {1000 * many / n:6.2f} ms per clip")
        print(f"goal >= 1000x real time on 2 cores: {'met' if audio_s / many >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
