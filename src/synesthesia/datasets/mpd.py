"""MPD (MPJudge paper): table assembly, layout of a built folder, report.

A built MPD folder::

    DIR/
      dataset.json        which dataset, media roots, build config
      paintings.parquet   schema.MPD_PAINTINGS   (one row per valid painting, with split)
      tracks.parquet      schema.MPD_TRACKS      (one row per valid track, with split)
      clips.parquet       schema.CLIPS           (15 s clips; split of their track)
      mels/part-*.parquet schema.mels_schema     (128 x 469 log-mel per clip, float16)
      pairs.parquet       schema.MPD_PAIRS
      quarantine.parquet  schema.QUARANTINE
      report.md
      _work/              shard parts of the ingest stages (kept so re-runs resume)

    and, as annotation proceeds (datasets/mpd_annotation.py):

      assignments.parquet, clip_files.parquet, clips/, labelstudio/           phase 1
      ratings.parquet, scores.parquet, unscored.parquet, rater_stats.parquet,
      agreement.json, preference_tasks.parquet, preference_assignments.parquet phase 2
      preference_votes.parquet, preference_pairs.parquet, hf/, README.md      phase 3
      annotation_rejects.parquet, figures/
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.mpd_annotation import MPDAnnotationConfig
from synesthesia.pipelines import report as R
from synesthesia.pipelines.audio import ClipConfig, MelConfig
from synesthesia.pipelines.pairing import MPD_DEFAULT_PAIRS
from synesthesia.pipelines.splits import DEFAULT_FRACTIONS, stratified_split

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
    #: raters, aggregation, preference tasks, consensus (see datasets/mpd_annotation.py)
    annotation: MPDAnnotationConfig = field(default_factory=MPDAnnotationConfig)

    def __post_init__(self):
        if self.split_mode not in SPLIT_MODES:
            raise ValueError(f"split_mode must be one of {SPLIT_MODES}")
        if self.n_pairs < 0:
            raise ValueError("n_pairs must be >= 0")


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


def report_sections(out: Path, summary: dict) -> list[str]:
    """The data-path sections of ``report.md`` (ingest, clips, pairs)."""
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS)
    tracks = dio.read_table(out / "tracks.parquet", S.MPD_TRACKS)
    clips = dio.read_table(out / "clips.parquet", S.CLIPS)
    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
    quarantine = dio.read_table(out / "quarantine.parquet", S.QUARANTINE)
    cfg = summary["config"]
    splits = ["train", "val", "test"]
    sections = [
        "## Counts per stage\n\n"
        + R.md_table(
            ["stage", "count"],
            [
                ("painting files found", summary["paintings_found"]),
                ("valid paintings (after dedup)", paintings.num_rows),
                ("music files found", summary["music_found"]),
                ("valid tracks (after dedup)", tracks.num_rows),
                (f"{cfg['clip']['clip_seconds']:g} s clips", clips.num_rows),
                ("mel spectrograms", summary["mels"]),
                ("pairs requested", cfg["n_pairs"]),
                ("pairs drawn", pairs.num_rows),
                ("rejected inputs", quarantine.num_rows),
            ],
        ),
        "## Quarantine\n\n" + R.quarantine_section(quarantine),
        "## Paintings by style and split\n\n" + R.crosstab(paintings.column("style").to_pylist(), paintings.column("split").to_pylist(), "style", splits)
        if cfg["split_mode"] == "items"
        else "## Paintings by style\n\n" + R.counts_table(paintings.column("style").to_pylist(), "style"),
        "## Tracks by genre and split\n\n" + R.crosstab(tracks.column("genre").to_pylist(), tracks.column("split").to_pylist(), "genre", splits)
        if cfg["split_mode"] == "items"
        else "## Tracks by genre\n\n" + R.counts_table(tracks.column("genre").to_pylist(), "genre"),
        _pairs_section(summary["pairs"], cfg),
    ]
    return sections


def _pairs_section(pairs_summary: dict, cfg: dict) -> str:
    rows = []
    for split, s in pairs_summary["splits"].items():
        rows.append((split, s.get("paintings", "-"), s.get("clips", "-"), s.get("target", s["drawn"]), s["possible"], s["drawn"]))
    mode = (
        "Paintings and tracks were split first (stratified by style / genre); pairs are drawn within each split, "
        "so no painting or clip appears in two splits."
        if cfg["split_mode"] == "items"
        else "One balanced random draw over all paintings and clips; each pair was then given a split at random "
        "(a painting or clip may appear in several splits)."
    )
    return (
        f"## Random pairs\n\n{mode} Every painting and every clip is used as evenly as possible "
        f"(within each draw, usage differs by at most one). Seed {cfg['seed']}.\n\n"
        + R.md_table(["split", "paintings", "clips", "target pairs", "possible pairs", "drawn"], rows)
    )
