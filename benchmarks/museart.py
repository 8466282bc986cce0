"""Museart measurements (prints ratios; asserts nothing).

1. Split modes and pairing on the published index (``../shared/data/museart``
   or ``--csv-dir``): time, leakage, per-category deviations.
2. The clip stage (decode 44.1 kHz stereo WAV → 16 kHz mono → 30 s clip file)
   on generated tracks, FLAC vs WAV: real-time factor per process and bytes
   per clip, extrapolated to Museart's 24,216 items.

    python benchmarks/museart.py [--csv-dir DIR] [--clips 24]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

from synesthesia.recipes import museart as M
from synesthesia.datasets.synthetic import MUSIC_GENRES, synth_track
from synesthesia.stages.audio import clip_file_shard
from synesthesia.datasets.keys import DEFAULT_FRACTIONS, SPLITS


def per_category(table) -> dict:
    out: dict = defaultdict(Counter)
    for c, s in zip(table.column("category").to_pylist(), table.column("split").to_pylist()):
        out[c][s] += 1
    return out


def splits(csv_dir: Path) -> None:
    t0 = time.perf_counter()
    audio = M.index_items(M.read_index(csv_dir / "audio.csv", "audio")[0], "audio")
    images = M.index_items(M.read_index(csv_dir / "images.csv", "image")[0], "image")
    print(f"read index: {audio.num_rows} audio, {images.num_rows} image rows in {time.perf_counter() - t0:.2f} s")
    published = per_category(M.assign_splits(audio, images, M.MuseartConfig(split="from-csv"))[0])
    for mode in M.SPLIT_MODES:
        t0 = time.perf_counter()
        a, i = M.assign_splits(audio, images, M.MuseartConfig(split=mode))
        t_split = time.perf_counter() - t0
        t0 = time.perf_counter()
        pairs, usage, unpaired = M.pair_items(a, i, seed=0)
        t_pair = time.perf_counter() - t0
        ours = per_category(a)
        vs_published = max(abs(ours[c][s] - published[c][s]) for c in published for s in SPLITS)
        vs_target = max(abs(p[s] - DEFAULT_FRACTIONS[s]) for p in M.split_proportions(a).values() for s in SPLITS)
        leak = M.leakage(a)
        print(
            f"{mode:>9}: sizes {dict(Counter(a.column('split').to_pylist()))}; leaked tracks {leak['leaked']}/{leak['groups']}; "
            f"max |category size - published| {vs_published} items; max |category share - 80/10/10| {vs_target * 100:.2f} points; "
            f"split {t_split:.2f} s, pairing {t_pair:.2f} s ({pairs.num_rows} pairs, {len(unpaired)} unpaired, "
            f"max image use {max(u['max_use'] for u in usage.values())})"
        )


def clips(n: int) -> None:
    config = M.MuseartConfig()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        items = []
        genres = sorted(MUSIC_GENRES)
        for k in range(n):
            y = synth_track(genres[k % len(genres)], 30.0, 44_100, np.random.default_rng(k))
            sf.write(root / f"t{k}.wav", np.stack([y, y], axis=1), 44_100, subtype="PCM_16")
            items.append({"track_id": f"t{k}", "path": f"t{k}.wav", "sha256": "", "clips": ((f"t{k}-c000", 0.0),)})
        for fmt in ("flac", "wav"):
            t0 = time.perf_counter()
            table = clip_file_shard(root, items, config.clip, root / fmt, fmt)
            seconds = time.perf_counter() - t0
            size = sum((root / fmt / p).stat().st_size for p in table.column("path").to_pylist()) / n
            rtf = n * 30.0 / seconds
            print(
                f"clip stage ({fmt}): {n} x 30 s 44.1 kHz stereo WAV in {seconds:.2f} s = {rtf:.0f}x real time per process; "
                f"{size / 1e6:.2f} MB per clip → {size * M.PUBLISHED_ITEMS / 1e9:.1f} GB and "
                f"~{M.PUBLISHED_ITEMS * 30.0 / rtf / 2 / 60:.1f} min on 2 processes for {M.PUBLISHED_ITEMS} items "
                "(generated audio; FLAC ratios on real music differ)"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv-dir", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data" / "museart")
    parser.add_argument("--clips", type=int, default=24)
    args = parser.parse_args()
    if (args.csv_dir / "audio.csv").is_file():
        splits(args.csv_dir)
    else:
        print(f"no published index at {args.csv_dir}; skipping the split measurements (use --csv-dir)")
    clips(args.clips)


if __name__ == "__main__":
    main()
