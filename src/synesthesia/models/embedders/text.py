"""Long captions and short text windows.

CLIP reads 77 tokens and MiniLM 256; ArtSound captions run to ~950
characters, beyond CLIP's window. Instead of truncating, a caption is cut
into windows of whole sentences that each fit the encoder, every window is
embedded, and the caption's embedding is the normalised mean of its window
embeddings (equal weight per window). A single sentence longer than a
window is cut at word boundaries. Captions that fit are one window, i.e.
embedded as they are.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

from synesthesia.models.embedders import l2_normalize

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip())]
    return [p for p in parts if p]


def sentence_windows(text: str, count_tokens: Callable[[str], int], max_tokens: int) -> list[str]:
    """Pack consecutive sentences of ``text`` into windows of at most
    ``max_tokens`` tokens as counted by ``count_tokens`` (on the window's own
    text, so any prefix or special tokens the caller counts are respected).
    A sentence that does not fit alone is cut at word boundaries, a word that
    does not fit alone at characters. Joining the windows with spaces gives
    back the text's words in order. Never returns an empty list (an empty text
    is one empty window). The one windowing used by every text encoder here
    (CLIP, MiniLM, ImageBind) and by the CLIP-S/PAC-S scorers."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")

    def fits(t: str) -> bool:
        return count_tokens(t) <= max_tokens

    def pieces(sentence: str) -> list[str]:
        if fits(sentence):
            return [sentence]
        words = [chunk for word in sentence.split() for chunk in ([word] if fits(word) else _pack(list(word), fits, ""))]
        return _pack(words, fits, " ")

    return _pack([p for s in sentences(text) for p in pieces(s)], fits, " ") or [text.strip()]


def _pack(units: list[str], fits: Callable[[str], bool], sep: str) -> list[str]:
    """Greedily join consecutive units while the joined text still fits
    (every unit fits on its own)."""
    out, current = [], ""
    for unit in units:
        candidate = f"{current}{sep}{unit}" if current else unit
        if current and not fits(candidate):
            out.append(current)
            current = unit
        else:
            current = candidate
    return out + ([current] if current else [])


def embed_windowed(
    texts: Sequence[str],
    count_tokens: Callable[[str], int],
    max_tokens: int,
    encode: Callable[[list[str]], np.ndarray],
    batch_size: int = 32,
) -> np.ndarray:
    """Embed each text as the normalised mean of its window embeddings.
    ``encode`` maps a list of short texts to an ``[n, dim]`` array."""
    windows: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        for w in sentence_windows(text, count_tokens, max_tokens):
            windows.append(w)
            owner.append(i)
    if not windows:
        return np.zeros((0, 0), np.float32)
    chunks = [l2_normalize(encode(windows[s : s + batch_size])) for s in range(0, len(windows), batch_size)]
    vecs = np.concatenate(chunks)
    out = np.zeros((len(texts), vecs.shape[1]), np.float64)
    np.add.at(out, np.asarray(owner), vecs)
    return l2_normalize(out)


class WindowedTextEmbedding:
    """Mixin for transformers text encoders: token counting and
    :func:`embed_windowed` over the encoder's window. The class provides
    ``tokenizer``, ``max_tokens`` (the model's context, special tokens
    included), ``batch_size``, ``device`` and ``_encode(texts) -> [n, dim]``."""

    #: Context positions taken by special tokens ([CLS]/[SEP], start/end).
    special_tokens = 2

    def _count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _tokenize(self, texts: list[str]):
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt").to(self.device)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return embed_windowed(list(texts), self._count, self.max_tokens - self.special_tokens, self._encode, self.batch_size)
