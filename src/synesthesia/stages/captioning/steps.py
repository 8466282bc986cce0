"""ArtSound captioning as shard steps (plain functions; flows only map them).

* :func:`segment_caption_shard_step`: tracks -> 10 s segments -> one caption
  per segment (``AUDIO_SEGMENT_CAPTIONS`` rows).
* :func:`image_caption_shard_step`: artworks -> caption loop scored by ICS
  (``IMAGE_CAPTIONS`` rows, every attempt).
* :func:`fusion_shard_step`: a track's segment captions -> fused caption loop
  scored by ACS (``AUDIO_CAPTIONS`` rows, every attempt).

A loop shard is finished when its part file exists and every item in it is
finished (it has a caption and needs no further attempt). A part holding
items that failed in the backend is re-opened by the next run: its stored
attempts are the loop state, only the failed attempts are redone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, ClipConfig, clip_starts, cut_clips, load_audio
from synesthesia.stages.captioning import GeneratorConfig, SegmentCaptionerConfig, TextGenerator, cached_generator, get_segment_captioner, process_cached
from synesthesia.stages.captioning.loop import LoopConfig, LoopItem, finished, run_caption_loop
from synesthesia.stages.captioning.prompts import FUSION_PROMPTS, IMAGE_PROMPTS, PromptSet
from synesthesia.stages.shards import ShardStore, write_once

#: ArtSound / LP-MusicCaps segments: 10 s from the start of the track, a track
#: shorter than 10 s zero-padded to one segment, a shorter tail dropped.
SEGMENT_CLIP = ClipConfig(clip_seconds=10.0, short_track="pad", tail="drop")
#: Tracks this short carry too little audio for a meaningful padded segment
#: (the paper is silent; FMA tracks are 30 s). Shorter ones are quarantined.
MIN_TRACK_SECONDS = 1.0
#: Decode and caption this many tracks at a time inside a shard (bounds memory).
TRACKS_PER_BATCH = 16

def cached_scorer(kind: str, config):
    """One scorer per process and config (models load once per worker)."""

    def make():
        if kind == "ics":
            from synesthesia.stages.quality.image import ICSScorer

            return ICSScorer(config)
        from synesthesia.stages.quality.text import ACSScorer

        return ACSScorer(config)

    return process_cached(("scorer", kind, config), make)


def segment_id(audio_id: str, index: int) -> str:
    return f"{audio_id}-s{index:03d}"


# --- segments --------------------------------------------------------------------------

def segment_caption_rows(root: str | Path, tracks: Sequence[dict], captioner_config: SegmentCaptionerConfig, clip: ClipConfig = SEGMENT_CLIP) -> pa.Table:
    """Decode each track (16 kHz mono), cut its segments, caption them."""
    captioner = get_segment_captioner(captioner_config)
    size = clip.clip_samples
    rows: list[dict] = []
    for b in range(0, len(tracks), TRACKS_PER_BATCH):
        batch = tracks[b : b + TRACKS_PER_BATCH]
        segments, meta = [], []
        for track in batch:
            y = load_audio(Path(root) / track["path"], clip.sample_rate)
            starts = clip_starts(len(y), clip)
            if starts:
                segments.append(cut_clips(y, starts, size))
            for i, start in enumerate(starts):
                meta.append((track["audio_id"], i, start, start + size > len(y)))
        if not meta:
            continue
        captions = captioner.caption(np.concatenate(segments), clip.sample_rate)
        for (audio_id, i, start, padded), caption in zip(meta, captions):
            rows.append(
                {
                    "segment_id": segment_id(audio_id, i),
                    "audio_id": audio_id,
                    "segment_index": i,
                    "start_s": start / clip.sample_rate,
                    "end_s": (start + size) / clip.sample_rate,
                    "padded": bool(padded),
                    "caption": caption,
                    "n_chars": len(caption),
                    "backend": captioner.name,
                    "model": captioner.model,
                }
            )
    return S.from_rows(rows, S.AUDIO_SEGMENT_CAPTIONS)


def segment_caption_shard_step(shard, root: str, captioner: SegmentCaptionerConfig, clip: ClipConfig, folder: str) -> dict:
    def produce():
        table = segment_caption_rows(root, list(shard.items), captioner, clip)
        return {"part": (table, S.AUDIO_SEGMENT_CAPTIONS)}, {"tracks": len(shard.items), "segments": table.num_rows}

    return write_once(shard, folder, produce)


# --- caption loops ------------------------------------------------------------------------

def _history(path: Path, schema: pa.Schema, id_column: str) -> dict[str, list[dict]]:
    if not path.exists():
        return {}
    out: dict[str, list[dict]] = {}
    for row in dio.read_table(path, schema).to_pylist():
        out.setdefault(row.pop(id_column), []).append(row)
    for rows in out.values():
        rows.sort(key=lambda r: (r["attempt"], r["error"] is not None))
    return out


def loop_shard(
    shard,
    items: list[LoopItem],
    folder: str,
    schema: pa.Schema,
    id_column: str,
    prompts: PromptSet,
    generator: GeneratorConfig | TextGenerator,
    scorer,
    loop: LoopConfig,
    seed: int,
    composite: str | None = None,
) -> dict:
    """Run or continue the caption loop of one shard and write its attempts.

    ``generator``: a config (resolved once per process) or a ready generator.
    ``scorer``: a scorer, or a zero-argument factory (then ``composite`` names
    its composite column) called only when the shard has work, so a finished
    shard never loads a model."""
    composite = composite or scorer.composite
    store = ShardStore(folder)
    path = store.path(shard)
    history = _history(path, schema, id_column)
    if path.exists() and all(finished(history.get(i.item_id, []), composite, loop) for i in items):
        return {"skipped": True}
    todo = [i for i in items if not finished(history.get(i.item_id, []), composite, loop)]
    if not hasattr(scorer, "score"):
        scorer = scorer()
    backend = generator if isinstance(generator, TextGenerator) else cached_generator(generator)
    result = run_caption_loop(todo, history, prompts, backend, scorer, loop, seed)
    rows = []
    for item in items:
        attempts = result.get(item.item_id, history.get(item.item_id, []))
        rows.extend({id_column: item.item_id, **r} for r in attempts)
    table = S.from_rows(rows, schema)
    dio.write_table(table, path, schema)
    errors = table.filter(pc.is_valid(table.column("error")))
    kept = table.filter(table.column("kept"))
    return {
        "items": len(items),
        "resumed": len(items) - len(todo),
        "attempts": table.num_rows - errors.num_rows,
        "passed": int(pc.sum(kept.column("passed").fill_null(False).cast(pa.int64())).as_py() or 0),
        "failed": len(set(errors.column(id_column).to_pylist())),
    }


def image_caption_shard_step(
    shard, root: str, generator: GeneratorConfig, ics, loop: LoopConfig, seed: int, folder: str, background: str = DEFAULT_ALPHA_BACKGROUND
) -> dict:
    """``shard.items``: dicts with ``image_id`` and ``path`` (relative to ``root``);
    transparent pixels are composited onto ``background`` for the captioner and the scorers."""
    items = [LoopItem(it["image_id"], image_path=str(Path(root) / it["path"]), image_background=background) for it in shard.items]
    return loop_shard(shard, items, folder, S.IMAGE_CAPTIONS, "image_id", IMAGE_PROMPTS, generator, lambda: cached_scorer("ics", ics), loop, seed, "ics")


def fusion_shard_step(shard, generator: GeneratorConfig, acs, loop: LoopConfig, seed: int, folder: str) -> dict:
    """``shard.items``: dicts with ``audio_id`` and ``segments`` (captions in segment order)."""
    items = [LoopItem(it["audio_id"], segments=tuple(it["segments"])) for it in shard.items]
    return loop_shard(shard, items, folder, S.AUDIO_CAPTIONS, "audio_id", FUSION_PROMPTS, generator, lambda: cached_scorer("acs", acs), loop, seed, "acs")


def kept_rows(table: pa.Table) -> pa.Table:
    """The rows with ``kept == true``: one caption per item, the dataset's."""
    return table.filter(pc.fill_null(table.column("kept"), False))
