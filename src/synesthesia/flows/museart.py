"""The ``build-museart`` flow: ingest (published index or category folders)
→ 30 s 16 kHz clip files → splits → category pairing → per-split shards,
report and dataset card.

Prefect only: every step is a function of :mod:`synesthesia.recipes.museart`;
this module decides their order, maps their shards onto the task runner and
logs what they did.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, get_run_logger

from synesthesia.flows.runner import RunnerConfig, run_flow, run_shards, stop_if_unusable
from synesthesia.recipes import museart
from synesthesia.sources import absolute


@flow(name="build-museart", validate_parameters=False)
def build_museart_flow(
    images: str, audio: str, out: str, config: museart.MuseartConfig, csv_dir: str | None = None, shard_size: int = museart.DEFAULT_SHARD_SIZE
) -> dict:
    logger = get_run_logger()
    out_dir = Path(out)
    ingested = museart.ingest(images, audio, out_dir, config, csv_dir, shard_size, run=run_shards)
    valid, rejected = ingested.valid, ingested.rejected
    logger.info("ingest: %d images, %d audio files valid; %d + %d rejected", valid["image"].num_rows, valid["audio"].num_rows, rejected["image"].num_rows, rejected["audio"].num_rows)
    if ingested.problem:
        logger.error(ingested.problem)
        return {"error": ingested.problem}
    clips, files = museart.clip_files(ingested, out_dir, config, shard_size, run=run_shards)
    logger.info("clips: %d audio items of %g s from %d files", clips.num_rows, config.clip_seconds, valid["audio"].num_rows)
    paired = museart.split_and_pair(ingested, clips, files, config)
    logger.info("pairs: %d (%d audio items unpaired)", paired.pairs.num_rows, paired.unpaired)
    summary = museart.write_dataset(out_dir, ingested, paired, config, csv_dir)
    museart.write_report_and_card(out_dir, summary)
    return summary


def build_museart(
    images: str | os.PathLike,
    audio: str | os.PathLike,
    out: str | os.PathLike,
    config: museart.MuseartConfig = museart.MuseartConfig(),
    csv_dir: str | os.PathLike | None = None,
    shard_size: int = museart.DEFAULT_SHARD_SIZE,
    runner: RunnerConfig = RunnerConfig(),
) -> dict:
    """``synesthesia build museart`` from Python. ``images``/``audio`` are
    selectors (a folder, or ``KIND:PATH``: :mod:`synesthesia.sources`),
    checked and made absolute here: workers of a remote Dask cluster run in
    another directory."""
    paths = [None if p is None else str(Path(p).resolve()) for p in (out, csv_dir)]
    return stop_if_unusable(run_flow(build_museart_flow, runner, absolute(images, "image"), absolute(audio, "audio"), paths[0], config, paths[1], shard_size, folder=out))
