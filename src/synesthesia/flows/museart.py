"""The ``build-museart`` flow: ingest (published index or category folders)
→ 30 s 16 kHz clip files → splits → category pairing → per-split shards,
report and dataset card.

Prefect only: every step is a function of :mod:`synesthesia.recipes.museart`;
this module decides their order, maps their shards onto the task runner,
logs what they did and publishes the report. Every parameter is plain JSON
(a deployment run can be started from the UI or the API: ``prefect.yaml``).
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, get_run_logger

from synesthesia.flows.artifacts import publish_report
from synesthesia.flows.params import refuse_unknown_keys
from synesthesia.flows.runner import RunnerConfig, holding_folder, run_flow, unusable
from synesthesia.flows.tasks import shard_runner
from synesthesia.recipes import museart
from synesthesia.sources import absolute

refuse_unknown_keys(museart.MuseartConfig, RunnerConfig)

#: The report's tables published as table artifacts.
HEADLINE_TABLES = ("Counts per stage", "Quarantine", "Splits", "Source-track leakage")


@flow(name="build-museart")
def build_museart_flow(
    images: str,
    audio: str,
    out: str,
    config: museart.MuseartConfig = museart.MuseartConfig(),
    csv_dir: str | None = None,
    shard_size: int = museart.DEFAULT_SHARD_SIZE,
    runner: RunnerConfig = RunnerConfig(),
) -> dict:
    logger = get_run_logger()
    out_dir = Path(out).resolve()
    with holding_folder(out_dir, "build-museart"):
        with shard_runner(runner) as run:
            ingested = museart.ingest(images, audio, out_dir, config, csv_dir, shard_size, run=run)
            valid, rejected = ingested.valid, ingested.rejected
            logger.info("ingest: %d images, %d audio files valid; %d + %d rejected", valid["image"].num_rows, valid["audio"].num_rows, rejected["image"].num_rows, rejected["audio"].num_rows)
            if ingested.problem:
                return unusable(ingested.problem)
            clips, files = museart.clip_files(ingested, out_dir, config, shard_size, run=run)
        logger.info("clips: %d audio items of %g s from %d files", clips.num_rows, config.clip_seconds, valid["audio"].num_rows)
        paired = museart.split_and_pair(ingested, clips, files, config)
        logger.info("pairs: %d (%d audio items unpaired)", paired.pairs.num_rows, paired.unpaired)
        summary = museart.write_dataset(out_dir, ingested, paired, config, csv_dir)
        museart.write_report_and_card(out_dir, summary)
    publish_report(out_dir, museart.DATASET, HEADLINE_TABLES)
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
    return run_flow(build_museart_flow, absolute(images, "image"), absolute(audio, "audio"), paths[0], config, paths[1], shard_size, runner, folder=out)
