"""The regenerate-below-threshold loop with a captioner whose outputs are fixed
per attempt, plus the prompts and the features captioner. No models, no Prefect."""

from __future__ import annotations

from collections import Counter

import pyarrow.parquet as pq
import pytest

from synesthesia.datasets import schema as S
from synesthesia.stages.captioning import GenerationResult, GeneratorConfig, TextGenerator
from synesthesia.stages.captioning.features import FeaturesGenerator
from synesthesia.stages.captioning.loop import (
    DEFAULT_MAX_REGENERATIONS,
    DEFAULT_THRESHOLD,
    LoopConfig,
    LoopItem,
    run_caption_loop,
)
from synesthesia.stages.captioning.prompts import FUSION_PROMPTS, IMAGE_PROMPT_V1, IMAGE_PROMPTS
from synesthesia.stages.captioning.steps import loop_shard
from synesthesia.stages.shards import plan_shards


class Scripted(TextGenerator):
    """Returns ``script[item][attempt]``; an entry ``None`` is a backend error."""

    name = "scripted"
    supports_images = True

    def __init__(self, script: dict[str, list]):
        super().__init__(GeneratorConfig())
        self.script = script
        self.calls: list[tuple[str, int]] = []
        self.prompts: list[str] = []

    @property
    def model(self):
        return "scripted-v0"

    def generate(self, requests):
        out = []
        for r in requests:
            item = r.key.split("#")[0]
            self.calls.append((item, r.attempt))
            self.prompts.append(r.prompt)
            text = self.script[item][r.attempt]
            out.append(GenerationResult(None, "HTTP 500: boom") if text is None else GenerationResult(text))
        return out


class TableScorer:
    """ICS-like scorer reading the score from the caption text: "cap@0.63"."""

    composite = "ics"
    label = "ICS"

    def __init__(self):
        self.calls = 0

    def score(self, items, captions):
        self.calls += 1
        rows = []
        for c in captions:
            value = float(c.split("@")[1]) if "@" in c else None
            rows.append({"clip_norm": value, "pac_norm": value, "ics": value, "score_note": None if value is not None else "skipped"})
        return rows


def _run(script, config=LoopConfig(), history=None, items=None):
    gen, scorer = Scripted(script), TableScorer()
    items = items or [LoopItem(i, image_path=f"/img/{i}.png") for i in script]
    result = run_caption_loop(items, history or {}, IMAGE_PROMPTS, gen, scorer, config)
    return result, gen


def test_paper_defaults():
    assert DEFAULT_THRESHOLD == 0.80
    assert DEFAULT_MAX_REGENERATIONS == 3
    assert LoopConfig().max_attempts == 4  # 1 caption + up to 3 regenerations
    assert LoopConfig().keep == "best"
    # `build artsound` offers the same defaults
    import inspect

    from synesthesia.cli.build_artsound import build_artsound_cmd

    options = inspect.signature(build_artsound_cmd).parameters
    assert options["threshold"].default.default == DEFAULT_THRESHOLD
    assert options["max_regenerations"].default.default == DEFAULT_MAX_REGENERATIONS


def test_regenerates_exactly_when_below_threshold_and_stops_at_the_limit():
    script = {
        "pass-first": ["a@0.91", "never"],
        "pass-third": ["a@0.50", "b@0.79", "c@0.80", "never"],
        "never-passes": ["a@0.40", "b@0.70", "c@0.55", "d@0.65", "never"],
    }
    result, gen = _run(script)
    calls = Counter(item for item, _ in gen.calls)
    assert calls == {"pass-first": 1, "pass-third": 3, "never-passes": 4}
    # every attempt is kept, in order, with its scores and pass flag
    assert [r["attempt"] for r in result["never-passes"]] == [0, 1, 2, 3]
    assert [r["ics"] for r in result["never-passes"]] == [0.40, 0.70, 0.55, 0.65]
    assert [r["passed"] for r in result["pass-third"]] == [False, False, True]  # 0.80 itself passes
    # kept: exactly one row per item; the passing attempt, else the best one
    for rows in result.values():
        assert sum(r["kept"] for r in rows) == 1
    assert [r["kept"] for r in result["pass-third"]] == [False, False, True]
    assert [r["kept"] for r in result["never-passes"]] == [False, True, False, False]
    # prompt versions: the paper's instruction first, the refined prompt after a failure
    assert result["pass-third"][0]["prompt_version"] == "image-v1"
    assert result["pass-third"][0]["prompt"] == IMAGE_PROMPT_V1
    assert {r["prompt_version"] for r in result["pass-third"][1:]} == {"image-refine-v1"}
    assert all(r["model"] == "scripted-v0" and r["backend"] == "scripted" and r["threshold"] == 0.80 for rows in result.values() for r in rows)


def test_refined_prompt_quotes_the_previous_caption_and_names_low_scores():
    result, gen = _run({"x": ["first caption@0.42", "second@0.9"]})
    refined = result["x"][1]["prompt"]
    assert refined.startswith(IMAGE_PROMPT_V1)
    assert '"""first caption@0.42"""' in refined
    assert "0.80" in refined and "ICS = 0.420" in refined
    assert "(CLIP-Score 0.420)" in refined and "(PAC-Score 0.420)" in refined


def test_keep_last_and_custom_limits():
    script = {"x": ["a@0.70", "b@0.30", "c@0.20"]}
    result, gen = _run(script, LoopConfig(threshold=0.9, max_regenerations=2, keep="last"))
    assert len(gen.calls) == 3
    assert [r["kept"] for r in result["x"]] == [False, False, True]
    result, gen = _run({"x": ["a@0.10"]}, LoopConfig(max_regenerations=0))
    assert len(gen.calls) == 1 and result["x"][0]["kept"]


def test_null_score_means_no_regeneration():
    result, gen = _run({"x": ["no score here", "never"]})
    assert len(gen.calls) == 1
    row = result["x"][0]
    assert row["ics"] is None and row["passed"] is None and row["kept"] and row["score_note"] == "skipped"


def test_backend_errors_are_recorded_then_retried_and_the_loop_continues():
    script = {"ok": ["a@0.95"], "flaky": ["a@0.50", None, "c@0.85"], "dead": [None]}
    result, gen = _run(script)
    assert [r["error"] for r in result["flaky"]] == [None, "HTTP 500: boom"]
    assert result["flaky"][1]["caption"] is None and not result["flaky"][1]["kept"]
    assert result["flaky"][0]["kept"]  # best successful attempt so far
    assert [r["kept"] for r in result["dead"]] == [False]  # no caption: no kept row
    # next run: the backend works again; finished attempts are not redone
    script2 = {"ok": ["never"], "flaky": ["never", "b@0.60", "c@0.85"], "dead": ["z@0.99"]}
    gen2, scorer = Scripted(script2), TableScorer()
    items = [LoopItem(i, image_path="/x") for i in script]
    result2 = run_caption_loop(items[1:], {k: result[k] for k in ("flaky", "dead")}, IMAGE_PROMPTS, gen2, scorer, LoopConfig())
    assert sorted(gen2.calls) == [("dead", 0), ("flaky", 1), ("flaky", 2)]
    assert [r["caption"] for r in result2["flaky"]] == ["a@0.50", "b@0.60", "c@0.85"]
    assert all(r["error"] is None for r in result2["flaky"])
    assert [r["kept"] for r in result2["flaky"]] == [False, False, True]
    assert result2["dead"][0]["kept"] and result2["dead"][0]["caption"] == "z@0.99"


def test_shard_part_resumes_without_regenerating_finished_items(tmp_path):
    script = {"a": ["a@0.95"], "b": ["b@0.10", None], "c": [None]}
    items = [LoopItem(i, image_path="/x") for i in script]
    shard = plan_shards("image-captions", [{"image_id": i} for i in script], 10)[0]
    gen = Scripted(script)
    stats = loop_shard(shard, items, str(tmp_path), S.IMAGE_CAPTIONS, "image_id", IMAGE_PROMPTS, gen, TableScorer(), LoopConfig(), 0)
    assert stats["failed"] == 2 and stats["items"] == 3
    part = next(tmp_path.glob("part-*.parquet"))
    stored = pq.read_table(part)
    assert stored.schema.names == S.IMAGE_CAPTIONS.names
    assert sorted(zip(stored["image_id"].to_pylist(), stored["attempt"].to_pylist())) == [("a", 0), ("b", 0), ("b", 1), ("c", 0)]

    healed = Scripted({"a": ["never"], "b": ["never", "b@0.40", "b@0.90"], "c": ["c@0.99"]})
    stats = loop_shard(shard, items, str(tmp_path), S.IMAGE_CAPTIONS, "image_id", IMAGE_PROMPTS, healed, TableScorer(), LoopConfig(), 0)
    assert stats["resumed"] == 1 and stats["failed"] == 0
    assert sorted(healed.calls) == [("b", 1), ("b", 2), ("c", 0)]
    rows = pq.read_table(part).to_pylist()
    assert [r["caption"] for r in rows if r["image_id"] == "b"] == ["b@0.10", "b@0.40", "b@0.90"]
    assert Counter(r["image_id"] for r in rows if r["kept"]) == {"a": 1, "b": 1, "c": 1}

    idle = Scripted({})
    assert loop_shard(shard, items, str(tmp_path), S.IMAGE_CAPTIONS, "image_id", IMAGE_PROMPTS, idle, TableScorer(), LoopConfig(), 0) == {"skipped": True}
    assert idle.calls == []


def test_fusion_prompt_quotes_segments_in_order():
    version, text = FUSION_PROMPTS.first(["First segment.", "Second segment."])
    assert version == "fusion-v1"
    assert "1. First segment.\n2. Second segment." in text and text.endswith("Merged description:")
    version, text = FUSION_PROMPTS.refined("old", ["ROUGE low"], "ACS", 0.5, 0.8, ["First segment."])
    assert version == "fusion-refine-v1" and '"""old"""' in text and "- ROUGE low" in text and text.endswith("Merged description:")


def test_features_captioner_is_deterministic_and_labelled(tiny_corpus):
    from pathlib import Path

    from synesthesia.stages.captioning import FEATURES_MODEL, GenerationRequest

    paths = [next(Path(tiny_corpus["paintings"]).rglob(f"{style}_000.*")) for style in ("geometric", "nocturne")]
    gen = FeaturesGenerator()
    reqs = [GenerationRequest(key=str(p), prompt=IMAGE_PROMPT_V1, image_path=str(p)) for p in paths]
    first, again = gen.generate(reqs), gen.generate(reqs)
    assert [r.text for r in first] == [r.text for r in again]
    assert first[0].text != first[1].text and "palette" in first[0].text
    assert gen.model == FEATURES_MODEL == "features-stand-in-v2" and gen.name == "features"
    broken = gen.generate([GenerationRequest(key="x", prompt="p")])[0]
    assert not broken.ok and "neither" in broken.error


def test_invalid_loop_config():
    with pytest.raises(ValueError):
        LoopConfig(keep="random")
    with pytest.raises(ValueError):
        LoopConfig(max_regenerations=-1)


def test_a_repeated_caption_keeps_its_score_without_scoring_again():
    """A deterministic backend (the features stand-in) may return the same
    refined caption on every regeneration: each attempt is recorded with the
    score, but the scorer only sees captions it has not scored for the item."""
    seen = []

    class Counting(TableScorer):
        def score(self, items, captions):
            seen.extend(captions)
            return super().score(items, captions)

    gen = Scripted({"a": ["first@0.2", "same@0.5", "same@0.5", "same@0.5"]})
    result = run_caption_loop([LoopItem("a", image_path="/img/a.png")], {}, IMAGE_PROMPTS, gen, Counting(), LoopConfig())
    rows = result["a"]
    assert [r["caption"] for r in rows] == ["first@0.2", "same@0.5", "same@0.5", "same@0.5"]
    assert [r["ics"] for r in rows] == [0.2, 0.5, 0.5, 0.5] and sum(r["kept"] for r in rows) == 1
    assert seen == ["first@0.2", "same@0.5"]
