"""Embedders: one interface, chosen by name.

An embedder turns images, audio and/or text into L2-normalised float32
vectors (so cosine similarity is a dot product). Backends are looked up by
name in :data:`EMBEDDERS` and imported only when asked for, so a missing
optional dependency fails with a message for that backend alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from abc import ABC
from typing import Any, Sequence

import numpy as np

#: name -> "module:attribute" of a class deriving from :class:`Embedder`.
EMBEDDERS: dict[str, str] = {
    "imagebind": "synesthesia.models.embedders.imagebind:ImageBindEmbedder",
    "clip": "synesthesia.models.embedders.clip:CLIPEmbedder",
    "minilm-text": "synesthesia.models.embedders.minilm:MiniLMTextEmbedder",
}

MODALITIES = ("image", "audio", "text")


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


class Embedder(ABC):
    """Base class. Subclasses set ``name``, ``model_id``, ``dim`` and
    ``modalities`` and implement the ``embed_*`` methods they support; every
    method returns an ``[n, dim]`` float32 array with unit-norm rows."""

    name: str = ""
    model_id: str = ""
    dim: int = 0
    modalities: frozenset[str] = frozenset()
    #: The side, in pixels, the embedder resizes images to (None: it needs
    #: full-size pixels); callers decode JPEGs at reduced size for it.
    image_size: int | None = None

    @classmethod
    def preflight(cls, **options: Any) -> None:
        """Check, without loading any weights, that this embedder can start
        with ``options``: the option names, optional dependencies, local
        files. Raises ``RuntimeError`` / ``FileNotFoundError`` / ``TypeError``
        saying what to install or where to get the file. The base class checks
        the option names against the constructor; subclasses add their own."""
        check_option_names(cls.name or cls.__name__, options, parameter_names(cls.__init__))

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        raise NotImplementedError(f"{self.name} does not embed images")

    def embed_audio(self, waveforms: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
        raise NotImplementedError(f"{self.name} does not embed audio")

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError(f"{self.name} does not embed text")


def parameter_names(fn: Any, exclude: Sequence[str] = ("self",), forwarded: bool = False) -> set[str] | None:
    """Names ``fn`` accepts as keywords (``None``: it takes ``**kwargs``, so
    anything; with ``forwarded`` its ``**kwargs`` go on to another function
    that the caller checks, so only the named ones are returned)."""
    params = inspect.signature(fn).parameters.values()
    if not forwarded and any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in exclude}


def check_option_names(name: str, options: dict, accepted: set[str] | None) -> None:
    """``TypeError`` naming the options not in ``accepted`` (``None``: anything goes)."""
    unknown = sorted(set(options) - accepted) if accepted is not None else []
    if unknown:
        raise TypeError(f"embedder {name!r}: unknown option(s) {unknown}; it accepts {sorted(accepted)}")


def require_modules(name: str, modules: Sequence[str], install: str) -> None:
    """``RuntimeError`` when one of ``modules`` is not installed (checked
    without importing it)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(f"the {name} embedder needs {', '.join(missing)}, which is not installed: {install}")


def embedder_class(name: str) -> type[Embedder]:
    """The class registered as ``name`` (imported, not instantiated: its
    ``modalities`` can be checked before any weights are loaded)."""
    if name not in EMBEDDERS:
        raise KeyError(f"unknown embedder {name!r}; available: {sorted(EMBEDDERS)}")
    module, attr = EMBEDDERS[name].split(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        raise RuntimeError(f"embedder {name!r} is not available: {exc} (its module is {module})") from exc


def get_embedder(name: str, **options: Any) -> Embedder:
    """Instantiate the embedder registered as ``name``."""
    return embedder_class(name)(**options)
