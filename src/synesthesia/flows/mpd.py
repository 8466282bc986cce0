"""The MPD flows: ``build-mpd`` (the data path, then the annotation phases as
far as the folder's data allows) and ``annotate-mpd`` (only those phases).

Prefect only: every step is a function of :mod:`synesthesia.recipes.mpd`;
this module decides their order, maps their shards onto the task runner
(:func:`~synesthesia.flows.tasks.shard_runner`), logs what they did and
publishes the report (:func:`~synesthesia.flows.artifacts.publish_report`).
Every parameter is plain JSON, so a deployment run can be started from the
UI or the API (``prefect.yaml``).
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, get_run_logger

from synesthesia.flows.artifacts import publish_report
from synesthesia.flows.params import refuse_unknown_keys
from synesthesia.flows.runner import RunnerConfig, holding_folder, run_flow, unusable
from synesthesia.flows.tasks import shard_runner
from synesthesia.recipes import mpd
from synesthesia.sources import absolute
from synesthesia.stages.shards import ShardRunner

refuse_unknown_keys(mpd.MPDConfig, RunnerConfig)

#: The report's tables published as table artifacts.
HEADLINE_TABLES = ("Counts per stage", "Quarantine", "Ratings and scores", "Consensus")


@flow(name="build-mpd")
def build_mpd_flow(
    paintings: str,
    music: str,
    out: str,
    config: mpd.MPDConfig = mpd.MPDConfig(),
    shard_size: int = mpd.DEFAULT_SHARD_SIZE,
    runner: RunnerConfig = RunnerConfig(),
) -> dict:
    logger = get_run_logger()
    out_dir = Path(out).resolve()
    with holding_folder(out_dir, "build-mpd"), shard_runner(runner) as run:
        items = mpd.ingest(paintings, music, out_dir, config, shard_size, run=run)
        logger.info("ingest: %d paintings, %d tracks valid; %d rejected", items.paintings.num_rows, items.tracks.num_rows, items.rejected)
        if items.problem:
            return unusable(items.problem)
        items, pairs, result = mpd.audio(out_dir, items, config, shard_size, run=run)
        if items.problem:  # every track failed its full decode
            return unusable(items.problem)
        logger.info("pairs: %d drawn of %d requested", pairs["drawn"], config.n_pairs)
        summary = mpd.finish_build(out_dir, items, config, pairs, result)
        audio = summary["audio_pass"]
        logger.info(
            "audio (one decode per track): %d mels, %d listening copies in %d shards on %d worker(s); %d track(s) failed the full decode",
            items.clips.num_rows, result.clip_files.num_rows, audio["shards"], audio["workers"], audio["failed"],
        )
        summary["annotation"] = annotation_phases(out_dir, config.annotation, config.seed, shard_size, run)
        mpd.write_report(out_dir, summary)
    publish_report(out_dir, mpd.DATASET, HEADLINE_TABLES)
    return summary


def annotation_phases(out_dir: Path, config: mpd.MPDAnnotationConfig, seed: int, shard_size: int, run: ShardRunner) -> dict:
    """The annotation phases on the current flow's task runner, logged."""
    logger = get_run_logger()
    result = mpd.run_phases(out_dir, config, seed, shard_size, run=run)
    logger.info(
        "rating tasks: %d pairs x %d raters; %d clip listening copies",
        result["assignments"] // max(config.raters_per_pair, 1), config.raters_per_pair, result["listening_copies"],
    )
    if "scores" in result:
        scores = result["scores"]
        logger.info("scores: %d pairs scored, alpha %.3f; preference tasks: %s", scores["scored"], scores["agreement"]["alpha"], result["preferences"]["tasks"])
    if "consensus" in result:
        logger.info("consensus: %s", {k: v for k, v in result["consensus"].items() if k != "hf"})
    logger.info("MPD annotation: %s", result["status"]["message"])
    return result


@flow(name="annotate-mpd")
def annotate_mpd_flow(out: str, shard_size: int = mpd.DEFAULT_SHARD_SIZE, runner: RunnerConfig = RunnerConfig()) -> dict:
    """Only the annotation phases, on a folder that ``build_mpd`` made."""
    out_dir = Path(out).resolve()
    with holding_folder(out_dir, "annotate-mpd"):
        config, seed = mpd.annotation_config(out_dir)
        with shard_runner(runner) as run:
            result = annotation_phases(out_dir, config, seed, shard_size, run)
        mpd.write_report(out_dir, mpd.build_summary(out_dir))
    publish_report(out_dir, mpd.DATASET, HEADLINE_TABLES)
    return result


def build_mpd(
    paintings: str | os.PathLike,
    music: str | os.PathLike,
    out: str | os.PathLike,
    config: mpd.MPDConfig = mpd.MPDConfig(),
    shard_size: int = mpd.DEFAULT_SHARD_SIZE,
    runner: RunnerConfig = RunnerConfig(),
) -> dict:
    """``synesthesia build mpd`` from Python. ``paintings``/``music`` are
    selectors (a folder/CSV, or ``KIND:PATH``: :mod:`synesthesia.sources`),
    checked and made absolute here: workers of a remote Dask cluster run in
    another directory."""
    inputs = absolute(paintings, "image"), absolute(music, "audio")
    return run_flow(build_mpd_flow, *inputs, str(Path(out).resolve()), config, shard_size, runner, folder=out)


def annotate_mpd(out: str | os.PathLike, shard_size: int = mpd.DEFAULT_SHARD_SIZE, runner: RunnerConfig = RunnerConfig()) -> dict:
    """``synesthesia annotate run`` from Python: the annotation phases on a built MPD folder."""
    return run_flow(annotate_mpd_flow, str(Path(out).resolve()), shard_size, runner, folder=out)
