"""The ``build_artsound`` flow.

Captioning phase: ingest -> 10 s segments -> segment captions -> fusion + ACS
loop; artworks -> captions + ICS loop; tables, report. Then the pairing phase.

Thin: every step is a stage from ``pipelines`` (ingest, captioning shard
steps) or ``datasets.artsound`` (report); this module only decides the order,
the shards and the task runner. Every stage is sharded and resumable: a
re-run skips finished shards and never regenerates a finished caption.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pyarrow as pa
from prefect import flow, get_run_logger

from synesthesia.datasets import artsound as A
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.artsound_pairing import ArtSoundPairingConfig, preflight_pairing
from synesthesia.flows.artsound_pairing import pair_artsound_flow
from synesthesia.flows.common import RunnerConfig, ensure_prefect_api, ingest_source, run_shards, stage_dir
from synesthesia.pipelines.captioning.prompts import FUSION_PROMPTS, IMAGE_PROMPTS
from synesthesia.pipelines.captioning.stages import fusion_shard_step, image_caption_shard_step, segment_caption_shard_step
from synesthesia.pipelines.ingest import IngestConfig
from synesthesia.pipelines.shards import ShardStore, plan_shards

DEFAULT_SHARD_SIZE = 100


def _merge(shards, folder: Path, schema) -> pa.Table:
    files = ShardStore(folder).finalize(shards)
    return dio.concat((dio.read_table(f, schema) for f in files), schema)


def _segment_key(config: A.ArtSoundConfig) -> tuple:
    seg = config.segments
    ckpt = None
    if seg.checkpoint and Path(seg.checkpoint).exists():
        ckpt = (seg.checkpoint, Path(seg.checkpoint).stat().st_size)
    return (seg.backend, ckpt, seg.tokenizer, config.segment_clip)


@flow(name="build-artsound", validate_parameters=False)
def build_artsound_flow(
    artworks: str,
    music: str,
    out: str,
    config: A.ArtSoundConfig,
    shard_size: int = DEFAULT_SHARD_SIZE,
    pairing: ArtSoundPairingConfig | None = ArtSoundPairingConfig(),
) -> dict:
    logger = get_run_logger()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)

    # --- ingest ----------------------------------------------------------------------
    a_root, images, q_images = ingest_source(artworks, IngestConfig.images(), out_dir, "artworks", shard_size)
    m_root, audio, q_audio = ingest_source(music, IngestConfig.audio(min_duration_s=config.min_track_seconds), out_dir, "music", shard_size)
    images, audio = images.sort_by("image_id"), audio.sort_by("audio_id")
    dio.write_table(images, out_dir / "artworks.parquet", S.IMAGES)
    dio.write_table(audio, out_dir / "tracks.parquet", S.AUDIO)
    dio.write_table(dio.concat([q_images, q_audio], S.QUARANTINE), out_dir / "quarantine.parquet", S.QUARANTINE)
    logger.info("ingest: %d artworks, %d tracks valid; %d + %d rejected", images.num_rows, audio.num_rows, q_images.num_rows, q_audio.num_rows)

    # --- music: 10 s segments -> segment captions ----------------------------------------
    tracks = [{"audio_id": a, "path": p} for a, p in zip(audio.column("audio_id").to_pylist(), audio.column("path").to_pylist())]
    seg_shards = plan_shards("segment-captions", tracks, shard_size, _segment_key(config), audio.column("sha256").to_pylist())
    seg_folder = stage_dir(out_dir, "segment-captions")
    run_shards(segment_caption_shard_step, seg_shards, root=str(m_root), captioner=config.segments, clip=config.segment_clip, folder=str(seg_folder))
    segments = _merge(seg_shards, seg_folder, S.AUDIO_SEGMENT_CAPTIONS)
    dio.write_table(segments, out_dir / "audio_segment_captions.parquet", S.AUDIO_SEGMENT_CAPTIONS)
    logger.info("segments: %d captions for %d tracks", segments.num_rows, len(tracks))

    # --- music: fusion + ACS loop ----------------------------------------------------------
    by_track: dict[str, list[tuple[int, str]]] = {}
    for a, i, c in zip(segments.column("audio_id").to_pylist(), segments.column("segment_index").to_pylist(), segments.column("caption").to_pylist()):
        by_track.setdefault(a, []).append((i, c))
    fusion_items = [{"audio_id": a, "segments": tuple(c for _, c in sorted(by_track[a]))} for a in sorted(by_track)]
    fusion_fps = [(it["audio_id"], hashlib.sha1("\x1f".join(it["segments"]).encode()).hexdigest()) for it in fusion_items]
    fusion_key = (config.fusion.key(), config.acs.key(), config.loop, config.seed, FUSION_PROMPTS)
    fusion_shards = plan_shards("audio-captions", fusion_items, shard_size, fusion_key, fusion_fps)
    fusion_folder = stage_dir(out_dir, "audio-captions")
    run_shards(fusion_shard_step, fusion_shards, generator=config.fusion, acs=config.acs, loop=config.loop, seed=config.seed, folder=str(fusion_folder))
    audio_captions = _merge(fusion_shards, fusion_folder, S.AUDIO_CAPTIONS)
    dio.write_table(audio_captions, out_dir / "audio_captions.parquet", S.AUDIO_CAPTIONS)

    # --- artworks: captions + ICS loop --------------------------------------------------------
    image_items = [{"image_id": i, "path": p} for i, p in zip(images.column("image_id").to_pylist(), images.column("path").to_pylist())]
    image_key = (config.image_captioner.key(), config.ics.key(), config.loop, config.seed, IMAGE_PROMPTS)
    image_shards = plan_shards("image-captions", image_items, shard_size, image_key, images.column("sha256").to_pylist())
    image_folder = stage_dir(out_dir, "image-captions")
    run_shards(image_caption_shard_step, image_shards, root=str(a_root), generator=config.image_captioner, ics=config.ics, loop=config.loop, seed=config.seed, folder=str(image_folder))
    image_captions = _merge(image_shards, image_folder, S.IMAGE_CAPTIONS)
    dio.write_table(image_captions, out_dir / "image_captions.parquet", S.IMAGE_CAPTIONS)

    summary = {
        "dataset": A.DATASET,
        "media_roots": {"artworks": str(a_root), "music": str(m_root)},
        "config": dataclasses.asdict(config),
        "artworks_found": images.num_rows + q_images.num_rows,
        "music_found": audio.num_rows + q_audio.num_rows,
        "segments": segments.num_rows,
        "image_attempts": image_captions.num_rows,
        "audio_attempts": audio_captions.num_rows,
    }
    summary["failed"] = {
        "artworks": sorted(set(image_captions.column("image_id").to_pylist()) - set(A.kept_rows(image_captions).column("image_id").to_pylist())),
        "tracks": sorted(set(audio_captions.column("audio_id").to_pylist()) - set(A.kept_rows(audio_captions).column("audio_id").to_pylist())),
    }
    if summary["failed"]["artworks"] or summary["failed"]["tracks"]:
        logger.warning(
            "%d artworks and %d tracks have no caption (every attempt failed in the backend); re-run to retry them",
            len(summary["failed"]["artworks"]),
            len(summary["failed"]["tracks"]),
        )
    dio.write_manifest(out_dir, {k: summary[k] for k in ("dataset", "media_roots", "config")})
    dio.write_text(A.report_text(out_dir, summary), out_dir / "report.md")
    logger.info("captions: %d image attempts, %d audio attempts; report: %s", image_captions.num_rows, audio_captions.num_rows, out_dir / "report.md")

    # --- pairing phase: embeddings -> four approaches -> greedy pairs -> splits ----------------
    # A subflow on a copy of this flow's task runner; it reads artworks/tracks
    # and the kept captions written above. ``pairing=None`` stops after captions.
    if pairing is not None:
        from prefect.context import FlowRunContext

        runner = FlowRunContext.get().task_runner.duplicate()
        summary["pairing"] = pair_artsound_flow.with_options(task_runner=runner)(str(out_dir), pairing)
    return summary


def preflight(config: A.ArtSoundConfig, pairing: ArtSoundPairingConfig | None = None) -> None:
    """Fail before any work when a file the build needs is missing (the
    message says where to get it), including the pairing phase's
    (:func:`~synesthesia.datasets.artsound_pairing.preflight_pairing`). Models
    that load by hub name are checked when their stage starts."""
    from synesthesia.pipelines.captioning import check_backend_installed
    from synesthesia.pipelines.captioning.lpmusiccaps import CHECKPOINT_HELP, TOKENIZER_HELP
    from synesthesia.pipelines.quality.image import PAC_WEIGHTS_HELP
    from synesthesia.pipelines.quality.common import MissingWeights

    ics = config.ics
    if not ics.skip_pac and (not ics.pac_weights or not Path(ics.pac_weights).is_file()):
        raise MissingWeights((f"PAC-S weights file not found: {ics.pac_weights}. " if ics.pac_weights else "") + PAC_WEIGHTS_HELP)
    seg = config.segments
    if seg.backend == "lpmusiccaps":
        if not seg.checkpoint or not Path(seg.checkpoint).is_file():
            raise MissingWeights((f"LP-MusicCaps checkpoint not found: {seg.checkpoint}. " if seg.checkpoint else "") + CHECKPOINT_HELP)
        if not seg.tokenizer or not (Path(seg.tokenizer) / "vocab.json").is_file():
            raise MissingWeights((f"BART tokenizer not found in {seg.tokenizer}. " if seg.tokenizer else "") + TOKENIZER_HELP)
    for generator in (config.image_captioner, config.fusion):
        check_backend_installed(generator)  # vLLM / transformers installed (the models load by name when their stage starts)
    if pairing is not None:
        # The embedder, its options, dependencies and files (e.g. ImageBind's
        # checkpoint, with its download URL and size); the folder inputs are
        # this build's own captioning outputs, so they are not checked here.
        preflight_pairing(pairing)


def build_artsound(
    artworks: str | os.PathLike,
    music: str | os.PathLike,
    out: str | os.PathLike,
    config: A.ArtSoundConfig = A.ArtSoundConfig(),
    shard_size: int = DEFAULT_SHARD_SIZE,
    runner: RunnerConfig = RunnerConfig(),
    pairing: ArtSoundPairingConfig | None = ArtSoundPairingConfig(),
) -> dict:
    """Run the ArtSound flow with the chosen task runner (the Python entry
    point behind ``synesthesia build artsound``)."""
    preflight(config, pairing)
    ensure_prefect_api()
    configured = build_artsound_flow.with_options(task_runner=runner.task_runner())
    return configured(str(artworks), str(music), str(out), config, shard_size, pairing)
