"""The ``build_mpd`` flow: ingest → splits → 15 s clips → mels → random pairs,
then the annotation phases as far as the data in the folder allows
(rating tasks → scores and preference tasks → consensus; see
``datasets/mpd_annotation.py``). ``annotate_mpd`` runs only those phases.

Thin: every step is a stage from ``pipelines`` or ``datasets.mpd``; this
module only decides the order, the shards and the task runner.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from prefect import flow, get_run_logger

from synesthesia.datasets import io as dio
from synesthesia.datasets import mpd as M
from synesthesia.datasets import mpd_annotation as MA
from synesthesia.datasets import schema as S
from synesthesia.flows.common import RunnerConfig, compute_mels, ensure_prefect_api, ingest_source, write_clip_files
from synesthesia.pipelines.audio import plan_clips
from synesthesia.pipelines.ingest import IngestConfig
from synesthesia.pipelines.pairing import draw_mpd_pairs

DEFAULT_SHARD_SIZE = 200
#: The data-path summary of the last build (the report needs it when only the annotation phases run).
BUILD_SUMMARY = "_work/build-summary.json"


@flow(name="build-mpd", validate_parameters=False)
def build_mpd_flow(paintings: str, music: str, out: str, config: M.MPDConfig, shard_size: int = DEFAULT_SHARD_SIZE) -> dict:
    logger = get_run_logger()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)

    p_root, images, q_images = ingest_source(paintings, IngestConfig.images(), out_dir, "paintings", shard_size)
    m_root, audio, q_audio = ingest_source(
        music, IngestConfig.audio(min_duration_s=config.clip.clip_seconds), out_dir, "music", shard_size
    )
    logger.info("ingest: %d paintings, %d tracks valid; %d + %d rejected", images.num_rows, audio.num_rows, q_images.num_rows, q_audio.num_rows)

    paintings_t, tracks_t = M.assemble_items(images, audio, config)
    clips_t = plan_clips(tracks_t, config.clip)
    dio.write_table(paintings_t, out_dir / "paintings.parquet", S.MPD_PAINTINGS)
    dio.write_table(tracks_t, out_dir / "tracks.parquet", S.MPD_TRACKS)
    dio.write_table(clips_t, out_dir / "clips.parquet", S.CLIPS)
    dio.write_table(dio.concat([q_images, q_audio], S.QUARANTINE), out_dir / "quarantine.parquet", S.QUARANTINE)

    mel_files = compute_mels(tracks_t, clips_t, m_root, out_dir, config.clip, config.mel, shard_size)
    logger.info("mels: %d clips in %d parts", clips_t.num_rows, len(mel_files))

    pairs, pair_summary = draw_mpd_pairs(
        paintings_t, clips_t, config.n_pairs, config.seed, config.split_mode, dict(config.fractions)
    )
    dio.write_table(pairs, out_dir / "pairs.parquet", S.MPD_PAIRS)
    logger.info("pairs: %d drawn of %d requested", pairs.num_rows, config.n_pairs)

    summary = {
        "dataset": M.DATASET,
        "media_roots": {"paintings": str(p_root), "music": str(m_root)},
        "config": dataclasses.asdict(config),
        "paintings_found": images.num_rows + q_images.num_rows,
        "music_found": audio.num_rows + q_audio.num_rows,
        "mels": clips_t.num_rows,
        "pairs": pair_summary,
    }
    dio.write_manifest(out_dir, {k: summary[k] for k in ("dataset", "media_roots", "config")})
    dio.write_text(json.dumps(summary, indent=2, default=str) + "\n", out_dir / BUILD_SUMMARY)

    summary["annotation"] = annotation_phases(out_dir, config.annotation, config.seed, shard_size)
    write_report(out_dir, summary)
    return summary


def annotation_phases(out_dir: Path, config: MA.MPDAnnotationConfig, seed: int, shard_size: int) -> dict:
    """The annotation phases, as far as the data in ``out_dir`` allows (call
    inside a flow: the clip-media stage is sharded over its task runner)."""
    logger = get_run_logger()
    result: dict = {"assignments": MA.plan_ratings(out_dir, config, seed).num_rows}
    tracks, clips, clip_config = MA.listening_clips(out_dir)
    media = write_clip_files(
        tracks, clips, dio.read_manifest(out_dir)["media_roots"]["music"], out_dir, clip_config, shard_size, config.clip_media_format, native=True
    )
    dio.write_table(media, out_dir / MA.CLIP_MEDIA, S.CLIP_FILES)
    MA.write_labelstudio_files(out_dir, "ratings")
    logger.info("rating tasks: %d pairs x %d raters; %d clip listening copies", result["assignments"] // max(config.raters_per_pair, 1), config.raters_per_pair, media.num_rows)
    if (out_dir / MA.RATINGS_FILE).exists():
        result["scores"] = MA.score_ratings(out_dir, config, seed)
        result["preferences"] = MA.plan_preferences(out_dir, config, seed)
        MA.write_labelstudio_files(out_dir, "preferences")
        logger.info("scores: %d pairs scored, alpha %.3f; preference tasks: %s", result["scores"]["scored"], result["scores"]["agreement"]["alpha"], result["preferences"]["tasks"])
    if (out_dir / MA.PREFERENCE_VOTES).exists():
        result["consensus"] = MA.finish(out_dir, config)
        logger.info("consensus: %s", {k: v for k, v in result["consensus"].items() if k != "hf"})
    result["status"] = MA.status(out_dir)
    logger.info("MPD annotation: %s", result["status"]["message"])
    return result


@flow(name="annotate-mpd", validate_parameters=False)
def annotate_mpd_flow(out: str, shard_size: int = DEFAULT_SHARD_SIZE) -> dict:
    """Only the annotation phases, on a folder that ``build_mpd`` made."""
    out_dir = Path(out)
    config, seed = MA.annotation_config(out_dir)
    result = annotation_phases(out_dir, config, seed, shard_size)
    summary = json.loads((out_dir / BUILD_SUMMARY).read_text(encoding="utf-8"))
    write_report(out_dir, summary)
    return result


def write_report(out_dir: Path, summary: dict) -> Path:
    sections = M.report_sections(out_dir, summary) + MA.report_sections(out_dir)
    text = "# MPD build report\n\n" + "\n\n".join(sections) + "\n"
    return dio.write_text(text, out_dir / "report.md")


def build_mpd(
    paintings: str | os.PathLike,
    music: str | os.PathLike,
    out: str | os.PathLike,
    config: M.MPDConfig = M.MPDConfig(),
    shard_size: int = DEFAULT_SHARD_SIZE,
    runner: RunnerConfig = RunnerConfig(),
) -> dict:
    """Run the MPD flow with the chosen task runner (the Python entry point
    behind ``synesthesia build mpd``)."""
    ensure_prefect_api()
    configured = build_mpd_flow.with_options(task_runner=runner.task_runner())
    # absolute paths: workers of a remote Dask cluster run in another directory
    return configured(*(str(Path(p).resolve()) for p in (paintings, music, out)), config, shard_size)


def annotate_mpd(out: str | os.PathLike, shard_size: int = DEFAULT_SHARD_SIZE, runner: RunnerConfig = RunnerConfig()) -> dict:
    """Run the annotation phases on a built MPD folder (``synesthesia annotate run``)."""
    ensure_prefect_api()
    configured = annotate_mpd_flow.with_options(task_runner=runner.task_runner())
    return configured(str(Path(out).resolve()), shard_size)
