"""MPD's build configuration and the layout of a built folder.

A built MPD folder::

    DIR/
      dataset.json        which dataset, media roots, build config
      paintings.parquet   schema.MPD_PAINTINGS   (one row per valid painting, with split)
      tracks.parquet      schema.MPD_TRACKS      (one row per valid track, with split)
      clips.parquet       schema.CLIPS           (15 s clips; split of their track)
      mels/part-*.parquet schema.mels_schema     (128 x 469 log-mel per clip, float16)
      pairs.parquet       schema.MPD_PAIRS
      clips/, clip_files.parquet  listening copies of the paired clips (made with the mels, one decode per track)
      quarantine.parquet  schema.QUARANTINE
      report.md
      _work/              shard parts of the ingest stages (kept so re-runs resume)

    and, as annotation proceeds (recipes/mpd/annotation.py):

      assignments.parquet, labelstudio/ (media/: what raters see)             phase 1
      ratings.parquet, scores.parquet, unscored.parquet, rater_stats.parquet,
      agreement.json, preference_tasks.parquet, preference_assignments.parquet phase 2
      preference_votes.parquet, preference_pairs.parquet, hf/, README.md      phase 3
      annotation_rejects.parquet, figures/
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from synesthesia.annotation.aggregate import AggregationConfig
from synesthesia.annotation.agreement import DEFAULT_BOOTSTRAP
from synesthesia.annotation.assign import MPD_RATER_POOL, MPD_RATERS_PER_PAIR, MPD_RATERS_PER_PREFERENCE_TASK
from synesthesia.annotation.preferences import MPD_PREFERENCE_TASKS, ConsensusConfig
from synesthesia.annotation.quality import QCConfig, flagged_raters
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import DEFAULT_FRACTIONS
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, ClipConfig, MelConfig, background_rgb
from synesthesia.stages.clip_files import CLIP_FORMATS
from synesthesia.stages.pairing import MPD_DEFAULT_PAIRS

#: Files per ingest shard and tracks per mel / clip-file shard.
DEFAULT_SHARD_SIZE = 200
#: The data-path summary of the last build (the report needs it when only the annotation phases run).
BUILD_SUMMARY = "_work/build-summary.json"

# --- layout ----------------------------------------------------------------------

ASSIGNMENTS = "assignments.parquet"
#: Listening copies of the clips for raters (schema.CLIP_FILES; paths relative to CLIP_MEDIA_DIR).
CLIP_MEDIA = "clip_files.parquet"
CLIP_MEDIA_DIR = "clips"
#: FLAC: lossless, plays in every current browser, fast to encode.
DEFAULT_FORMAT = "flac"
RATINGS_FILE = "ratings.parquet"
SCORES = "scores.parquet"
UNSCORED = "unscored.parquet"
RATER_STATS = "rater_stats.parquet"
AGREEMENT = "agreement.json"
PREFERENCE_TASKS_FILE = "preference_tasks.parquet"
PREFERENCE_ASSIGNMENTS = "preference_assignments.parquet"
PREFERENCE_VOTES = "preference_votes.parquet"
PREFERENCE_PAIRS = "preference_pairs.parquet"
REJECTS = "annotation_rejects.parquet"
#: Quality control (annotation.quality): gold items, each rater's queue, the
#: checks in the queues and the answers to them.
GOLD = "qc_gold.parquet"
QUEUES = "queues.parquet"
QC_TASKS = "qc_tasks.parquet"
QC_ANSWERS = "qc_answers.parquet"
LABELSTUDIO = "labelstudio"
IMPORT_LOG = "labelstudio/imports.json"
#: SHA-256 of the ratings / votes files the last `annotate run` used, so
#: `status` can tell imported-but-not-yet-processed annotations apart.
PROCESSED = "labelstudio/processed.json"
PROJECTS = "labelstudio/projects.json"
#: Where the Label Studio of `annotate serve` keeps its state, and its URL (no secrets).
SERVER_POINTER = "labelstudio/server.json"
#: The one folder Label Studio serves media from (its document root): links to
#: the dataset's paintings and listening copies, nothing else (labelstudio.served_media).
SERVED_MEDIA = "labelstudio/media"
FIGURES = "figures"

WAITING_FOR_RATINGS = "waiting for ratings"
WAITING_FOR_VOTES = "waiting for preference votes"
WAITING_FOR_MORE_VOTES = "consensus written, waiting for more preference votes"
COMPLETE = "complete"
WAITING_FOR_RUN = "imported, waiting for annotate run"


@dataclass(frozen=True)
class MPDAnnotationConfig:
    """Annotation settings of an MPD build (paper defaults)."""

    rater_pool: int = MPD_RATER_POOL
    raters_per_pair: int = MPD_RATERS_PER_PAIR
    raters_per_preference_task: int = MPD_RATERS_PER_PREFERENCE_TASK
    aggregation: AggregationConfig = field(default_factory=AggregationConfig)
    n_boot: int = DEFAULT_BOOTSTRAP
    preference_tasks: int = MPD_PREFERENCE_TASKS
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    clip_media_format: str = DEFAULT_FORMAT
    #: gold / repeat shares of the rater queues and the flag rule (annotation.quality)
    qc: QCConfig = field(default_factory=QCConfig)
    #: leave flagged raters out of scores, alpha and consensus (`annotate run --exclude-flagged`)
    exclude_flagged: bool = False

    def __post_init__(self):
        if not 1 <= self.raters_per_pair <= self.rater_pool:
            raise ValueError("need 1 <= raters_per_pair <= rater_pool")
        if not 1 <= self.raters_per_preference_task <= self.rater_pool:
            raise ValueError("need 1 <= raters_per_preference_task <= rater_pool")
        if self.n_boot < 0:
            raise ValueError("n_boot must be >= 0 (0: no bootstrap interval)")
        if self.clip_media_format not in CLIP_FORMATS:
            raise ValueError(f"clip_media_format must be one of {sorted(CLIP_FORMATS)}")

    @classmethod
    def from_dict(cls, d: dict | None) -> "MPDAnnotationConfig":
        """Rebuild from ``dataclasses.asdict`` output (as stored in dataset.json)."""
        if not d:
            return cls()
        d = dict(d)
        agg = dict(d.pop("aggregation", {}) or {})
        for key in ("band", "sigma_thresholds"):
            if key in agg:
                agg[key] = tuple(agg[key])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(
            aggregation=AggregationConfig(**agg),
            consensus=ConsensusConfig(**(d.pop("consensus", {}) or {})),
            qc=QCConfig(**(d.pop("qc", {}) or {})),
            **{k: v for k, v in d.items() if k in known},
        )


def annotation_config(out: str | os.PathLike) -> tuple[MPDAnnotationConfig, int]:
    """The annotation config and seed recorded in ``dataset.json``."""
    cfg = dio.read_manifest(out).get("config", {})
    return MPDAnnotationConfig.from_dict(cfg.get("annotation")), int(cfg.get("seed", 0))


def set_exclude_flagged(out: str | os.PathLike, exclude: bool) -> None:
    """Record in ``dataset.json`` whether flagged raters are left out (kept
    for every later run until changed again)."""
    manifest = dio.read_manifest(out)
    manifest.setdefault("config", {}).setdefault("annotation", {})["exclude_flagged"] = bool(exclude)
    dio.write_manifest(out, manifest)


def excluded_raters(out: Path) -> set[str]:
    """The raters the last scoring left out (``rater_stats.parquet``'s ``excluded``)."""
    return flagged_raters(read_optional(Path(out), RATER_STATS, S.MPD_RATER_STATS), only_excluded=True)


def used_votes(out: Path) -> pa.Table:
    """``preference_votes.parquet`` without the votes of excluded raters (what consensus counts)."""
    from synesthesia.annotation.quality import without_raters

    return without_raters(dio.read_table(Path(out) / PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES), excluded_raters(out))


DATASET = "mpd"
SPLIT_MODES = ("items", "pairs")


@dataclass(frozen=True)
class MPDConfig:
    """Everything that decides the content of an MPD build (paper defaults)."""

    n_pairs: int = MPD_DEFAULT_PAIRS
    seed: int = 0
    #: "items": paintings and tracks are split first, pairs drawn within a split
    #: (no painting or clip in two splits). "pairs": pair-level split.
    split_mode: str = "items"
    fractions: tuple[tuple[str, float], ...] = tuple(DEFAULT_FRACTIONS.items())
    clip: ClipConfig = field(default_factory=ClipConfig)
    mel: MelConfig = field(default_factory=MelConfig)
    #: raters, aggregation, preference tasks, consensus (see recipes/mpd/annotation.py)
    annotation: MPDAnnotationConfig = field(default_factory=MPDAnnotationConfig)
    #: Transparent pixels are composited onto this colour wherever pixels are
    #: used: the model's reader, and the copies raters see (datasets.media.to_rgb).
    alpha_background: str = DEFAULT_ALPHA_BACKGROUND

    def __post_init__(self):
        background_rgb(self.alpha_background)  # a clear error for a bad colour
        if self.split_mode not in SPLIT_MODES:
            raise ValueError(f"split_mode must be one of {SPLIT_MODES}")
        if self.n_pairs < 0:
            raise ValueError("n_pairs must be >= 0")


class NotAnMPDFolder(FileNotFoundError):
    """The folder an annotation command was given is not a built MPD folder."""


def require_mpd_folder(out: str | os.PathLike) -> Path:
    """``out`` if it is a built MPD folder; otherwise one sentence saying what
    it is (another dataset's folder, a folder still being built, not a
    dataset) and what to give instead."""
    out = Path(out)
    manifest = out / dio.MANIFEST
    if not manifest.is_file():
        raise NotAnMPDFolder(f"{out}: not an MPD folder (no {dio.MANIFEST}); give the folder `synesthesia build mpd` wrote")
    dataset = dio.read_manifest(out).get("dataset")
    if dataset != DATASET:
        raise NotAnMPDFolder(f"{out}: its {dio.MANIFEST} says {dataset!r}: not an MPD folder; annotation commands work on the folder `synesthesia build mpd` wrote")
    if not (out / "pairs.parquet").is_file():
        raise NotAnMPDFolder(f"{out}: an MPD folder without pairs.parquet (its build has not finished); run `synesthesia build mpd` first")
    return out


def read_optional(out: Path, name: str, schema: pa.Schema) -> pa.Table | None:
    """``out/name`` read with ``schema``, or None when the file does not exist."""
    path = out / name
    return dio.read_table(path, schema) if path.exists() else None
