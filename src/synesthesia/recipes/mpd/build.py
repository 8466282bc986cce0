"""MPD's data path: ingest → splits → 15 s clips → mels → random pairs.

Plain functions over a dataset folder; the flow (``flows/mpd.py``) runs them
in order with its shard runner, and the annotation phases follow
(:mod:`synesthesia.recipes.mpd.annotation`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes.mpd.config import BUILD_SUMMARY, DATASET, MPDConfig
from synesthesia.sources import open_source
from synesthesia.stages.audio import compute_mels, plan_clips
from synesthesia.stages.ingest import IngestConfig, ingest_source, nothing_usable
from synesthesia.stages.pairing import draw_mpd_pairs
from synesthesia.stages.shards import ShardRunner, run_serially
from synesthesia.stages.splits import stratified_split


def assemble_items(images: pa.Table, audio: pa.Table, config: MPDConfig) -> tuple[pa.Table, pa.Table]:
    """Validated images/audio → MPD paintings and tracks with their split.

    Item mode: paintings stratified by style, tracks by genre, 80/10/10 seeded.
    Pair mode: items carry no split (pairs do)."""
    paintings = images.rename_columns(["painting_id" if c == "image_id" else c for c in images.column_names])
    tracks = audio.rename_columns(["track_id" if c == "audio_id" else c for c in audio.column_names])
    fractions = dict(config.fractions)
    if config.split_mode == "items":
        p_split = stratified_split(paintings.column("painting_id").to_pylist(), paintings.column("style").to_pylist(), fractions, config.seed)
        t_split = stratified_split(tracks.column("track_id").to_pylist(), tracks.column("genre").to_pylist(), fractions, config.seed + 1)
    else:
        p_split = [None] * paintings.num_rows
        t_split = [None] * tracks.num_rows
    paintings = S.conform(paintings.append_column("split", pa.array(p_split, pa.string())), S.MPD_PAINTINGS)
    tracks = S.conform(tracks.append_column("split", pa.array(t_split, pa.string())), S.MPD_TRACKS)
    return paintings.sort_by("painting_id"), tracks.sort_by("track_id")


@dataclass
class Items:
    """What ingest found: the valid paintings/tracks (with splits), their
    clips, the media roots and the counts of files seen."""

    paintings: pa.Table
    tracks: pa.Table
    clips: pa.Table
    roots: dict[str, str]
    found: dict[str, int]
    rejected: int
    #: why the build cannot go on (no usable painting or track), else None
    problem: str | None = None


def ingest(
    paintings: str | os.PathLike, music: str | os.PathLike, out: Path, config: MPDConfig, shard_size: int, run: ShardRunner = run_serially
) -> Items:
    """Read both inputs (selectors: a folder/CSV or ``KIND:PATH``, see
    :mod:`synesthesia.sources`), validate them (sharded), split the items and
    plan the 15 s clips; writes paintings, tracks, clips and quarantine tables."""
    out.mkdir(parents=True, exist_ok=True)
    p_config, m_config = IngestConfig.images(), IngestConfig.audio(min_duration_s=config.clip.clip_seconds)
    p_source = open_source(paintings, p_config.kind, p_config.folder_fields)
    m_source = open_source(music, m_config.kind, m_config.folder_fields)
    p_root, images, q_images = ingest_source(p_source, p_config, out, "paintings", shard_size, run=run)
    m_root, audio, q_audio = ingest_source(m_source, m_config, out, "music", shard_size, run=run)
    paintings_t, tracks_t = assemble_items(images, audio, config)
    clips_t = plan_clips(tracks_t, config.clip)
    quarantine = dio.concat([q_images, q_audio], S.QUARANTINE)
    dio.write_table(paintings_t, out / "paintings.parquet", S.MPD_PAINTINGS)
    dio.write_table(tracks_t, out / "tracks.parquet", S.MPD_TRACKS)
    dio.write_table(clips_t, out / "clips.parquet", S.CLIPS)
    dio.write_table(quarantine, out / "quarantine.parquet", S.QUARANTINE)
    found = {"paintings": images.num_rows + q_images.num_rows, "music": audio.num_rows + q_audio.num_rows}
    problem = nothing_usable([("paintings", paintings, images, q_images), ("music tracks", music, audio, q_audio)])
    return Items(paintings_t, tracks_t, clips_t, {"paintings": str(p_root), "music": str(m_root)}, found, quarantine.num_rows, problem)


def mels(out: Path, items: Items, config: MPDConfig, shard_size: int, run: ShardRunner = run_serially) -> list[Path]:
    """The 128 × 469 log-mel of every clip (sharded by track): ``mels/part-*.parquet``."""
    return compute_mels(items.tracks, items.clips, items.roots["music"], out, config.clip, config.mel, shard_size, run=run)


def pairs(out: Path, items: Items, config: MPDConfig) -> dict:
    """Draw the random pairs (``pairs.parquet``), write ``dataset.json`` and
    the build summary the report reads; returns that summary."""
    table, pair_summary = draw_mpd_pairs(items.paintings, items.clips, config.n_pairs, config.seed, config.split_mode, dict(config.fractions))
    dio.write_table(table, out / "pairs.parquet", S.MPD_PAIRS)
    summary = {
        "dataset": DATASET,
        "media_roots": items.roots,
        "config": dataclasses.asdict(config),
        "paintings_found": items.found["paintings"],
        "music_found": items.found["music"],
        "mels": items.clips.num_rows,
        "pairs": pair_summary,
    }
    dio.write_manifest(out, {k: summary[k] for k in ("dataset", "media_roots", "config")})
    dio.write_text(json.dumps(summary, indent=2, default=str) + "\n", out / BUILD_SUMMARY)
    return summary


def build_summary(out: Path) -> dict:
    """The summary the last build wrote (what the report needs when only the annotation phases run)."""
    return json.loads((out / BUILD_SUMMARY).read_text(encoding="utf-8"))
