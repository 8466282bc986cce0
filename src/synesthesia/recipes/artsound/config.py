"""ArtSound's configuration: the captioning phase (backends, scorers, the
regeneration loop) and the pairing phase (embedder, Table 5's approaches,
pairing method, splits), with the paper's numbers as named defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, ClipConfig, background_rgb
from synesthesia.stages.captioning import DEFAULT_FUSION_MODEL, DEFAULT_IMAGE_MODEL, FEATURES_MODEL, GeneratorConfig, SegmentCaptionerConfig
from synesthesia.stages.captioning.loop import LoopConfig
from synesthesia.stages.captioning.steps import MIN_TRACK_SECONDS, SEGMENT_CLIP
from synesthesia.stages.embedding_store import EmbedConfig
from synesthesia.stages.greedy import DEFAULT_CANDIDATES, PAPER_AUDIO, GreedyConfig
from synesthesia.stages.matching import METHODS, MatchConfig
from synesthesia.stages.optimal_pairing import DEFAULT_KNN
from synesthesia.stages.quality.image import ICSConfig
from synesthesia.stages.quality.text import ACSConfig

#: Files (ingest), tracks or artworks per captioning shard.
DEFAULT_SHARD_SIZE = 100

DATASET = "artsound"
CAPTIONERS = ("vllm", "openai", "transformers", "features")


@dataclass(frozen=True)
class ArtSoundConfig:
    """Everything that decides the captions of an ArtSound build."""

    image_captioner: GeneratorConfig = GeneratorConfig("features", FEATURES_MODEL)
    fusion: GeneratorConfig = GeneratorConfig("features", FEATURES_MODEL)
    segments: SegmentCaptionerConfig = SegmentCaptionerConfig("features")
    ics: ICSConfig = field(default_factory=ICSConfig)
    acs: ACSConfig = field(default_factory=ACSConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    segment_clip: ClipConfig = SEGMENT_CLIP
    min_track_seconds: float = MIN_TRACK_SECONDS
    seed: int = 0
    #: Transparent pixels are composited onto this colour for the captioner,
    #: the scorers and (through dataset.json) the pairing embedders and readers.
    alpha_background: str = DEFAULT_ALPHA_BACKGROUND

    def __post_init__(self):
        background_rgb(self.alpha_background)  # a clear error for a bad colour


def make_config(
    captioner: str = "features",
    *,
    image_model: str | None = None,
    fusion_model: str | None = None,
    segment_captioner: str | None = None,
    lpmusiccaps_checkpoint: str | None = None,
    bart_tokenizer: str | None = None,
    engine: dict | None = None,
    runtime: dict | None = None,
    image_engine: dict | None = None,
    fusion_engine: dict | None = None,
    image_runtime: dict | None = None,
    fusion_runtime: dict | None = None,
    ics: ICSConfig = ICSConfig(),
    acs: ACSConfig = ACSConfig(),
    loop: LoopConfig = LoopConfig(),
    seed: int = 0,
    alpha_background: str = DEFAULT_ALPHA_BACKGROUND,
) -> ArtSoundConfig:
    """The config behind ``synesthesia build artsound``: one backend for the
    image captions and the fusion (``captioner``), the paper's models by
    default, and LP-MusicCaps for segments unless the captioner is
    ``features`` (then the features segment captioner too).

    ``engine``/``runtime`` options apply to both models; ``image_*`` and
    ``fusion_*`` override them for one model: two vLLM engines in one process
    need their own ``gpu_memory_utilization``, and an OpenAI-compatible server
    (``vllm serve``) serves one model, so each model may have its ``base_url``."""
    if captioner not in CAPTIONERS:
        raise ValueError(f"captioner must be one of {CAPTIONERS}")

    def merged(shared: dict | None, own: dict | None) -> tuple:
        return tuple(sorted({**(shared or {}), **(own or {})}.items()))

    if captioner == "features":
        image = fusion = GeneratorConfig("features", FEATURES_MODEL)
    else:
        image = GeneratorConfig(captioner, image_model or DEFAULT_IMAGE_MODEL, engine=merged(engine, image_engine),
                                runtime=merged(runtime, image_runtime), seed=seed)
        fusion = GeneratorConfig(captioner, fusion_model or DEFAULT_FUSION_MODEL, engine=merged(engine, fusion_engine),
                                 runtime=merged(runtime, fusion_runtime), seed=seed, max_tokens=512)
    segments_backend = segment_captioner or ("features" if captioner == "features" else "lpmusiccaps")
    segments = SegmentCaptionerConfig(segments_backend, lpmusiccaps_checkpoint, bart_tokenizer)
    return ArtSoundConfig(image, fusion, segments, ics, acs, loop, seed=seed, alpha_background=alpha_background)


# --- pairing phase ---------------------------------------------------------------------

@dataclass(frozen=True)
class Approach:
    name: str
    label: str  # as in Table 5
    image_view: str  # "raw" = the artwork image, "caption" = its kept caption
    audio_view: str


#: Table 5's four pairing approaches.
APPROACHES: dict[str, Approach] = {
    a.name: a
    for a in (
        Approach("image-audio", "Image–Audio", "raw", "raw"),
        Approach("image-audiocaption", "Image–Audio Caption", "raw", "caption"),
        Approach("imagecaption-audio", "Image Caption–Audio", "caption", "raw"),
        Approach("caption-caption", "Image Caption–Audio Caption", "caption", "caption"),
    )
}

#: The paper's choices: ImageBind embeddings, the Image–Audio approach, greedy.
PAPER_EMBEDDER = "imagebind"
PAPER_APPROACH = "image-audio"
PAPER_METHOD = "greedy"
#: Section 5.2: 90/10 train/test stratified by artistic style; 100 validation artworks from the test split.
TRAIN_FRACTION = 0.9
VAL_SIZE = 100
#: ArtSound's size in the paper: every one of its PAPER_AUDIO (105,884) audio
#: items paired with one of PAPER_ARTWORKS (116,475) artworks.
PAPER_PAIRS = PAPER_AUDIO
#: Table 5 as published (ImageBind, 105,884 audio items): min, max, mean, std.
PAPER_TABLE5: dict[str, tuple[float, float, float, float]] = {
    "image-audio": (-0.0216, 0.5518, 0.1864, 0.0697),
    "image-audiocaption": (-0.0676, 0.4482, 0.0644, 0.0970),
    "imagecaption-audio": (-0.1011, 0.1794, 0.0658, 0.0344),
    "caption-caption": (0.0699, 1.0000, 0.7081, 0.3613),
}

MODALITY_TABLE = {"image": "artworks.parquet", "audio": "tracks.parquet"}
CAPTION_TABLE = {"image": "image_captions.parquet", "audio": "audio_captions.parquet"}
ID_COLUMN = {"image": "image_id", "audio": "audio_id"}
MEDIA_ROOT = {"image": "artworks", "audio": "music"}


@dataclass(frozen=True)
class ArtSoundPairingConfig:
    """Everything that decides the pairing phase's output (paper defaults)."""

    embedder: str = PAPER_EMBEDDER
    #: Embedder constructor options as (name, value) pairs, e.g. (("model_id", "/ckpt/clip"),).
    embedder_options: tuple[tuple[str, Any], ...] = ()
    #: Approaches computed for Table 5 / Figure 2 (those the embedder or the
    #: available captions cannot serve are skipped, with the reason reported).
    approaches: tuple[str, ...] = tuple(APPROACHES)
    #: The approach whose pairs become the dataset.
    approach: str = PAPER_APPROACH
    method: str = PAPER_METHOD
    #: Also run the other method on the final approach and report both.
    compare_methods: bool = True
    knn_k: int = DEFAULT_KNN
    candidates: int = DEFAULT_CANDIDATES
    #: Audio whose best available image is below this stays unpaired (None: off, as in the paper).
    min_similarity: float | None = None
    #: Torch device for the pairing's similarity passes (e.g. "cuda"); None:
    #: numpy on the CPU. The pairs do not depend on it (not part of the cache key).
    pairing_device: str | None = None
    train_fraction: float = TRAIN_FRACTION
    val_size: int = VAL_SIZE
    seed: int = 0
    embed_batch_size: int = 16
    shard_size: int = 256
    #: Figure 5 draws every artistic style; a number keeps only that many of
    #: the most frequent and merges the rest into "other" (opt-in).
    figure_max_styles: int | None = None

    def __post_init__(self):
        unknown = [a for a in (*self.approaches, self.approach) if a not in APPROACHES]
        if unknown:
            raise ValueError(f"unknown approach(es) {unknown}; choose from {list(APPROACHES)}")
        if self.method not in METHODS:
            raise ValueError(f"unknown pairing method {self.method!r}; choose from {METHODS}")
        if not 0 < self.train_fraction < 1:
            raise ValueError("train_fraction must be in (0, 1)")
        if self.val_size < 0 or self.shard_size < 1:
            raise ValueError("val_size must be >= 0 and shard_size >= 1")
        if self.figure_max_styles is not None and self.figure_max_styles < 1:
            raise ValueError("figure_max_styles must be >= 1 (or None: every style)")

    @property
    def embed(self) -> EmbedConfig:
        return EmbedConfig(self.embedder, tuple(self.embedder_options), self.embed_batch_size)

    def match(self, method: str | None = None) -> MatchConfig:
        return MatchConfig(method or self.method, GreedyConfig(candidates=self.candidates, min_similarity=self.min_similarity), self.knn_k)


def config_dict(config: ArtSoundPairingConfig) -> dict:
    return dataclasses.asdict(config)
