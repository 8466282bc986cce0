"""ICS and ACS: ROUGE-1 / BERTScore with the real MiniLM offline, CLIP-S / PAC-S
math on a tiny random CLIP, PAC-S weights in the OpenAI-CLIP layout, long
captions, and missing weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from support.tiny_models import build_clip, hf_to_openai

from synesthesia.stages.captioning.loop import LoopItem
from synesthesia.stages.quality import MissingWeights
from synesthesia.stages.quality.image import (
    CLIP_S_WEIGHT,
    ICS_GAMMA,
    PAC_S_WEIGHT,
    TEXT_PREFIX,
    ICSConfig,
    ICSScorer,
    openai_clip_to_hf,
)
from synesthesia.models.embedders.text import sentence_windows
from synesthesia.stages.quality.text import ACS_ALPHA, PACKAGED_MINILM, ACSConfig, ACSScorer

SEGMENTS = (
    "This is a calm ambient piece with soft synth pads and a slow piano melody.",
    "The music is relaxing, with gentle strings and a quiet, dreamy atmosphere.",
)
PARAPHRASE = "A calm, relaxing ambient track with soft synth pads, a slow piano melody and gentle strings in a dreamy, quiet mood."
UNRELATED = "Aggressive heavy metal with distorted electric guitars, pounding double-kick drums and screamed vocals."


def test_paper_weights():
    assert (ICS_GAMMA, CLIP_S_WEIGHT, PAC_S_WEIGHT, ACS_ALPHA) == (0.35, 2.5, 2.0, 0.30)
    assert TEXT_PREFIX == "A photo depicts "


# --- ACS -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm_scorer():
    return ACSScorer(ACSConfig(bertscore_model=PACKAGED_MINILM))


def test_acs_prefers_a_paraphrase_over_an_unrelated_caption(minilm_scorer):
    items = [LoopItem("a", segments=SEGMENTS), LoopItem("b", segments=SEGMENTS)]
    good, bad = minilm_scorer.score(items, [PARAPHRASE, UNRELATED])
    assert good["rouge1"] > bad["rouge1"] and good["bertscore"] > bad["bertscore"] and good["acs"] > bad["acs"]
    for row in (good, bad):
        assert row["acs"] == pytest.approx(0.30 * row["rouge1"] + 0.70 * row["bertscore"])
        assert 0.0 <= row["rouge1"] <= 1.0 and 0.0 < row["bertscore"] <= 1.0
        assert row["n_segments"] == 2 and row["reference_mode"] == "concat" and row["score_note"] is None
    # the copy of the references scores (almost) perfectly
    same = minilm_scorer.score([items[0]], [" ".join(SEGMENTS)])[0]
    assert same["rouge1"] == pytest.approx(1.0) and same["bertscore"] == pytest.approx(1.0, abs=1e-4)


def test_reference_modes(minilm_scorer):
    """A caption that only restates the first segment: perfect under "max",
    penalised for the missing second segment under "concat" and "mean"."""
    first_only = SEGMENTS[0]
    refs = [SEGMENTS]
    concat = minilm_scorer.rouge1([first_only], refs)[0]
    maxed = ACSScorer.__new__(ACSScorer)
    maxed.__dict__.update(minilm_scorer.__dict__, config=ACSConfig(bertscore_model=PACKAGED_MINILM, reference_mode="max"))
    mean = ACSScorer.__new__(ACSScorer)
    mean.__dict__.update(minilm_scorer.__dict__, config=ACSConfig(bertscore_model=PACKAGED_MINILM, reference_mode="mean"))
    assert maxed.rouge1([first_only], refs)[0] == pytest.approx(1.0)
    assert concat < 0.8
    r_other = minilm_scorer._rouge.score(SEGMENTS[1], first_only)["rouge1"].fmeasure
    assert mean.rouge1([first_only], refs)[0] == pytest.approx((1.0 + r_other) / 2)
    assert maxed.bertscore([first_only], refs)[0] == pytest.approx(1.0, abs=1e-4)
    assert minilm_scorer.bertscore([first_only], refs)[0] < maxed.bertscore([first_only], refs)[0]


def test_acs_skip_and_missing_model():
    rows = ACSScorer(ACSConfig(skip=True)).score([LoopItem("a", segments=SEGMENTS)], [PARAPHRASE])
    assert rows[0]["acs"] is None and rows[0]["bertscore"] is None and "skipped" in rows[0]["score_note"]
    with pytest.raises(MissingWeights, match="--skip-acs"):
        ACSScorer(ACSConfig(bertscore_model="/nonexistent/bert", bertscore_layers=4))


# --- ICS -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    clip_dir = build_clip(root / "clip", seed=0)
    pac_dir = build_clip(root / "pac-source", seed=1)  # different weights, same architecture
    from transformers import CLIPModel

    pac_sd = CLIPModel.from_pretrained(pac_dir).state_dict()
    openai_layout = {f"module.{k}": v for k, v in hf_to_openai(pac_sd).items()}
    openai_layout["input_resolution"] = torch.tensor(32)
    torch.save({"state_dict": openai_layout, "epoch": 7}, root / "pac.pth")
    return {"clip": str(clip_dir), "pac": str(root / "pac.pth"), "pac_sd": pac_sd}


def test_openai_layout_maps_onto_transformers_clip(tiny_clip):
    sd = torch.load(tiny_clip["pac"], weights_only=True)["state_dict"]
    assert "transformer.resblocks.0.attn.in_proj_weight" in {k.removeprefix("module.") for k in sd}
    mapped = openai_clip_to_hf(sd)
    expected = {k: v for k, v in tiny_clip["pac_sd"].items() if not k.endswith("position_ids")}
    assert set(mapped) == set(expected)
    for k in expected:
        assert torch.equal(mapped[k], expected[k]), k


def test_ics_math_on_a_tiny_clip(tiny_clip, tiny_corpus):
    images = [str(next(Path(tiny_corpus["paintings"]).rglob(f"{s}_001.*"))) for s in ("geometric", "nocturne", "stripes")]
    captions = ["A red and blue painting.", "A dark night sky with a moon.", "Stripes of colour."]
    scorer = ICSScorer(ICSConfig(clip_model=tiny_clip["clip"], pac_weights=tiny_clip["pac"]))
    rows = scorer.score([LoopItem(str(i), image_path=p) for i, p in enumerate(images)], captions)
    # the scores recomputed by hand from the same models
    for name, encoder, w in (("clip", scorer.clip, 2.5), ("pac", scorer.pac, 2.0)):
        img = encoder.embed_images(images, 8)
        txt = encoder.embed_texts([TEXT_PREFIX + c for c in captions], 8, truncate=False)
        cos = (img * txt).sum(axis=1)
        for row, c in zip(rows, cos):
            assert row[f"{name}_cos"] == pytest.approx(float(c), abs=1e-5)
            assert row[f"{name}_score"] == pytest.approx(w * max(float(c), 0.0), abs=1e-5)
            assert row[f"{name}_norm"] == pytest.approx(min(w * max(float(c), 0.0), 1.0), abs=1e-5)
    for row in rows:
        assert row["ics"] == pytest.approx(0.35 * row["clip_norm"] + 0.65 * row["pac_norm"])
        assert row["text_windows"] == 1 and row["score_note"] is None
    # PAC-S really uses the PAC weights: a different model, different cosines
    assert [r["clip_cos"] for r in rows] != pytest.approx([r["pac_cos"] for r in rows])
    for name, param in scorer.pac.model.state_dict().items():
        if name in tiny_clip["pac_sd"] and not name.endswith("position_ids"):
            assert torch.equal(param, tiny_clip["pac_sd"][name]), name


def test_score_scaling_and_clipping():
    from synesthesia.stages.quality.image import ics, normalised, scaled

    assert scaled(-0.3, 2.5) == 0.0
    assert scaled(0.3, 2.5) == pytest.approx(0.75)
    assert normalised(scaled(0.5, 2.5)) == 1.0 and normalised(scaled(0.5, 2.5), "none") == pytest.approx(1.25)
    assert ics(1.0, 0.5) == pytest.approx(0.35 + 0.325)


def test_long_captions_are_scored_over_sentence_windows(tiny_clip, tiny_corpus):
    image = str(next(Path(tiny_corpus["paintings"]).rglob("pointillist_001.*")))
    sentences = [f"The painting shows {w} shapes and {w} light with calm colours and soft lines in the {w} style." for w in ("red", "blue", "green", "yellow", "dark", "bright", "warm", "cool")]
    caption = " ".join(sentences)
    scorer = ICSScorer(ICSConfig(clip_model=tiny_clip["clip"], skip_pac=True))
    enc = scorer.clip
    assert enc.n_tokens(TEXT_PREFIX + caption) > 77  # would be truncated
    windows = scorer.windows(caption, enc)
    assert len(windows) > 1
    assert all(enc.n_tokens(TEXT_PREFIX + w) <= 77 for w in windows)
    assert " ".join(windows).split() == caption.split()  # nothing dropped, order kept
    assert all(w.endswith(".") for w in windows)  # whole sentences
    row = scorer.score([LoopItem("x", image_path=image)], [caption])[0]
    img = enc.embed_images([image], 4)[0]
    per_window = enc.embed_texts([TEXT_PREFIX + w for w in windows], 8, truncate=False) @ img
    assert row["clip_cos"] == pytest.approx(float(per_window.mean()), abs=1e-5)
    assert row["text_windows"] == len(windows)
    truncated = ICSScorer(ICSConfig(clip_model=tiny_clip["clip"], skip_pac=True, long_text="truncate")).score([LoopItem("x", image_path=image)], [caption])[0]
    assert truncated["text_windows"] == 1 and truncated["clip_cos"] != pytest.approx(row["clip_cos"], abs=1e-6)
    # PAC skipped: null with the reason, and no ICS
    assert row["pac_cos"] is None and row["ics"] is None and "PAC-S skipped" in row["score_note"]


def test_sentence_windows_split_an_overlong_sentence_at_words():
    words = lambda t: len(t.split())  # noqa: E731
    assert sentence_windows("a b. c d e f g h i. j.", words, 4) == ["a b.", "c d e f", "g h i. j."]
    assert sentence_windows("", words, 4) == [""]
    # a word that fits no window is cut at characters
    assert sentence_windows("ab abcdefg.", len, 3) == ["ab", "abc", "def", "g."]


def test_missing_pac_weights_message_and_skip(tiny_clip, tiny_corpus):
    with pytest.raises(MissingWeights, match="aimagelab/pacscore.*--skip-pac"):
        ICSScorer(ICSConfig(clip_model=tiny_clip["clip"]))
    with pytest.raises(MissingWeights, match="not found"):
        ICSScorer(ICSConfig(clip_model=tiny_clip["clip"], pac_weights="/nonexistent/clip_ViT-B-32.pth"))
    with pytest.raises(MissingWeights, match="--skip-ics"):
        ICSScorer(ICSConfig(clip_model="/nonexistent/clip", skip_pac=True))
    rows = ICSScorer(ICSConfig(skip_clip=True, skip_pac=True)).score([LoopItem("x", image_path="/x.png")], ["a caption"])
    assert rows[0]["ics"] is None and rows[0]["clip_norm"] is None and "CLIP-S skipped" in rows[0]["score_note"]
