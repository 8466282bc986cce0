"""The MPD flows: ``build-mpd`` (the data path, then the annotation phases as
far as the folder's data allows) and ``annotate-mpd`` (only those phases).

Prefect only: every step is a function of :mod:`synesthesia.recipes.mpd`;
this module decides their order, maps their shards onto the task runner
(:func:`~synesthesia.flows.runner.run_shards`) and logs what they did.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, get_run_logger

from synesthesia.flows.runner import RunnerConfig, run_flow, run_shards, stop_if_unusable
from synesthesia.recipes import mpd
from synesthesia.sources import absolute


@flow(name="build-mpd", validate_parameters=False)
def build_mpd_flow(paintings: str, music: str, out: str, config: mpd.MPDConfig, shard_size: int = mpd.DEFAULT_SHARD_SIZE) -> dict:
    logger = get_run_logger()
    out_dir = Path(out)
    items = mpd.ingest(paintings, music, out_dir, config, shard_size, run=run_shards)
    logger.info("ingest: %d paintings, %d tracks valid; %d rejected", items.paintings.num_rows, items.tracks.num_rows, items.rejected)
    if items.problem:
        logger.error(items.problem)
        return {"error": items.problem}
    items, pairs, result = mpd.audio(out_dir, items, config, shard_size, run=run_shards)
    if items.problem:  # every track failed its full decode
        logger.error(items.problem)
        return {"error": items.problem}
    logger.info("pairs: %d drawn of %d requested", pairs["drawn"], config.n_pairs)
    summary = mpd.finish_build(out_dir, items, config, pairs, result)
    audio = summary["audio_pass"]
    logger.info(
        "audio (one decode per track): %d mels, %d listening copies in %d shards on %d worker(s); %d track(s) failed the full decode",
        items.clips.num_rows, result.clip_files.num_rows, audio["shards"], audio["workers"], audio["failed"],
    )
    summary["annotation"] = annotation_phases(out_dir, config.annotation, config.seed, shard_size)
    mpd.write_report(out_dir, summary)
    return summary


def annotation_phases(out_dir: Path, config: mpd.MPDAnnotationConfig, seed: int, shard_size: int) -> dict:
    """The annotation phases on the current flow's task runner, logged."""
    logger = get_run_logger()
    result = mpd.run_phases(out_dir, config, seed, shard_size, run=run_shards)
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


@flow(name="annotate-mpd", validate_parameters=False)
def annotate_mpd_flow(out: str, shard_size: int = mpd.DEFAULT_SHARD_SIZE) -> dict:
    """Only the annotation phases, on a folder that ``build_mpd`` made."""
    out_dir = Path(out)
    config, seed = mpd.annotation_config(out_dir)
    result = annotation_phases(out_dir, config, seed, shard_size)
    mpd.write_report(out_dir, mpd.build_summary(out_dir))
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
    return stop_if_unusable(run_flow(build_mpd_flow, runner, *inputs, str(Path(out).resolve()), config, shard_size, folder=out))


def annotate_mpd(out: str | os.PathLike, shard_size: int = mpd.DEFAULT_SHARD_SIZE, runner: RunnerConfig = RunnerConfig()) -> dict:
    """``synesthesia annotate run`` from Python: the annotation phases on a built MPD folder."""
    return run_flow(annotate_mpd_flow, runner, str(Path(out).resolve()), shard_size, folder=out)
