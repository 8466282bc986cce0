"""The ``transformers`` backend: local generation without a server.

The model folder or hub id decides the kind:

* a vision-language model (its config has a ``vision_config``: LLaVA,
  LLaVA-NeXT, ...) is loaded with ``AutoModelForImageTextToText`` and its
  ``AutoProcessor``; it captions images and can also answer text-only
  requests;
* anything else with ``AutoModelForCausalLM`` and its tokenizer (text only).

Prompts go through the processor's / tokenizer's chat template (with
``enable_thinking=False`` for Qwen3); a processor without one falls back to
the ``image_prompt_template`` engine option (LLaVA 1.6 Mistral's format).
Requests are generated one at a time with ``torch.manual_seed(request.seed)``
(simple and reproducible; use ``vllm`` for throughput).

Engine options: ``dtype`` (e.g. ``"bfloat16"``), ``image_prompt_template``,
``min_new_tokens``. Runtime option: ``device`` (default: CUDA if available).
"""

from __future__ import annotations

from typing import Sequence

from synesthesia.stages.captioning import TRANSFORMERS_HELP, BackendUnavailable, GenerationRequest, GenerationResult, GeneratorConfig, TextGenerator, strip_thinking
from synesthesia.stages.captioning.vllm_backend import LLAVA_MISTRAL_TEMPLATE


class TransformersGenerator(TextGenerator):
    name = "transformers"

    def __init__(self, config: GeneratorConfig):
        super().__init__(config)
        try:
            import torch
            from transformers import AutoConfig
        except ImportError:
            raise BackendUnavailable(TRANSFORMERS_HELP) from None
        self.device = config.option("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = config.option("dtype")
        kwargs = {"dtype": getattr(torch, dtype)} if dtype else {}
        self.image_template = config.option("image_prompt_template", LLAVA_MISTRAL_TEMPLATE)
        self.min_new_tokens = int(config.option("min_new_tokens", 0))
        try:
            model_config = AutoConfig.from_pretrained(config.model)
        except OSError as exc:
            raise BackendUnavailable(
                f"transformers backend: model {config.model!r} could not be loaded ({str(exc).splitlines()[0][:200]}); "
                "download it and pass its folder, or choose another --captioner"
            ) from None
        self.supports_images = hasattr(model_config, "vision_config")
        if self.supports_images:
            from transformers import AutoModelForImageTextToText, AutoProcessor

            self.processor = AutoProcessor.from_pretrained(config.model)
            self.tokenizer = self.processor.tokenizer
            self.lm = AutoModelForImageTextToText.from_pretrained(config.model, **kwargs)
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self.processor = None
            self.tokenizer = AutoTokenizer.from_pretrained(config.model)
            self.lm = AutoModelForCausalLM.from_pretrained(config.model, **kwargs)
        self.lm.eval().to(self.device)

    def _chat(self, template_owner, messages) -> str | None:
        if getattr(template_owner, "chat_template", None) is None:
            return None
        return template_owner.apply_chat_template(messages, add_generation_prompt=True, tokenize=False, enable_thinking=False)

    def _inputs(self, request: GenerationRequest):
        if request.image_path is not None:
            from synesthesia.datasets.media import open_rgb

            image = open_rgb(request.image_path, background=request.image_background)
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": request.prompt}]}]
            text = self._chat(self.processor, messages) or self.image_template.format(prompt=request.prompt)
            return self.processor(images=image, text=text, return_tensors="pt")
        messages = [{"role": "user", "content": request.prompt}]
        owner = self.processor if self.processor is not None else self.tokenizer
        text = self._chat(owner, messages) or self._chat(self.tokenizer, messages) or request.prompt
        return self.tokenizer(text, return_tensors="pt", add_special_tokens=False)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        import torch

        out = []
        for request in requests:
            if request.image_path is not None and not self.supports_images:
                out.append(GenerationResult(None, f"{self.config.model} is a text-only model; it cannot caption images"))
                continue
            try:
                inputs = self._inputs(request).to(self.device)
            except OSError as exc:
                out.append(GenerationResult(None, f"cannot read image: {exc}"))
                continue
            if request.seed is not None:
                torch.manual_seed(request.seed)
            sampling = self.config.temperature > 0
            with torch.no_grad():
                generated = self.lm.generate(
                    **inputs,
                    max_new_tokens=self.config.max_tokens,
                    min_new_tokens=self.min_new_tokens,
                    do_sample=sampling,
                    temperature=self.config.temperature if sampling else None,
                    top_p=self.config.top_p if sampling else None,
                    pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id,
                )
            new = generated[0, inputs["input_ids"].shape[1] :]
            text = strip_thinking(self.tokenizer.decode(new, skip_special_tokens=True))
            out.append(GenerationResult(text) if text else GenerationResult(None, "empty completion"))
        return out
