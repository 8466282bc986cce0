"""MPJudge throughput: media caches, batch assembly and training steps.

Builds a synthetic MPD-shaped folder (random paintings as PNG, random 128 × 469
mels, random scores and preference pairs; no Prefect, no audio decoding), then
measures with the real code:

1. building the memory-mapped media caches (paintings/s, clips/s);
2. assembling training batches from them (pairs/s, one process);
3. training (pairs/s of the second epoch, DPO active from the first, with the
   trainer's evaluation on the val split excluded), and peak GPU memory.

    python benchmarks/mpjudge_train.py                      # tiny model, CPU-sized
    python benchmarks/mpjudge_train.py --config paper --pairs 4096 --batch 1024   # paper size (GPU)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def make_folder(root: Path, n_paintings: int, n_clips: int, n_pairs: int, pref_fraction: float, seed: int = 0) -> Path:
    import pyarrow as pa
    from PIL import Image

    from synesthesia.datasets import io as dio
    from synesthesia.datasets import schema as S
    from synesthesia.datasets.media import ClipConfig, MelConfig
    from synesthesia.stages.audio import mel_table

    rng = np.random.default_rng(seed)
    folder, media = root / "mpd", root / "paintings"
    media.mkdir(parents=True, exist_ok=True)
    splits = np.where(np.arange(n_pairs) % 10 == 9, "val", "train")
    p_rows = []
    for i in range(n_paintings):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # smooth random image
        Image.fromarray(small).resize((320, 256), Image.Resampling.BILINEAR).save(media / f"p{i:05d}.png")
        p_rows.append({"painting_id": f"p{i:05d}", "path": f"p{i:05d}.png", "sha256": f"{i:064x}", "split": "train"})
    dio.write_table(S.from_rows(p_rows, S.MPD_PAINTINGS), folder / "paintings.parquet", S.MPD_PAINTINGS)
    clip_ids = [f"c{i:05d}" for i in range(n_clips)]
    dio.write_table(S.from_rows([{"clip_id": c, "track_id": c, "split": "train"} for c in clip_ids], S.CLIPS), folder / "clips.parquet", S.CLIPS)
    mel = MelConfig()
    for part, start in enumerate(range(0, n_clips, 512)):
        ids = clip_ids[start : start + 512]
        mels = (rng.standard_normal((len(ids), 128, 469)) * 15 - 40).astype(np.float32)
        dio.write_table(mel_table(ids, mels, mel), folder / "mels" / f"part-{part:05d}-bench.parquet")
    pairs = [{"pair_id": f"pair{i:06d}", "painting_id": f"p{rng.integers(n_paintings):05d}", "clip_id": clip_ids[rng.integers(n_clips)], "split": s} for i, s in enumerate(splits)]
    dio.write_table(S.from_rows(pairs, S.MPD_PAIRS), folder / "pairs.parquet", S.MPD_PAIRS)
    scores = rng.uniform(0, 1, n_pairs)
    dio.write_table(S.from_rows([{"pair_id": p["pair_id"], "score": float(s)} for p, s in zip(pairs, scores)], S.MPD_SCORES), folder / "scores.parquet", S.MPD_SCORES)
    prefs = []
    for k in range(int(pref_fraction * n_pairs)):
        q = f"p{rng.integers(n_paintings):05d}"
        a, b = rng.choice(n_clips, 2, replace=False)
        prefs.append({"task_id": f"t{k:06d}", "kind": "clips_given_painting", "query_id": q, "chosen_id": clip_ids[a], "rejected_id": clip_ids[b], "votes_for": 2, "votes_total": 3, "split": "train"})
    dio.write_table(S.from_rows(prefs, S.MPD_PREFERENCE_PAIRS), folder / "preference_pairs.parquet", S.MPD_PREFERENCE_PAIRS)
    config = {"clip": dataclasses.asdict(ClipConfig()), "mel": dataclasses.asdict(mel)}
    dio.write_manifest(folder, {"dataset": "mpd", "media_roots": {"paintings": str(media), "music": ""}, "config": config})
    return folder


def main() -> None:
    import torch

    from synesthesia.datasets.readers.mpd import MPDMedia, mel_cache, painting_cache
    from synesthesia.models.mpjudge.config import load_config
    from synesthesia.models.mpjudge.model import MPJudge, count_parameters
    from synesthesia.models.mpjudge.train import train

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="tiny", help="preset or file")
    ap.add_argument("--pairs", type=int, default=512)
    ap.add_argument("--paintings", type=int, default=256)
    ap.add_argument("--clips", type=int, default=256)
    ap.add_argument("--batch", type=int, default=None, help="global batch (default: the config's)")
    ap.add_argument("--pref-fraction", type=float, default=0.2)
    ap.add_argument("--workers", type=int, default=-1)
    ap.add_argument("--out", type=Path, default=None, help="keep the folders here (default: a temp dir, removed)")
    args = ap.parse_args()

    root = args.out or Path(tempfile.mkdtemp(prefix="mpjudge-bench-"))
    try:
        started = time.perf_counter()
        folder = make_folder(root, args.paintings, args.clips, args.pairs, args.pref_fraction)
        print(f"synthetic MPD folder: {args.paintings} paintings, {args.clips} clips, {args.pairs} pairs ({time.perf_counter() - started:.1f} s)")

        config = load_config(args.config).replace(epochs=2, batch_size=args.batch, dpo_start_epoch=0, progress=False, num_workers=args.workers, eval_split="")
        with torch.device("meta"):
            counts = count_parameters(MPJudge(config.model))
        print(f"model: {args.config} ({counts['total'] / 1e6:.2f} M parameters), global batch {config.train.batch_size}")

        started = time.perf_counter()
        mel_path = mel_cache(folder)
        mel_s = time.perf_counter() - started
        started = time.perf_counter()
        painting_path = painting_cache(folder, config.model.image_size)
        painting_s = time.perf_counter() - started
        cache_s = mel_s + painting_s
        media = MPDMedia(mel_path, painting_path)
        print(f"media caches: mels {args.clips / mel_s:,.0f} clips/s, paintings {args.paintings / painting_s:,.0f}/s (decode + resize to {config.model.image_size})")

        rows = np.random.default_rng(0).integers(0, args.clips, 4096)
        started = time.perf_counter()
        for start in range(0, len(rows), 256):
            media.paintings(rows[start : start + 256] % args.paintings)
            media.mels(rows[start : start + 256])
        gather = len(rows) / (time.perf_counter() - started)
        print(f"batch assembly from the memmaps: {gather:,.0f} pairs/s (one process)")

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        summary = train(folder, root / "run", config, log=print)
        epoch = summary["history"][-1]
        line = f"training (epoch 2 of 2, DPO active): {epoch['pairs_per_s']:,.1f} scored pairs/s, {epoch['seconds']:.2f} s/epoch, loss {epoch['train_loss']:.4f}"
        if torch.cuda.is_available():
            line += f"; peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB on {torch.cuda.get_device_name()}"
        print(line)
        print(json.dumps({"cache_s": cache_s, "gather_pairs_per_s": gather, "train_pairs_per_s": epoch["pairs_per_s"]}))
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
