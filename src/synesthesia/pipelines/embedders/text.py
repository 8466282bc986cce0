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

from synesthesia.pipelines.embedding import l2_normalize

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip())]
    return [p for p in parts if p]


def sentence_windows(text: str, count_tokens: Callable[[str], int], max_tokens: int) -> list[str]:
    """Pack consecutive sentences of ``text`` into windows of at most
    ``max_tokens`` tokens (as counted by ``count_tokens``, without special
    tokens). Never returns an empty list (an empty text is one empty window).

    Token counts are taken per sentence (per word inside an over-long
    sentence) and added up: both encoders split on whitespace before their
    sub-word step, so the count of a concatenation is the sum of the counts."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    pieces: list[tuple[str, int]] = []
    for sentence in sentences(text):
        n = count_tokens(sentence)
        if n <= max_tokens:
            pieces.append((sentence, n))
            continue
        # An over-long sentence: cut at word boundaries (a single word longer
        # than a window is left to the encoder's truncation).
        words: list[str] = []
        used = 0
        for word in sentence.split():
            k = count_tokens(word)
            if words and used + k > max_tokens:
                pieces.append((" ".join(words), used))
                words, used = [], 0
            words.append(word)
            used += k
        if words:
            pieces.append((" ".join(words), used))
    windows: list[list] = []
    for piece, n in pieces:
        if windows and windows[-1][1] + n <= max_tokens:
            windows[-1][0] += " " + piece
            windows[-1][1] += n
        else:
            windows.append([piece, n])
    return [w for w, _ in windows] or [text.strip()]


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
