"""The ArtSound recipe (Art2Mus paper): plain functions over an ArtSound folder.

Captioning phase, in the order a build runs it (``flows/artsound.py``):
:func:`preflight` → :func:`ingest` → :func:`segment_captions` →
:func:`audio_captions` (fusion + ACS loop) → :func:`image_captions` (ICS
loop) → :func:`finish_captions` (``dataset.json``, report). A built folder
(captioning phase)::

    DIR/
      dataset.json                   dataset "artsound", media roots {artworks, music}, build config
      artworks.parquet               schema.IMAGES   (valid artworks: style, genre, artist, title...)
      tracks.parquet                 schema.AUDIO    (valid tracks)
      quarantine.parquet             schema.QUARANTINE
      audio_segment_captions.parquet schema.AUDIO_SEGMENT_CAPTIONS (one row per 10 s segment)
      image_captions.parquet         schema.IMAGE_CAPTIONS (every attempt; kept = the dataset's caption)
      audio_captions.parquet         schema.AUDIO_CAPTIONS (every attempt; kept = the dataset's caption)
      report.md
      _work/                         shard parts (kept so re-runs resume)

Pairing phase (section 3.3, Table 5, Figures 2 and 5, section 5.2):
:func:`embed` → :func:`pair_approaches` → :func:`finish_pairs`; it adds
``embeddings/``, ``pairings/``, ``pairing_stats.parquet``,
``style_by_genre.parquet``, ``pairs.parquet``, ``data/<split>.parquet``,
``figures/``, the card ``README.md`` and the ``pairing`` block of the report.
"""

from synesthesia.recipes.artsound.captions import (
    Ingested,
    audio_captions,
    failed_items,
    finish_captions,
    image_captions,
    ingest,
    merge_parts,
    read_kept_captions,
    segment_captions,
)
from synesthesia.recipes.artsound.config import (
    APPROACHES,
    CAPTION_TABLE,
    CAPTIONERS,
    DATASET,
    DEFAULT_SHARD_SIZE,
    ID_COLUMN,
    MEDIA_ROOT,
    MODALITY_TABLE,
    PAPER_APPROACH,
    PAPER_EMBEDDER,
    PAPER_METHOD,
    PAPER_PAIRS,
    PAPER_TABLE5,
    TRAIN_FRACTION,
    VAL_SIZE,
    Approach,
    ArtSoundConfig,
    ArtSoundPairingConfig,
    config_dict,
    make_config,
)
from synesthesia.recipes.artsound.pairing import (
    Embedded,
    PairingInputs,
    PairingPreflightError,
    compute_stores,
    embed,
    kept_captions,
    media_root,
    pair_approach,
    pair_approaches,
    plan_approaches,
    preflight_pairing,
    read_inputs,
    stats_row,
    store_inputs,
    stores_needed,
)
from synesthesia.recipes.artsound.preflight import ArtSoundPreflightError, build_problems, offline_command, preflight
from synesthesia.recipes.artsound.pairs import REPORT_BLOCK, artsound_splits, assemble_pairs, finish_pairs, pairs_schema, style_by_genre
from synesthesia.recipes.artsound.report import attempts_table, caption_statistics, report_block, report_text, write_card

__all__ = [
    "Ingested", "audio_captions", "failed_items", "finish_captions", "image_captions", "ingest", "merge_parts", "preflight",
    "read_kept_captions", "segment_captions", "APPROACHES", "CAPTION_TABLE", "CAPTIONERS", "DATASET", "DEFAULT_SHARD_SIZE",
    "ID_COLUMN", "MEDIA_ROOT", "MODALITY_TABLE", "PAPER_APPROACH", "PAPER_EMBEDDER", "PAPER_METHOD", "PAPER_PAIRS", "PAPER_TABLE5",
    "TRAIN_FRACTION", "VAL_SIZE", "Approach", "ArtSoundConfig", "ArtSoundPairingConfig", "config_dict", "make_config", "Embedded",
    "PairingInputs", "PairingPreflightError", "compute_stores", "embed", "kept_captions", "media_root", "pair_approach",
    "pair_approaches", "plan_approaches", "preflight_pairing", "read_inputs", "stats_row", "store_inputs", "stores_needed",
    "REPORT_BLOCK", "artsound_splits", "assemble_pairs", "finish_pairs", "pairs_schema", "style_by_genre", "attempts_table",
    "caption_statistics", "report_block", "report_text", "write_card", "ArtSoundPreflightError", "build_problems", "offline_command",
]
