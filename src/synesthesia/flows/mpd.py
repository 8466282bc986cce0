"""The ``build_mpd`` flow: ingest → splits → 15 s clips → mels → random pairs.

Thin: every step is a stage from ``pipelines`` or ``datasets.mpd``; this
module only decides the order, the shards and the task runner.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from prefect import flow, get_run_logger

from synesthesia.datasets import io as dio
from synesthesia.datasets import mpd as M
from synesthesia.datasets import schema as S
from synesthesia.flows.common import RunnerConfig, compute_mels, ensure_prefect_api, ingest_source
from synesthesia.pipelines.audio import plan_clips
from synesthesia.pipelines.ingest import IngestConfig
from synesthesia.pipelines.pairing import draw_mpd_pairs

DEFAULT_SHARD_SIZE = 200


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
    write_report(out_dir, summary)
    return summary


def write_report(out_dir: Path, summary: dict) -> Path:
    sections = M.report_sections(out_dir, summary)
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
    return configured(str(paintings), str(music), str(out), config, shard_size)
