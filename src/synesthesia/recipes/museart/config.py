"""Museart's build configuration, the paper's constants and category names."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Mapping

from synesthesia.datasets.keys import DEFAULT_FRACTIONS
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, ClipConfig, background_rgb
from synesthesia.stages.ingest import folder_key

#: Files per ingest shard and tracks per clip-file shard.
DEFAULT_SHARD_SIZE = 200

DATASET = "museart"

#: Musipainter paper, Table 5 (in its order): the 18 Museart categories.
PAPER_CATEGORIES: tuple[str, ...] = (
    "Renaissance symbolism",
    "Baroque Classical symbolism",
    "Electronic music",
    "Renaissance secular subject",
    "20th century abstractionism",
    "Romanticism open view",
    "Heavy metal",
    "African traditional folklore",
    "20th century experimental open view",
    "20th century traditional open view",
    "20th century experimental figure",
    "Asian traditional folklore",
    "Romanticism figure",
    "American traditional folklore",
    "European traditional folklore",
    "Modern instrumental music",
    "Baroque Classical secular subject",
    "20th century traditional figure",
)
#: Section 3.1: "24216 potential music–image pairs".
PUBLISHED_ITEMS = 24_216
#: Section 3.1: training, validation and test sets of 19366, 2425 and 2425.
PUBLISHED_SPLIT_SIZES: Mapping[str, int] = {"train": 19_366, "val": 2_425, "test": 2_425}
#: Section 3.1: "The audio files inside Museart are 30 s long".
MUSEART_CLIP_SECONDS = 30.0
#: Shorter files are zero-padded to 30 s only if they hold at least this much
#: signal (half a clip); shorter ones are quarantined. Our choice.
DEFAULT_MIN_AUDIO_SECONDS = 15.0
#: Published audio ids are ``<track>segmentNN``: the source track is the name
#: up to the last ``segment`` + digits. Names that do not match are their own group.
DEFAULT_GROUP_PATTERN = r"^(.*)segment\d+$"
SPLIT_MODES = ("grouped", "paper", "from-csv")
INDEX_FILES: Mapping[str, str] = {"image": "images.csv", "audio": "audio.csv"}
#: Published ``set`` values → our split names.
SET_NAMES: Mapping[str, str] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}
#: Rows per part file of ``pairs/<split>/``.
PAIR_ROWS_PER_PART = 10_000


@dataclass(frozen=True)
class MuseartConfig:
    """Everything that decides the content of a Museart build."""

    split: str = "grouped"
    seed: int = 0
    fractions: tuple[tuple[str, float], ...] = tuple(DEFAULT_FRACTIONS.items())
    #: Regex over an audio item's name; its first group is the source track.
    group_pattern: str = DEFAULT_GROUP_PATTERN
    #: "pad": files shorter than 30 s with >= min_audio_seconds are zero-padded; "drop": quarantined.
    short_audio: str = "pad"
    min_audio_seconds: float = DEFAULT_MIN_AUDIO_SECONDS
    #: "flac" (lossless, ~half the size) or "wav".
    clip_format: str = "flac"
    clip_seconds: float = MUSEART_CLIP_SECONDS
    #: Transparent pixels are composited onto this colour by the reader (datasets.media.to_rgb).
    alpha_background: str = DEFAULT_ALPHA_BACKGROUND

    def __post_init__(self):
        background_rgb(self.alpha_background)  # a clear error for a bad colour
        if self.split not in SPLIT_MODES:
            raise ValueError(f"split must be one of {SPLIT_MODES}, not {self.split!r}")
        if self.short_audio not in ("pad", "drop"):
            raise ValueError("short_audio must be 'pad' or 'drop'")
        if self.clip_format not in ("flac", "wav"):
            raise ValueError("clip_format must be 'flac' or 'wav'")
        if not 0 < self.min_audio_seconds <= self.clip_seconds:
            raise ValueError("min_audio_seconds must be in (0, clip_seconds]")
        try:
            groups = re.compile(self.group_pattern).groups
        except re.error as exc:
            raise ValueError(f"group_pattern is not a valid regex: {exc}") from None
        if groups < 1:
            raise ValueError("group_pattern needs a capture group (the source track)")

    @property
    def clip(self) -> ClipConfig:
        return ClipConfig(clip_seconds=self.clip_seconds, short_track=self.short_audio, tail="drop")

    @property
    def ingest_min_seconds(self) -> float:
        return self.clip_seconds if self.short_audio == "drop" else self.min_audio_seconds


def config_dict(config: MuseartConfig) -> dict:
    d = dataclasses.asdict(config)
    d["sample_rate"] = config.clip.sample_rate
    return d


_PAPER_KEYS = {folder_key(c): c for c in PAPER_CATEGORIES}


def canonical_category(label: str) -> str:
    """The paper's spelling of a category, or the label itself (stripped)."""
    label = str(label).strip()
    return _PAPER_KEYS.get(folder_key(label), label)


def group_key(name: str, pattern: str = DEFAULT_GROUP_PATTERN) -> str:
    """The source track of an item name (the whole name when it does not match)."""
    m = re.match(pattern, name)
    return m.group(1) if m and m.group(1) else name


def published_split(value: object) -> str | None:
    return SET_NAMES.get(str(value or "").strip().lower())
