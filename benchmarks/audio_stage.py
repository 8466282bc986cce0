"""Audio stage throughput: decode + resample to 16 kHz + cut 15 s clips + log-mel.

Generates tracks (44.1 kHz stereo music, two different parts; `--format`
wav (16-bit PCM), mp3, ogg (Vorbis) or flac, encoded by libsndfile) and
runs the same shard function the `build mpd` flow runs, in 1 process and in
a pool of `--workers` processes (what the local runner does). Prints the
real-time factor (seconds of audio processed per wall second, and per CPU
second of the workers: on a shared machine the CPU-time figure times the
number of cores is the steadier estimate of an idle machine) and the time
per clip. ``--copies``: the audio pass ``build mpd`` runs (``audio_pass``:
each track decoded once for its mels and every clip's listening copy, 15 s
FLAC at 44.1 kHz stereo, as when every clip is paired) instead of the mels
alone.

    python benchmarks/audio_stage.py [--tracks 48] [--seconds 60] [--workers 2] [--format wav|mp3|ogg|flac] [--copies]
Goals: >= 1,000x real time on 2 cores (issue 2: WAV; issue 21: MP3).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import soundfile as sf

from synesthesia.datasets.media import ClipConfig, MelConfig
from synesthesia.datasets.synthetic import MUSIC_GENRES, synth_track
from synesthesia.stages.audio import CopyJob, MelJob, audio_pass, clip_work_items, mel_shard, plan_clips


FORMATS = {"wav": ("WAV", "PCM_16"), "mp3": ("MP3", "MPEG_LAYER_III"), "ogg": ("OGG", "VORBIS"), "flac": ("FLAC", "PCM_16")}


def make_tracks(folder: Path, n: int, seconds: float, fmt: str = "wav", sr: int = 44_100) -> pa.Table:
    rng = np.random.default_rng(0)
    rows = []
    genres = sorted(MUSIC_GENRES)
    distinct = min(n, 8)  # encoding is slow (MP3: ~25x real time): copies of 8 tracks
    for k in range(n):
        path = folder / f"track{k:04d}.{fmt}"
        if k < distinct:
            left = synth_track(genres[k % 4], seconds, sr, rng)
            y = np.stack([left, 0.8 * np.roll(left, 500) + 0.2 * synth_track(genres[(k + 1) % 4], seconds, sr, rng)], 1)
            with sf.SoundFile(path, "w", sr, 2, format=FORMATS[fmt][0], subtype=FORMATS[fmt][1]) as f:
                for s in range(0, len(y), 1 << 16):  # libsndfile 1.2's Vorbis encoder crashes on one long write
                    f.write(y[s : s + (1 << 16)])
        else:
            shutil.copyfile(folder / f"track{k % distinct:04d}.{fmt}", path)
        rows.append({"track_id": f"t{k:04d}", "path": path.name, "sha256": str(k), "n_frames": sf.info(path).frames, "sample_rate": sr})
    return pa.Table.from_pylist(rows)


def run(folder: Path, items: list[dict]) -> int:
    return mel_shard(folder, items, ClipConfig(), MelConfig()).num_rows


def run_with_copies(folder: Path, items: list[dict]) -> int:
    """The audio pass on these tracks: mels and every clip's listening copy, one decode per track."""
    if not items:
        return 0
    names = [i["track_id"] for i in items]
    tracks = pa.Table.from_pylist([{k: i[k] for k in ("track_id", "path", "sha256", "n_frames")} | {"sample_rate": 44_100} for i in items])
    clips = plan_clips(tracks, ClipConfig())
    out = Path(tempfile.mkdtemp(dir=folder, prefix="pass-" + names[0]))
    result = audio_pass(tracks, folder, out, len(items), MelJob(clips, ClipConfig(), MelConfig()), CopyJob(clips, ClipConfig(), native=True))
    return result.clip_files.num_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--format", choices=sorted(FORMATS), default="wav")
    ap.add_argument("--copies", action="store_true", help="the audio pass: mels and every clip's listening copy from one decode")
    args = ap.parse_args()
    global run
    if args.copies:
        run = run_with_copies
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tracks = make_tracks(folder, args.tracks, args.seconds, args.format)
        clips = plan_clips(tracks, ClipConfig())
        items = clip_work_items(tracks, clips)
        audio_s = clips.num_rows * ClipConfig().clip_seconds
        run(folder, items[:1])  # warm-up: imports, mel filterbank
        t0, c0 = time.perf_counter(), time.process_time()
        n = run(folder, items)
        one, one_cpu = time.perf_counter() - t0, time.process_time() - c0
        shards = [items[i :: args.workers * 4] for i in range(args.workers * 4)]
        with ProcessPoolExecutor(args.workers) as pool:
            list(pool.map(run, [folder] * args.workers, [items[:1]] * args.workers))  # warm the workers
            t0 = time.perf_counter()
            total = sum(pool.map(run, [folder] * len(shards), shards))
            many = time.perf_counter() - t0
        assert n == total == clips.num_rows
        what = "mels + listening copies (one decode per track)" if args.copies else "mels"
        print(f"tracks: {args.tracks} x {args.seconds:g} s (44.1 kHz stereo {args.format.upper()}) -> {clips.num_rows} clips of 15 s = {audio_s:.0f} s of audio; {what}")
        print(f"1 process      : {one:6.2f} s wall, {audio_s / one:7.0f}x real time, {1000 * one / n:6.2f} ms per clip; "
              f"{one_cpu:.2f} s CPU: {audio_s / one_cpu:,.0f}x per CPU second, so ~{args.workers * audio_s / one_cpu:,.0f}x on {args.workers} idle cores")
        print(f"{args.workers} processes    : {many:6.2f} s wall, {audio_s / many:7.0f}x real time, {1000 * many / n:6.2f} ms per clip")
        print(f"goal >= 1000x real time on 2 cores: {'met' if audio_s / many >= 1000 else 'NOT met'} in wall time; "
              f"{'met' if 2 * audio_s / one_cpu >= 1000 else 'NOT met'} by the CPU-time estimate for 2 idle cores")


if __name__ == "__main__":
    main()
