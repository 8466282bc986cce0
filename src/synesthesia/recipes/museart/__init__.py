"""Museart (Musipainter paper, section 3.1): 18 categories of images and
30 s audio; each audio item paired with a random image of its category;
80/10/10 splits (published: 19,366 / 2,425 / 2,425 of 24,216).

Inputs
------
* **Published layout**: ``images.csv`` and ``audio.csv`` (columns ``id,
  class, set``) in ``--csv-dir``, plus a folder of images and a folder of
  WAV files anywhere below ``--paintings`` / ``--music``. A file belongs to the
  index row whose ``id`` is its stem (case-insensitive, spaces as
  underscores); when an id is listed under two classes (the published
  ``images.csv`` has one such id), the class folder the file sits in decides.
* **Plain layout** (no ``--csv-dir``): one sub-folder per category under
  ``--paintings`` and ``--music``.

Category names that match one of the paper's 18 (:data:`PAPER_CATEGORIES`)
up to case, ``_``/``-`` and spacing become the paper's spelling
(``heavy_metal`` → ``Heavy metal``); any other name is a category of its own.

Audio items
-----------
Every source file is decoded once, averaged to mono, resampled to **16 kHz**
(the rate of the BEATs encoder Musipainter uses; the authors' loader
resampled to 44.1 kHz by mistake) and cut into **30 s** clips from its start.
A file of 30–60 s (the published files are 30 s) gives one item named like
the file; a longer file gives one item per whole 30 s, named
``<stem>segmentNN`` like the published segments, so they share a source
track. Shorter files are **zero-padded** (default, ``short_audio="pad"``)
when they hold at least :data:`DEFAULT_MIN_AUDIO_SECONDS` of signal, else
quarantined; ``short_audio="drop"`` quarantines every file under 30 s. A
remainder under 30 s at the end of a longer file is dropped.

Clips are stored as **one FLAC file per item** (16-bit PCM, lossless): at
Museart's 24,216 items that is 24,216 files of ~0.5–0.9 MB (about 12–20 GB
instead of 23 GB of 16-bit WAV or 46 GB of float32), read in O(1) by path by
any data loader and by any audio tool, written atomically one by one so a
crash loses nothing finished. A Parquet column would have to hold ~1 MB per
row and needs a row group per clip for random access, for no gain in size.

Splits (``split=``)
-------------------
* ``grouped`` (default): 80/10/10 per category, but all items of one source
  track in one split. The track is the item name up to its trailing
  ``segmentNN`` (:data:`DEFAULT_GROUP_PATTERN`, configurable).
* ``paper``: 80/10/10 per category at item level, sizes by largest
  remainder per category (the published construction is undocumented; on the
  published class sizes this lands within two items of every published size).
* ``from-csv``: the published ``set`` column as is (``validation`` is named
  ``val`` here, like every split of this toolkit).

Images are split per category in proportion to the audio of their category
(from-csv: their own ``set``), so every category × split cell has images for
its audio.

Pairing
-------
Each audio item gets one image of the same category and split, drawn once,
seeded per cell (:func:`synesthesia.stages.pairing.pair_within_cells`);
within a cell every image is used ``floor(a/i)`` or ``ceil(a/i)`` times. The
authors re-drew the image at every access; here the pairing is a table that
only changes with the seed (or the items).

A built Museart folder::

    DIR/
      dataset.json               dataset, media roots (images, audio, clips), config, categories
      images.parquet             schema.MUSEART_IMAGES   one row per valid image, with split
      audio.parquet              schema.MUSEART_AUDIO    one row per 30 s audio item, with split
      clips/<xx>/<audio_id>.flac the audio items: 16 kHz mono 16-bit, 30 s (480,000 samples)
      pairs.parquet              schema.MUSEART_PAIRS    (audio_id, image_id, category, split)
      pairs/<split>/part-*.parquet  schema.MUSEART_PAIR_ROWS  the pairs of a split, with paths
      quarantine.parquet         schema.QUARANTINE       every rejected input and why
      report.md                  counts per category and split, leakage per split mode, pairing
      README.md                  dataset card (YAML configs → pairs/<split>/*.parquet)
      _work/                     shard parts of the ingest and clip stages (re-runs resume)

Reading it (what Musipainter training uses): :func:`synesthesia.datasets.readers.museart.read_pairs` gives the
pairs of a split with absolute ``audio_path`` / ``image_path`` and a
``category_index``; :class:`MuseartPairs` is a map-style dataset yielding
``{"audio": float32[480000] at 16 kHz, "image": PIL RGB image, "category",
"category_index", "audio_id", "image_id"}`` (plain RGB: the authors' loader
swapped R and B).

The recipe, in the order a build runs it (``flows/museart.py``): :func:`ingest`
→ :func:`clip_files` → :func:`split_and_pair` → :func:`write_dataset` →
:func:`write_report_and_card`.
"""

from synesthesia.recipes.museart.build import (
    Ingested,
    Paired,
    assemble_audio,
    assemble_images,
    assign_splits,
    audio_splits,
    clip_files,
    ingest,
    leakage,
    leakage_by_mode,
    pair_items,
    pair_rows,
    split_and_pair,
    split_proportions,
    unsplit_rows,
    write_dataset,
    write_pair_shards,
)
from synesthesia.recipes.museart.config import (
    DATASET,
    DEFAULT_GROUP_PATTERN,
    DEFAULT_MIN_AUDIO_SECONDS,
    DEFAULT_SHARD_SIZE,
    INDEX_FILES,
    MUSEART_CLIP_SECONDS,
    PAIR_ROWS_PER_PART,
    PAPER_CATEGORIES,
    PUBLISHED_ITEMS,
    PUBLISHED_SPLIT_SIZES,
    SET_NAMES,
    SPLIT_MODES,
    MuseartConfig,
    canonical_category,
    config_dict,
    group_key,
    published_split,
)
from synesthesia.recipes.museart.inputs import index_items, read_index, scan_museart_source
from synesthesia.recipes.museart.report import card_sections, report_sections, write_report_and_card

__all__ = [
    "Ingested", "Paired", "assemble_audio", "assemble_images", "assign_splits", "audio_splits", "clip_files", "ingest", "leakage",
    "leakage_by_mode", "pair_items", "pair_rows", "split_and_pair", "split_proportions", "unsplit_rows", "write_dataset",
    "write_pair_shards", "DATASET", "DEFAULT_GROUP_PATTERN", "DEFAULT_MIN_AUDIO_SECONDS", "DEFAULT_SHARD_SIZE", "INDEX_FILES",
    "MUSEART_CLIP_SECONDS", "PAIR_ROWS_PER_PART", "PAPER_CATEGORIES", "PUBLISHED_ITEMS", "PUBLISHED_SPLIT_SIZES", "SET_NAMES",
    "SPLIT_MODES", "MuseartConfig", "canonical_category", "config_dict", "group_key", "published_split", "index_items",
    "read_index", "scan_museart_source", "card_sections", "report_sections", "write_report_and_card",
]
