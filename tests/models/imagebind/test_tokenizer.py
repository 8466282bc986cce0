"""The ImageBind text tokenizer: OpenAI CLIP's own, from the openai-clip
wheel (models/imagebind/tokenizer.py), with ImageBind's rows; ids pinned on
strings that exercise every cleaning step, and transformers' CLIPTokenizer
as an independent second implementation."""

from __future__ import annotations

import hashlib

import pytest

from synesthesia.models.imagebind.tokenizer import ClipTokenizer, find_bpe_file


@pytest.fixture(scope="module")
def tokenizer():
    return ClipTokenizer()


def test_vocabulary_is_the_one_imagebind_ships():
    # sha256 of imagebind/bpe/bpe_simple_vocab_16e6.txt.gz in facebookresearch/ImageBind
    digest = hashlib.sha256(find_bpe_file().read_bytes()).hexdigest()
    assert digest == "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"


def test_tokenizer_rows(tokenizer):
    # CLIP's well-known example: <|startoftext|> a photo of a cat <|endoftext|>
    assert tokenizer("a photo of a cat")[0, :8].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407, 0]
    assert len(tokenizer.encoder) == 49408
    empty = tokenizer("")[0]
    assert empty[:2].tolist() == [49406, 49407] and not empty[2:].any()
    long_text = "a sweeping orchestral piece with soft strings. " * 20
    row = tokenizer([long_text])[0]
    ids = tokenizer.encode(long_text)
    assert len(ids) > 75
    assert row[0] == 49406 and row[-1] == 49407 and row[1:76].tolist() == ids[:75]  # cut, end token kept
    assert tokenizer.encode("Rock &amp; Roll") == tokenizer.encode("rock & roll")  # HTML unescaped, lower-cased
    assert tokenizer.decode(tokenizer.encode("Café, naïve!")) == "café , naïve ! "


# Ids of strings that exercise every cleaning step (HTML entities unescaped
# twice, ftfy's mojibake and ligature fixes, Unicode whitespace, apostrophe
# suffixes, special-token text matched case-insensitively, ZWJ emoji). Recorded
# from the hand-written tokenizer this module replaced; it and the packaged one
# gave equal rows on these and on 3,000 random strings (ftfy 6.3).
TRICKY_IDS = {
    "Rock &amp;amp; Roll": [2172, 261, 3341],
    "&lt;b&gt;bold&lt;/b&gt;": [283, 321, 285, 8911, 34308, 321, 285],
    "\u00c3\u00a9t\u00c3\u00a9 mojibake": [3459, 39694, 617, 3252, 11878],
    "\ufb01 ligature \u00bd \u00b2 \u2167": [3589, 19915, 4490, 33613, 41175, 158, 227, 371],
    "nbsp\u00a0thin\u2009ideo\u3000sep\x1c\x1d\x1e\x1fend": [6459, 4393, 7847, 1909, 334, 3212, 806],
    "<|STARTOFTEXT|>": [49406],
    "don't STOP 'Ll 'S": [847, 713, 1691, 1342, 568],
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 family": [25023, 26304, 964, 356, 1315],
}


def test_tricky_strings_keep_their_ids(tokenizer):
    for text, ids in TRICKY_IDS.items():
        assert tokenizer.encode(text) == ids, repr(text)
        row = tokenizer([text])[0]
        assert row[: len(ids) + 2].tolist() == [49406, *ids, 49407] and not row[len(ids) + 2 :].any()


def test_tokenizer_is_openai_clips_own_without_its_package():
    # The encoder is OpenAI's simple_tokenizer.py from the openai-clip wheel,
    # run without the `clip` package (whose __init__ imports torchvision).
    import subprocess
    import sys

    code = (
        "import sys; from synesthesia.models.imagebind.tokenizer import ClipTokenizer, simple_tokenizer_module\n"
        "t = ClipTokenizer(); assert type(t.bpe) is simple_tokenizer_module().SimpleTokenizer\n"
        "assert simple_tokenizer_module().__file__.endswith('clip/simple_tokenizer.py')\n"
        "assert 'clip' not in sys.modules and 'torchvision' not in sys.modules, sorted(sys.modules)\n"
        "print(t.encode('a photo of a cat'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[320, 1125, 539, 320, 2368]"


def test_bpe_merges_agree_with_transformers_clip_tokenizer(tokenizer, tmp_path):
    # An independent implementation of the same BPE (transformers' port of
    # OpenAI's tokenizer) over the same vocabulary. It skips ftfy and HTML
    # unescaping, so the strings here need neither.
    import json

    from transformers import CLIPTokenizer

    ranks = tokenizer.bpe.bpe_ranks
    (tmp_path / "vocab.json").write_text(json.dumps(tokenizer.encoder))
    merges = [" ".join(pair) for pair in sorted(ranks, key=ranks.get)]
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    reference = CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    for text in [
        "a photo of a cat", "Hello,   World!  It's 2024 — café naïve", "supercalifragilisticexpialidocious",
        "Lo-fi hip hop beat, 85 BPM; mellow Rhodes & vinyl crackle.", "東京 😀 ümlaut", "tab\tnew\nline\r\ncr",
        "zero\u200bwidth\u200djoiner", "مرحبا بالعالم", "e\u0301 combining", "x" * 300, "don't STOP 'Ll 'S",
    ]:
        assert reference(text)["input_ids"] == [49406, *tokenizer.encode(text), 49407], text
