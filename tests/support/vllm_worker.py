"""Runs inside the vLLM virtual environment (test_vllm_backends.py starts it):
the `vllm` backend on a tiny model, direct calls and inside the caption loop.
Prints one JSON line with what happened."""

from __future__ import annotations

import json
import sys


class LengthScorer:
    """Stand-in scorer (the vLLM venv has no bert-score): ACS-shaped rows
    whose value grows with the caption's length, so short captions regenerate."""

    composite = "acs"
    label = "ACS"

    def score(self, items, captions):
        return [{"rouge1": min(len(c) / 400, 1.0), "bertscore": min(len(c) / 400, 1.0), "acs": min(len(c) / 400, 1.0), "score_note": None} for c in captions]


def main(model_dir: str) -> dict:
    from synesthesia.stages.captioning import GenerationRequest, GeneratorConfig, get_generator
    from synesthesia.stages.captioning.loop import LoopConfig, LoopItem, run_caption_loop
    from synesthesia.stages.captioning.prompts import FUSION_PROMPTS

    engine = (("enforce_eager", True), ("dtype", "float32"), ("max_model_len", 1024), ("min_tokens", 2))
    gen = get_generator(GeneratorConfig("vllm", model_dir, max_tokens=8, engine=engine))
    calls = {"chat": 0, "generate": 0}
    chat, generate = gen.llm.chat, gen.llm.generate

    def counting_chat(*a, **k):
        calls["chat"] += 1
        return chat(*a, **k)

    def counting_generate(*a, **k):
        calls["generate"] += 1
        return generate(*a, **k)

    gen.llm.chat, gen.llm.generate = counting_chat, counting_generate
    direct = gen.generate(
        [
            GenerationRequest("a#0", "describe the calm music", seed=1),
            GenerationRequest("b#0", "describe the loud music", seed=2),
            GenerationRequest("a#0", "describe the calm music", seed=1),
        ]
    )
    after_direct = dict(calls)
    items = [LoopItem(f"track{i}", segments=("A calm piano piece.", "Soft strings and a slow tempo.")) for i in range(3)]
    rows = run_caption_loop(items, {}, FUSION_PROMPTS, gen, LengthScorer(), LoopConfig(threshold=0.99, max_regenerations=2), seed=5)
    return {
        "direct": [[r.text, r.error] for r in direct],
        "direct_calls": after_direct,
        "loop_calls": {k: calls[k] - after_direct[k] for k in calls},
        "loop": {k: [[r["attempt"], r["prompt_version"], r["caption"], r["kept"], r["backend"], r["model"]] for r in v] for k, v in rows.items()},
    }


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1])), flush=True)
