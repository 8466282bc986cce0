"""MPD's data path: ingest → splits → 15 s clips → random pairs → mels and
the paired clips' listening copies (one decode per track).

Plain functions over a dataset folder; the flow (``flows/mpd.py``) runs them
in order with its shard runner, and the annotation phases follow
(:mod:`synesthesia.recipes.mpd.annotation`). The pairs are drawn from the
clip plan before any audio is decoded, so the audio pass can cut the
listening copies raters need from the same decode as the mels.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.media import ClipConfig
from synesthesia.recipes.mpd.config import BUILD_SUMMARY, CLIP_MEDIA, DATASET, MPDConfig
from synesthesia.sources import open_source
from synesthesia.stages.audio import CopyJob, MelJob, PassResult, audio_pass, plan_clips, planned_starts
from synesthesia.stages.ingest import IngestConfig, ingest_source, nothing_usable
from synesthesia.stages.pairing import draw_mpd_pairs
from synesthesia.stages.shards import ShardRunner, run_serially
from synesthesia.stages.splits import stratified_split, weighted_split


def assemble_items(images: pa.Table, audio: pa.Table, config: MPDConfig) -> tuple[pa.Table, pa.Table]:
    """Validated images/audio → MPD paintings and tracks with their split.

    Item mode: paintings stratified by style, 80/10/10 seeded; tracks
    stratified by genre and weighted by their number of clips, so each
    split's share of the *clips* is 80/10/10 (tracks stay whole).
    Pair mode: items carry no split (pairs do)."""
    paintings = images.rename_columns(["painting_id" if c == "image_id" else c for c in images.column_names])
    tracks = audio.rename_columns(["track_id" if c == "audio_id" else c for c in audio.column_names])
    fractions = dict(config.fractions)
    if config.split_mode == "items":
        p_split = stratified_split(paintings.column("painting_id").to_pylist(), paintings.column("style").to_pylist(), fractions, config.seed)
        n_clips = [len(planned_starts(n, r, config.clip)) for n, r in zip(tracks.column("n_frames").to_pylist(), tracks.column("sample_rate").to_pylist())]
        t_split = weighted_split(tracks.column("track_id").to_pylist(), n_clips, tracks.column("genre").to_pylist(), fractions, config.seed + 1)
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
    m_root, audio_t, q_audio = ingest_source(m_source, m_config, out, "music", shard_size, run=run)
    found = {"paintings": images.num_rows + q_images.num_rows, "music": audio_t.num_rows + q_audio.num_rows}
    roots = {"paintings": str(p_root), "music": str(m_root)}
    problem = nothing_usable([("paintings", paintings, images, q_images), ("music tracks", music, audio_t, q_audio)])
    return _write_items(out, images, audio_t, dio.concat([q_images, q_audio], S.QUARANTINE), config, roots, found, problem)


def _write_items(
    out: Path, images: pa.Table, audio_t: pa.Table, quarantine: pa.Table, config: MPDConfig, roots: dict, found: dict, problem: str | None = None
) -> Items:
    paintings_t, tracks_t = assemble_items(images, audio_t, config)
    clips_t = plan_clips(tracks_t, config.clip)
    dio.write_table(paintings_t, out / "paintings.parquet", S.MPD_PAINTINGS)
    dio.write_table(tracks_t, out / "tracks.parquet", S.MPD_TRACKS)
    dio.write_table(clips_t, out / "clips.parquet", S.CLIPS)
    dio.write_table(quarantine, out / "quarantine.parquet", S.QUARANTINE)
    return Items(paintings_t, tracks_t, clips_t, roots, found, quarantine.num_rows, problem)


def draw_pairs(out: Path, items: Items, config: MPDConfig) -> dict:
    """Draw the random pairs from the clip plan (``pairs.parquet``); returns the pair summary."""
    table, summary = draw_mpd_pairs(items.paintings, items.clips, config.n_pairs, config.seed, config.split_mode, dict(config.fractions))
    dio.write_table(table, out / "pairs.parquet", S.MPD_PAIRS)
    return summary


def listening_job(clips: pa.Table, pairs: pa.Table, fmt: str) -> CopyJob:
    """Listening copies of the paired clips, at each track's own rate and channels."""
    used = clips.filter(pc.is_in(clips.column("clip_id"), value_set=pc.unique(pairs.column("clip_id"))))
    lengths = pc.subtract(used.column("end_s"), used.column("start_s"))
    seconds = pc.max(lengths).as_py() if used.num_rows else ClipConfig().clip_seconds
    return CopyJob(used, ClipConfig(clip_seconds=float(seconds)), fmt, native=True)


def drop_failed(out: Path, items: Items, config: MPDConfig, failed: pa.Table) -> Items:
    """Take tracks that failed their full decode out of the tables (their
    quarantine rows say why) and re-split the rest."""
    keep = pc.invert(pc.is_in(items.tracks.column("path"), value_set=failed.column("path")))
    quarantine = dio.concat([dio.read_table(out / "quarantine.parquet", S.QUARANTINE), failed], S.QUARANTINE)
    paintings, tracks = (t.drop_columns(["split"]) for t in (items.paintings, items.tracks.filter(keep)))
    problem = None if tracks.num_rows else f"no usable music track: all {failed.num_rows} failed their full decode (reasons in quarantine.parquet, stage audio)"
    return _write_items(out, paintings, tracks, quarantine, config, items.roots, items.found, problem)


def audio(out: Path, items: Items, config: MPDConfig, shard_size: int, run: ShardRunner = run_serially) -> tuple[Items, dict, PassResult]:
    """Pairs, then one pass over the tracks: the 128 × 469 log-mel of every
    clip (``mels/part-*.parquet``) and the listening copies of the paired
    clips (``clips/``, ``clip_files.parquet``), each track decoded once.

    A track that fails its full decode is quarantined (``stage="audio"``);
    the tracks are then re-split and the pairs redrawn without it, and the
    pass runs again (finished shards are kept; only copies the new pairs need
    are made). Returns the items, the pair summary and the pass result."""
    for _ in range(2):
        pairs_summary = draw_pairs(out, items, config)
        pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
        result = audio_pass(
            items.tracks, items.roots["music"], out, shard_size, mels=MelJob(items.clips, config.clip, config.mel),
            copies=listening_job(items.clips, pairs, config.annotation.clip_media_format), run=run,
        )
        if not result.failed.num_rows:
            break
        items = drop_failed(out, items, config, result.failed)
        if items.problem:
            break
    dio.write_table(result.clip_files, out / CLIP_MEDIA, S.CLIP_FILES)
    return items, pairs_summary, result


def finish_build(out: Path, items: Items, config: MPDConfig, pairs_summary: dict, result: PassResult) -> dict:
    """``dataset.json`` and the build summary the report reads; returns that summary."""
    summary = {
        "dataset": DATASET,
        "media_roots": items.roots,
        "config": dataclasses.asdict(config),
        "paintings_found": items.found["paintings"],
        "music_found": items.found["music"],
        "mels": items.clips.num_rows,
        "pairs": pairs_summary,
        "audio_pass": pass_summary(result),
    }
    dio.write_manifest(out, {k: summary[k] for k in ("dataset", "media_roots", "config")})
    dio.write_text(json.dumps(summary, indent=2, default=str) + "\n", out / BUILD_SUMMARY)
    return summary


def pass_summary(result: PassResult) -> dict:
    """What the audio pass did, for the log and the report."""
    done = [r for r in result.shards if not r.get("skipped")]
    return {
        "shards": len(result.shards),
        "shards_run": len(done),
        "workers": len({r["worker"] for r in done if "worker" in r}),
        "seconds": round(sum(r.get("seconds", 0.0) for r in done), 3),
        "failed": result.failed.num_rows,
    }


def build_summary(out: Path) -> dict:
    """The summary the last build wrote (what the report needs when only the annotation phases run)."""
    return json.loads((out / BUILD_SUMMARY).read_text(encoding="utf-8"))
