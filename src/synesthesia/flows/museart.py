"""The ``build_museart`` flow: ingest (published index or category folders)
→ 30 s 16 kHz clip files → splits → category pairing → per-split shards,
report and dataset card.

Thin: every step is a stage from ``pipelines`` or ``datasets.museart``.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, get_run_logger

from synesthesia.datasets import card as C
from synesthesia.datasets import io as dio
from synesthesia.datasets import museart as M
from synesthesia.datasets import schema as S
from synesthesia.flows.common import RunnerConfig, ensure_prefect_api, ingest_source, write_clip_files
from synesthesia.pipelines.audio import plan_clips
from synesthesia.pipelines.ingest import IngestConfig, quarantine_row
from synesthesia.pipelines.splits import SPLITS

DEFAULT_SHARD_SIZE = 200


@flow(name="build-museart", validate_parameters=False)
def build_museart_flow(images: str, audio: str, out: str, config: M.MuseartConfig, csv_dir: str | None = None, shard_size: int = DEFAULT_SHARD_SIZE) -> dict:
    logger = get_run_logger()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if config.split == "from-csv" and csv_dir is None:
        raise ValueError("--split from-csv uses the published 'set' column: give --csv-dir (the folder with images.csv and audio.csv)")

    problems: list[dict] = []
    indexes: dict[str, list[dict] | None] = {"image": None, "audio": None}
    if csv_dir is not None:
        for kind in indexes:
            indexes[kind], bad = M.read_index(Path(csv_dir) / M.INDEX_FILES[kind], kind)
            problems += bad
    i_source, i_info = M.scan_museart_source(images, "image", indexes["image"], M.INDEX_FILES["image"])
    a_source, a_info = M.scan_museart_source(audio, "audio", indexes["audio"], M.INDEX_FILES["audio"])
    i_root, i_valid, q_images = ingest_source(images, IngestConfig("image"), out_dir, "images", shard_size, source=i_source)
    a_config = IngestConfig("audio", min_duration_s=config.ingest_min_seconds)
    a_root, a_valid, q_audio = ingest_source(audio, a_config, out_dir, "audio", shard_size, source=a_source)
    logger.info("ingest: %d images, %d audio files valid; %d + %d rejected", i_valid.num_rows, a_valid.num_rows, q_images.num_rows, q_audio.num_rows)

    clips = plan_clips(a_valid, config.clip, id_column="audio_id")
    clip_files = write_clip_files(a_valid, clips, a_root, out_dir, config.clip, shard_size, config.clip_format, id_column="audio_id")
    logger.info("clips: %d audio items of %g s from %d files", clips.num_rows, config.clip_seconds, a_valid.num_rows)

    images_t = M.assemble_images(i_valid, i_info)
    audio_t = M.assemble_audio(a_valid, clips, clip_files, a_info, config)
    audio_t, images_t = M.assign_splits(audio_t, images_t, config)
    problems += M.unsplit_rows(audio_t, images_t, config)
    pairs, usage, unpaired = M.pair_items(audio_t, images_t, config.seed)
    paths = dict(zip(audio_t.column("audio_id").to_pylist(), audio_t.column("path").to_pylist()))
    cells = dict(zip(audio_t.column("audio_id").to_pylist(), zip(audio_t.column("category").to_pylist(), audio_t.column("split").to_pylist())))
    problems += [
        quarantine_row(paths[a], "audio", "pairing", f"no image in its category and split: '{cells[a][0]}', '{cells[a][1]}' ({a})") for a in unpaired
    ]
    logger.info("pairs: %d (%d audio items unpaired)", pairs.num_rows, len(unpaired))

    quarantine = dio.concat([q_images, q_audio, S.from_rows(problems, S.QUARANTINE)], S.QUARANTINE)
    dio.write_table(images_t, out_dir / "images.parquet", S.MUSEART_IMAGES)
    dio.write_table(audio_t, out_dir / "audio.parquet", S.MUSEART_AUDIO)
    dio.write_table(pairs, out_dir / "pairs.parquet", S.MUSEART_PAIRS)
    dio.write_table(quarantine, out_dir / "quarantine.parquet", S.QUARANTINE)
    shards = M.write_pair_shards(out_dir, M.pair_rows(pairs, audio_t, images_t))

    categories = sorted(set(images_t.column("category").to_pylist()) | set(audio_t.column("category").to_pylist()))
    splits = [s for s in SPLITS if s in shards] + [s for s in shards if s not in SPLITS]
    summary = {
        "dataset": M.DATASET,
        "media_roots": {"images": str(i_root), "audio": str(a_root), "clips": "clips"},
        "config": M.config_dict(config),
        "csv_dir": str(Path(csv_dir).resolve()) if csv_dir else None,
        "categories": categories,
        "splits": splits,
        "images_found": i_valid.num_rows + q_images.num_rows,
        "audio_found": a_valid.num_rows + q_audio.num_rows,
        "audio_files": a_valid.num_rows,
        "audio_items": audio_t.num_rows,
        "split_sizes": {s: sum(1 for x in pairs.column("split").to_pylist() if x == s) for s in splits},
        "leakage": M.leakage_by_mode(audio_t, config),
        "pairing": usage,
        "unpaired": len(unpaired),
        "quarantined": quarantine.num_rows,
    }
    dio.write_manifest(out_dir, {k: summary[k] for k in ("dataset", "media_roots", "config", "csv_dir", "categories", "splits")})
    report = "# Museart build report\n\n" + "\n\n".join(M.report_sections(out_dir, summary)) + "\n"
    dio.write_text(report, out_dir / "report.md")
    C.write_dataset_card(out_dir, "Museart (synesthesia build)", {s: f"pairs/{s}/*.parquet" for s in splits}, M.card_sections(summary))
    return summary


def build_museart(
    images: str | os.PathLike,
    audio: str | os.PathLike,
    out: str | os.PathLike,
    config: M.MuseartConfig = M.MuseartConfig(),
    csv_dir: str | os.PathLike | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    runner: RunnerConfig = RunnerConfig(),
) -> dict:
    """Run the Museart flow with the chosen task runner (the Python entry
    point behind ``synesthesia build museart``)."""
    ensure_prefect_api()
    configured = build_museart_flow.with_options(task_runner=runner.task_runner())
    # absolute paths: workers of a remote Dask cluster run in another directory
    paths = [None if p is None else str(Path(p).resolve()) for p in (images, audio, out, csv_dir)]
    return configured(*paths[:3], config, paths[3], shard_size)
