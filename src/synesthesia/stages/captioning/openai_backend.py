"""The ``openai`` backend: any OpenAI-compatible chat-completions endpoint
(``vllm serve MODEL``, a hosted API...), through the official ``openai``
client.

* Images go as ``data:`` URLs inside the user message (JPEG/PNG/WebP/GIF as
  they are, other formats re-encoded as PNG).
* Requests run with bounded concurrency (``concurrency`` threads sharing one
  client), each with a timeout (``timeout_s``). Retries are the client's own:
  timeouts, connection errors, HTTP 408/409/429 and 5xx are retried up to
  ``max_retries`` times with exponential backoff (0.5 s · 2^k with jitter,
  at most 8 s; a server's ``Retry-After`` is honoured). Any other HTTP error,
  or a request still failing after its retries, becomes that item's
  ``error`` (the loop records it and the next run retries it); other items
  are unaffected.
* ``extra_body`` (an engine option, it changes outputs) is merged into every
  request body; by default ``{"chat_template_kwargs": {"enable_thinking":
  false}}``, which vLLM passes to Qwen3's chat template.

Runtime options (not part of the shard key): ``base_url`` (default
``http://127.0.0.1:8000/v1``), ``timeout_s`` (120), ``concurrency`` (8),
``max_retries`` (4), ``api_key_env`` (the environment variable holding the API
key, default ``OPENAI_API_KEY``; the key itself is never stored in a config or
a table; without one the client sends the placeholder ``EMPTY``, which
``vllm serve`` without ``--api-key`` accepts).

Why the ``openai`` client rather than our own HTTP loop: its retry policy
(status classes, ``Retry-After``, jitter) and timeouts are maintained with the
API, and ``benchmarks/captioning.py`` measured no throughput cost (see
docs/performance.md). What changed with it: the backoff is the client's
(the former ``backoff_s`` option is gone) and HTTP 425 is no longer retried.
"""

from __future__ import annotations

import base64
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from synesthesia.datasets import secrets
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, to_rgb
from synesthesia.stages.captioning import OPENAI_HELP, BackendUnavailable, GenerationRequest, GenerationResult, GeneratorConfig, TextGenerator, strip_thinking

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
#: Statuses the client retries (besides every 5xx).
RETRY_STATUS = frozenset({408, 409, 429})
_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


def image_data_url(path: str | Path, background: str = DEFAULT_ALPHA_BACKGROUND) -> str:
    """The image file as a ``data:`` URL: its own bytes when it is plain 8-bit
    RGB or greyscale in a format chat APIs accept; otherwise (transparency,
    16-bit, CMYK, palette, another format) re-encoded as the PNG of
    :func:`~synesthesia.datasets.media.to_rgb`, so the server sees what every
    other stage sees."""
    from PIL import Image

    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        fmt = im.format
        if fmt not in _MIME or im.mode not in ("RGB", "L") or "transparency" in im.info:
            buf = io.BytesIO()
            im.load()
            to_rgb(im, background).save(buf, format="PNG")
            data, fmt = buf.getvalue(), "PNG"
    return f"data:{_MIME[fmt]};base64,{base64.b64encode(data).decode('ascii')}"


class OpenAIGenerator(TextGenerator):
    name = "openai"
    supports_images = True

    def __init__(self, config: GeneratorConfig):
        super().__init__(config)
        try:
            import openai
        except ImportError:
            raise BackendUnavailable(OPENAI_HELP) from None

        self.base_url = str(config.option("base_url", DEFAULT_BASE_URL)).rstrip("/")
        self.timeout_s = float(config.option("timeout_s", 120.0))
        self.concurrency = max(1, int(config.option("concurrency", 8)))
        self.max_retries = max(0, int(config.option("max_retries", 4)))
        self.extra_body = dict(config.option("extra_body", {"chat_template_kwargs": {"enable_thinking": False}}))
        key = os.environ.get(str(config.option("api_key_env", "OPENAI_API_KEY")), "")
        secrets.register(key)  # redacted from any error text this process stores or prints
        self.client = openai.OpenAI(
            api_key=key or "EMPTY", base_url=self.base_url, timeout=self.timeout_s, max_retries=self.max_retries
        )

    def body(self, request: GenerationRequest) -> dict:
        if request.image_path is not None:
            content = [
                {"type": "image_url", "image_url": {"url": image_data_url(request.image_path, request.image_background)}},
                {"type": "text", "text": request.prompt},
            ]
        else:
            content = request.prompt
        body = {
            "model": self.config.model,
            "messages": [{"role": "user", "content": content}],
            "temperature": self.config.temperature,
            "top_p": self.config.top_p,
            "max_tokens": self.config.max_tokens,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        return body

    def _one(self, request: GenerationRequest) -> GenerationResult:
        import openai

        try:
            body = self.body(request)
        except OSError as exc:
            return GenerationResult(None, f"cannot read image: {exc}")
        tries = f"failed after {self.max_retries + 1} tries; last:"
        try:
            completion = self.client.chat.completions.create(**body, extra_body=self.extra_body)
        except openai.APITimeoutError:
            return GenerationResult(None, f"{tries} timed out after {self.timeout_s:g} s")
        except openai.APIConnectionError as exc:
            return GenerationResult(None, f"{tries} connection error: {exc.__cause__ or exc}")
        except openai.APIStatusError as exc:
            retried = exc.status_code in RETRY_STATUS or exc.status_code >= 500
            return GenerationResult(None, f"{tries + ' ' if retried else ''}HTTP {exc.status_code}: {exc.response.text[:300]}")
        except openai.APIResponseValidationError as exc:
            return GenerationResult(None, f"malformed response: {exc.response.text[:300]}")
        try:
            text = completion.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            return GenerationResult(None, f"malformed response: {str(completion)[:300]}")
        text = strip_thinking(text or "")
        return GenerationResult(text) if text else GenerationResult(None, "empty completion")

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        if not requests:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            return list(pool.map(self._one, requests))
