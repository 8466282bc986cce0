"""ArtSound's captioning phase: ingest → 10 s segment captions → fused
caption with the ACS loop; artworks → captions with the ICS loop.

Every stage is sharded and resumable: a re-run skips finished shards and
never regenerates a finished caption.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes.artsound.config import DATASET, ArtSoundConfig
from synesthesia.recipes.artsound.report import report_text
from synesthesia.sources import open_source
from synesthesia.stages.captioning.prompts import FUSION_PROMPTS, IMAGE_PROMPTS
from synesthesia.stages.captioning.steps import fusion_shard_step, image_caption_shard_step, kept_rows, segment_caption_shard_step
from synesthesia.stages.ingest import IngestConfig, ingest_source, nothing_usable
from synesthesia.stages.shards import ShardRunner, ShardStore, plan_shards, run_serially, work_dir


def merge_parts(shards, folder: Path, schema) -> pa.Table:
    files = ShardStore(folder).finalize(shards)
    return dio.concat((dio.read_table(f, schema) for f in files), schema)


def _segment_key(config: ArtSoundConfig) -> tuple:
    seg = config.segments
    ckpt = None
    if seg.checkpoint and Path(seg.checkpoint).exists():
        ckpt = (seg.checkpoint, Path(seg.checkpoint).stat().st_size)
    return (seg.backend, ckpt, seg.tokenizer, config.segment_clip)


# --- the captioning phase, step by step ----------------------------------------------------

@dataclass
class Ingested:
    roots: dict[str, str]
    artworks: pa.Table
    tracks: pa.Table
    found: dict[str, int]
    rejected: dict[str, int]
    #: why the build cannot go on (no usable artwork or track), else None
    problem: str | None = None


def ingest(
    artworks: str | os.PathLike, music: str | os.PathLike, out: Path, config: ArtSoundConfig, shard_size: int, run: ShardRunner = run_serially
) -> Ingested:
    """Read both inputs (selectors: a folder/CSV or ``KIND:PATH``, see
    :mod:`synesthesia.sources`) and validate them (sharded):
    ``artworks.parquet``, ``tracks.parquet``, ``quarantine.parquet``."""
    out.mkdir(parents=True, exist_ok=True)
    a_config, m_config = IngestConfig.images(), IngestConfig.audio(min_duration_s=config.min_track_seconds)
    a_source = open_source(artworks, a_config.kind, a_config.folder_fields)
    m_source = open_source(music, m_config.kind, m_config.folder_fields)
    a_root, images, q_images = ingest_source(a_source, a_config, out, "artworks", shard_size, run=run)
    m_root, audio, q_audio = ingest_source(m_source, m_config, out, "music", shard_size, run=run)
    images, audio = images.sort_by("image_id"), audio.sort_by("audio_id")
    dio.write_table(images, out / "artworks.parquet", S.IMAGES)
    dio.write_table(audio, out / "tracks.parquet", S.AUDIO)
    dio.write_table(dio.concat([q_images, q_audio], S.QUARANTINE), out / "quarantine.parquet", S.QUARANTINE)
    return Ingested(
        {"artworks": str(a_root), "music": str(m_root)}, images, audio,
        {"artworks": images.num_rows + q_images.num_rows, "music": audio.num_rows + q_audio.num_rows},
        {"artworks": q_images.num_rows, "music": q_audio.num_rows},
        nothing_usable([("artworks", artworks, images, q_images), ("music tracks", music, audio, q_audio)]),
    )


def segment_captions(out: Path, ingested: Ingested, config: ArtSoundConfig, shard_size: int, run: ShardRunner = run_serially) -> pa.Table:
    """Every track cut into 10 s segments, each captioned: ``audio_segment_captions.parquet``."""
    audio = ingested.tracks
    tracks = [{"audio_id": a, "path": p} for a, p in zip(audio.column("audio_id").to_pylist(), audio.column("path").to_pylist())]
    shards = plan_shards("segment-captions", tracks, shard_size, _segment_key(config), audio.column("sha256").to_pylist())
    folder = work_dir(out, "segment-captions")
    run(segment_caption_shard_step, shards, root=ingested.roots["music"], captioner=config.segments, clip=config.segment_clip, folder=str(folder))
    segments = merge_parts(shards, folder, S.AUDIO_SEGMENT_CAPTIONS)
    dio.write_table(segments, out / "audio_segment_captions.parquet", S.AUDIO_SEGMENT_CAPTIONS)
    return segments


def audio_captions(out: Path, segments: pa.Table, config: ArtSoundConfig, shard_size: int, run: ShardRunner = run_serially) -> pa.Table:
    """Each track's segment captions fused into one, regenerated below the
    ACS threshold: ``audio_captions.parquet`` (every attempt)."""
    by_track: dict[str, list[tuple[int, str]]] = {}
    for a, i, c in zip(segments.column("audio_id").to_pylist(), segments.column("segment_index").to_pylist(), segments.column("caption").to_pylist()):
        by_track.setdefault(a, []).append((i, c))
    items = [{"audio_id": a, "segments": tuple(c for _, c in sorted(by_track[a]))} for a in sorted(by_track)]
    prints = [(it["audio_id"], hashlib.sha1("\x1f".join(it["segments"]).encode()).hexdigest()) for it in items]
    key = (config.fusion.key(), config.acs.key(), config.loop, config.seed, FUSION_PROMPTS)
    shards = plan_shards("audio-captions", items, shard_size, key, prints)
    folder = work_dir(out, "audio-captions")
    run(fusion_shard_step, shards, generator=config.fusion, acs=config.acs, loop=config.loop, seed=config.seed, folder=str(folder))
    table = merge_parts(shards, folder, S.AUDIO_CAPTIONS)
    dio.write_table(table, out / "audio_captions.parquet", S.AUDIO_CAPTIONS)
    return table


def image_captions(out: Path, ingested: Ingested, config: ArtSoundConfig, shard_size: int, run: ShardRunner = run_serially) -> pa.Table:
    """Every artwork captioned, regenerated below the ICS threshold:
    ``image_captions.parquet`` (every attempt)."""
    images = ingested.artworks
    items = [{"image_id": i, "path": p} for i, p in zip(images.column("image_id").to_pylist(), images.column("path").to_pylist())]
    key = (config.image_captioner.key(), config.ics.key(), config.loop, config.seed, IMAGE_PROMPTS, config.alpha_background)
    shards = plan_shards("image-captions", items, shard_size, key, images.column("sha256").to_pylist())
    folder = work_dir(out, "image-captions")
    run(image_caption_shard_step, shards, root=ingested.roots["artworks"], generator=config.image_captioner, ics=config.ics,
        loop=config.loop, seed=config.seed, folder=str(folder), background=config.alpha_background)
    table = merge_parts(shards, folder, S.IMAGE_CAPTIONS)
    dio.write_table(table, out / "image_captions.parquet", S.IMAGE_CAPTIONS)
    return table


def failed_items(captions: pa.Table, id_column: str) -> list[str]:
    """Items with attempts but no kept caption (every attempt failed in the backend)."""
    return sorted(set(captions.column(id_column).to_pylist()) - set(kept_rows(captions).column(id_column).to_pylist()))


def finish_captions(out: Path, ingested: Ingested, config: ArtSoundConfig, segments: pa.Table, images: pa.Table, audio: pa.Table) -> dict:
    """``dataset.json`` and the captioning report; returns the phase's summary."""
    summary = {
        "dataset": DATASET,
        "media_roots": ingested.roots,
        "config": dataclasses.asdict(config),
        "artworks_found": ingested.found["artworks"],
        "music_found": ingested.found["music"],
        "segments": segments.num_rows,
        "image_attempts": images.num_rows,
        "audio_attempts": audio.num_rows,
        "failed": {"artworks": failed_items(images, "image_id"), "tracks": failed_items(audio, "audio_id")},
    }
    dio.write_manifest(out, {k: summary[k] for k in ("dataset", "media_roots", "config")})
    dio.write_text(report_text(out, summary), out / "report.md")
    return summary


def read_kept_captions(folder: str | Path) -> tuple[pa.Table, pa.Table]:
    """(image captions, audio captions) of a built folder, kept rows only:
    what the pairing phase and the readers use."""
    folder = Path(folder)
    images = dio.read_table(folder / "image_captions.parquet", S.IMAGE_CAPTIONS)
    audio = dio.read_table(folder / "audio_captions.parquet", S.AUDIO_CAPTIONS)
    return kept_rows(images), kept_rows(audio)
