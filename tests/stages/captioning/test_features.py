"""The `features` stand-in captioner says only what it can measure: no tempo
or key without clear evidence, nothing rhythmic about a 1 s effect, and a
fused caption that summarises its segment captions instead of copying them
(so ACS cannot pass by copying its references), without orphan sentences."""

from __future__ import annotations

import re

import numpy as np
import pytest

from synesthesia.datasets.media import clip_starts, cut_clips
from synesthesia.datasets.synthetic import MUSIC_GENRES, synth_track
from synesthesia.stages.captioning.features import (
    FeaturesSegmentCaptioner,
    audio_features,
    merge_segment_captions,
    parse_segment_caption,
    sentences,
)
from synesthesia.stages.captioning.loop import LoopItem
from synesthesia.stages.captioning.steps import SEGMENT_CLIP

SR = 16_000
ANAPHORA = re.compile(r"^(It|Its|This|These|They|Their|Those)\b")


def _segments(y: np.ndarray) -> np.ndarray:
    return cut_clips(y, clip_starts(len(y), SEGMENT_CLIP), SEGMENT_CLIP.clip_samples)


@pytest.fixture(scope="module")
def captioned():
    captioner = FeaturesSegmentCaptioner()
    out = {}
    for g in sorted(MUSIC_GENRES):
        out[g] = captioner.caption(_segments(synth_track(g, 45.0, SR, np.random.default_rng(1))), SR)
    return out


def test_tempo_and_key_only_with_clear_evidence(captioned):
    captioner = FeaturesSegmentCaptioner()
    noise = (np.random.default_rng(0).standard_normal(10 * SR) * 0.1).astype(np.float32)
    t = np.arange(10 * SR) / SR
    swell = (0.2 * (0.5 + 0.5 * np.sin(2 * np.pi * 0.13 * t)) * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))).astype(np.float32)
    for y in (noise, swell):  # no pulse of attacks: librosa's prior alone would say ~117-125 BPM
        f = audio_features(y, SR)
        assert f["tempo_bpm"] is None
        assert "no steady beat" in captioner.caption(y[None], SR)[0] and "BPM" not in captioner.caption(y[None], SR)[0]
    assert audio_features(noise, SR)["key"] is None
    effect = np.zeros(10 * SR, np.float32)
    effect[:SR] = synth_track("rock", 1.0, SR, np.random.default_rng(2))  # a 1 s effect, zero-padded to a segment
    text = captioner.caption(effect[None], SR)[0]
    assert "1.0 s" in text and "too short" in text and "BPM" not in text and "major" not in text and "minor" not in text
    # the generated tracks have a clear pulse: their segments do state a tempo
    assert all("BPM" in c for c in captioned["rock"])


def test_fused_caption_summarises_without_copying_or_orphans(captioned):
    for genre, segments in captioned.items():
        references = {s for c in segments for s in sentences(c)}
        for attempt in (0, 1):
            fused = merge_segment_captions(segments, attempt)
            assert fused and not (set(sentences(fused)) & references), (genre, attempt)
            assert not any(ANAPHORA.match(s) for s in sentences(fused)), fused
        parsed = [parse_segment_caption(c) for c in segments]
        tempos = [p["tempo"] for p in parsed if p["tempo"]]
        assert str(tempos[0]) in merge_segment_captions(segments)  # it states what the segments measured
        assert len(merge_segment_captions(segments, 1)) > len(merge_segment_captions(segments, 0))
    other = ["Energetic rock with distorted guitars and drums.", "A calm piano melody with soft strings."]
    summary = merge_segment_captions(other)
    assert "most often mention" in summary and not (set(sentences(summary)) & set(other))


def test_acs_of_the_fused_caption_is_not_passed_by_copying(captioned):
    """The old extractive merge copied segment sentences and scored ACS ~1.0;
    a summary compared with its sources scores what a summary scores."""
    from synesthesia.stages.quality.text import PACKAGED_MINILM, ACSConfig, ACSScorer

    scorer = ACSScorer(ACSConfig(bertscore_model=PACKAGED_MINILM))
    items = [LoopItem(g, segments=tuple(s)) for g, s in captioned.items()]
    fused = [merge_segment_captions(s) for s in captioned.values()]
    copied = [" ".join(s) for s in captioned.values()]
    ours = [r["acs"] for r in scorer.score(items, fused)]
    copies = [r["acs"] for r in scorer.score(items, copied)]
    assert min(copies) > 0.95 and max(ours) < 0.8
