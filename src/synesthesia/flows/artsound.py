"""The ArtSound flows: ``build-artsound`` (the captioning phase
``caption-artsound``, then the pairing phase ``pair-artsound``, each a
subflow with its own workers) and ``pair-artsound`` alone, on a folder the
captioning phase wrote.

Prefect only: every step is a function of :mod:`synesthesia.recipes.artsound`;
this module decides their order, maps their shards onto the task runner,
logs what they did and publishes the report. Every parameter is plain JSON
(a deployment run can be started from the UI or the API: ``prefect.yaml``).
Re-running resumes: finished shards are skipped, a
finished caption is never regenerated, and an approach's pairs are reused
while its embeddings and the pairing config are unchanged.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prefect import flow, get_run_logger

from synesthesia.flows.artifacts import publish_report
from synesthesia.flows.params import refuse_unknown_keys
from synesthesia.flows.runner import RunnerConfig, holding_folder, run_flow, unusable
from synesthesia.flows.tasks import shard_runner
from synesthesia.recipes import artsound
from synesthesia.sources import absolute

refuse_unknown_keys(artsound.ArtSoundConfig, artsound.ArtSoundPairingConfig, RunnerConfig)

#: The report's tables published as table artifacts (Table 5 once the pairing phase ran).
HEADLINE_TABLES = ("Counts per stage", "Quarantine", "Table 5 on this data")


@flow(name="build-artsound")
def build_artsound_flow(
    artworks: str,
    music: str,
    out: str,
    config: artsound.ArtSoundConfig = artsound.ArtSoundConfig(),
    shard_size: int = artsound.DEFAULT_SHARD_SIZE,
    pairing: artsound.ArtSoundPairingConfig | None = artsound.ArtSoundPairingConfig(),
    runner: RunnerConfig = RunnerConfig(),
) -> dict:
    """The two phases as subflows, each on task runners of its own made from
    ``runner``: the captioning phase's workers (each holding its captioning
    and scoring models) are shut down when it ends, before the pairing phase
    starts its own. ``pairing=None`` stops after the captions."""
    artsound.preflight(config, pairing, inputs=(artworks, music, out))  # again: a deployment run starts here
    out_dir = Path(out).resolve()
    with holding_folder(out_dir, "build-artsound"):
        captioned = caption_artsound_flow(str(out_dir), artworks, music, config, shard_size, runner, return_state=True)
        if not captioned.is_completed():
            return captioned  # this run fails as its phase did (nothing usable: one line, no traceback)
        summary = captioned.result()
        if pairing is not None:
            started = time.perf_counter()
            summary["pairing"] = pair_artsound_flow(str(out_dir), pairing, runner)
            summary["pairing"]["seconds"] = round(time.perf_counter() - started, 1)
        else:
            publish_report(out_dir, artsound.DATASET, HEADLINE_TABLES)
    return summary


@flow(name="caption-artsound")
def caption_artsound_flow(
    out: str,
    artworks: str,
    music: str,
    config: artsound.ArtSoundConfig = artsound.ArtSoundConfig(),
    shard_size: int = artsound.DEFAULT_SHARD_SIZE,
    runner: RunnerConfig = RunnerConfig(),
) -> dict:
    """The captioning phase: ingest, segment captions, fused captions (ACS loop), image captions (ICS loop), report."""
    logger = get_run_logger()
    started = time.perf_counter()
    out_dir = Path(out)
    with holding_folder(out_dir, "caption-artsound"), shard_runner(runner) as run:
        ingested = artsound.ingest(artworks, music, out_dir, config, shard_size, run=run)
        logger.info("ingest: %d artworks, %d tracks valid; %d + %d rejected", ingested.artworks.num_rows, ingested.tracks.num_rows, ingested.rejected["artworks"], ingested.rejected["music"])
        if ingested.problem:
            return unusable(ingested.problem)
        segments = artsound.segment_captions(out_dir, ingested, config, shard_size, run=run)
        logger.info("segments: %d captions for %d tracks", segments.num_rows, ingested.tracks.num_rows)
        audio = artsound.audio_captions(out_dir, segments, config, shard_size, run=run)
        images = artsound.image_captions(out_dir, ingested, config, shard_size, run=run)
        summary = artsound.finish_captions(out_dir, ingested, config, segments, images, audio)
    failed = summary["failed"]
    if failed["artworks"] or failed["tracks"]:
        logger.warning("%d artworks and %d tracks have no caption (every attempt failed in the backend); re-run to retry them", len(failed["artworks"]), len(failed["tracks"]))
    summary["seconds"] = round(time.perf_counter() - started, 1)
    logger.info("captioning phase: %d image attempts, %d audio attempts in %.0f s; report: %s", images.num_rows, audio.num_rows, summary["seconds"], out_dir / "report.md")
    return summary


@flow(name="pair-artsound")
def pair_artsound_flow(dataset: str, config: artsound.ArtSoundPairingConfig = artsound.ArtSoundPairingConfig(), runner: RunnerConfig = RunnerConfig()) -> dict:
    folder = Path(dataset).resolve()
    artsound.preflight_pairing(config, folder)  # again: a deployment run starts here
    with holding_folder(folder, "pair-artsound"):
        return pairing_phase(folder, config, runner)


def pairing_phase(folder: Path, config: artsound.ArtSoundPairingConfig, runner: RunnerConfig) -> dict:
    """The pairing phase's steps, logged (the folder's writer lock held)."""
    logger = get_run_logger()
    with shard_runner(runner) as run:
        embedded = artsound.embed(folder, config, run=run)
    for name, reason in embedded.skipped.items():
        logger.info("approach %s skipped: %s", name, reason)
    for (modality, view), info in embedded.stores.items():
        logger.info("embeddings %s-%s: %d items, %d rejected (%d/%d shards reused)", modality, view, info["items"], info["rejected"], info["skipped_shards"], info["shards"])
    rows, final = artsound.pair_approaches(folder, embedded, config)
    for row in rows:
        logger.info("pairing %s (%s): %d pairs, mean similarity %s, %d unpaired (%.1fs)", row["approach"], row["method"], row["pairs"], f"{row['mean']:.4f}" if row["pairs"] else "-", row["unpaired_audio"], row["seconds"])
    summary = artsound.finish_pairs(folder, embedded, rows, final, config)
    logger.info("ArtSound pairs: %d (%s); report: %s", summary["pairs"], summary["splits"], folder / "report.md")
    publish_report(folder, artsound.DATASET, HEADLINE_TABLES)
    return summary


def build_artsound(
    artworks: str | os.PathLike,
    music: str | os.PathLike,
    out: str | os.PathLike,
    config: artsound.ArtSoundConfig = artsound.ArtSoundConfig(),
    shard_size: int = artsound.DEFAULT_SHARD_SIZE,
    runner: RunnerConfig = RunnerConfig(),
    pairing: artsound.ArtSoundPairingConfig | None = artsound.ArtSoundPairingConfig(),
) -> dict:
    """``synesthesia build artsound`` from Python: checks what the build needs
    first (:func:`~synesthesia.recipes.artsound.preflight`), then runs the flow."""
    artsound.preflight(config, pairing, inputs=(artworks, music, out))
    # absolute paths: workers of a remote Dask cluster run in another directory;
    # the inputs are selectors (a folder/CSV, or KIND:PATH: synesthesia.sources)
    paths = absolute(artworks, "image"), absolute(music, "audio"), str(Path(out).resolve())
    return run_flow(build_artsound_flow, *paths, config, shard_size, pairing, runner, folder=out)


def pair_artsound(
    dataset: str | os.PathLike, config: artsound.ArtSoundPairingConfig = artsound.ArtSoundPairingConfig(), runner: RunnerConfig = RunnerConfig()
) -> dict:
    """``synesthesia build artsound-pairs`` from Python: a missing input
    raises ``PairingPreflightError`` before any work, Prefect included."""
    artsound.preflight_pairing(config, dataset)
    return run_flow(pair_artsound_flow, str(Path(dataset).resolve()), config, runner, folder=dataset)
