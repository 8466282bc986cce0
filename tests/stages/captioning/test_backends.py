"""The `transformers` backend on tiny random LLaVA-NeXT and Qwen2 models, and
the `openai` backend's transport against a small local server that fails on
purpose (HTTP 500, a hang past the timeout, a 400). The `openai` backend
against a real vLLM server is in test_vllm_backends.py."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from support.tiny_models import build_llava_next, build_qwen2

from synesthesia.stages.captioning import BackendUnavailable, GenerationRequest, GeneratorConfig, get_generator
from synesthesia.stages.captioning.openai_backend import image_data_url


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-lms")
    return {"llava": str(build_llava_next(root / "llava")), "qwen2": str(build_qwen2(root / "qwen2"))}


def _image(tmp_path: Path) -> str:
    arr = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    path = tmp_path / "art.png"
    Image.fromarray(arr).save(path)
    return str(path)


def test_transformers_backend_llava_next_captions_images_and_answers_text(tiny_models, tmp_path):
    gen = get_generator(GeneratorConfig("transformers", tiny_models["llava"], max_tokens=8, engine=(("min_new_tokens", 3),)))
    assert gen.supports_images
    image = _image(tmp_path)
    reqs = [
        GenerationRequest("a#0", "describe the artwork", image_path=image, seed=1),
        GenerationRequest("b#0", "describe the music", seed=2),
        GenerationRequest("a#0", "describe the artwork", image_path=image, seed=1),
    ]
    out = gen.generate(reqs)
    assert all(r.ok and r.text for r in out), out
    assert out[0].text == out[2].text  # same seed, same caption
    broken = gen.generate([GenerationRequest("c#0", "x", image_path=str(tmp_path / "missing.png"))])[0]
    assert not broken.ok and "cannot read image" in broken.error


def test_transformers_backend_causal_lm_is_text_only(tiny_models, tmp_path):
    gen = get_generator(GeneratorConfig("transformers", tiny_models["qwen2"], max_tokens=6, engine=(("min_new_tokens", 2),)))
    assert not gen.supports_images
    text, image = gen.generate([GenerationRequest("t", "merge the segment descriptions", seed=3), GenerationRequest("i", "x", image_path=_image(tmp_path))])
    assert text.ok and text.text
    assert not image.ok and "text-only" in image.error
    with pytest.raises(BackendUnavailable, match="could not be loaded"):
        get_generator(GeneratorConfig("transformers", str(tmp_path / "no-model")))


# --- openai: transport, retries, timeouts ---------------------------------------------------

class _Server:
    """A local OpenAI-compatible endpoint whose behaviour per call is scripted:
    "500" (server error), "hang" (sleep past the client's timeout), "400",
    or "ok" (a completion echoing the request)."""

    def __init__(self, script):
        self.script = list(script)
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.bodies.append(body)
                    outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                    action = outer.script.pop(0) if outer.script else "ok"
                if action == "hang":
                    time.sleep(1.5)
                    action = "ok"
                if action in ("500", "400"):
                    self.send_response(int(action))
                    self.end_headers()
                    self.wfile.write(b'{"error": "scripted failure"}')
                    return
                content = body["messages"][0]["content"]
                text = "<think>\n\n</think>\n\ncaption for " + (content if isinstance(content, str) else content[1]["text"])
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _openai(url: str, **runtime) -> object:
    options = {"base_url": url, "timeout_s": 0.5, "max_retries": 2, "concurrency": 2, **runtime}
    return get_generator(GeneratorConfig("openai", "tiny-model", runtime=tuple(options.items())))


def test_openai_retries_a_500_then_succeeds_and_sends_images_as_data_urls(tmp_path):
    image = _image(tmp_path)
    with _Server(["500", "ok"]) as server:
        gen = _openai(server.url, concurrency=1)
        [result] = gen.generate([GenerationRequest("a#0", "describe the artwork", image_path=image, seed=7)])
    assert result.ok and result.text == "caption for describe the artwork"  # <think> block stripped
    assert len(server.bodies) == 2
    body = server.bodies[-1]
    assert body["model"] == "tiny-model" and body["seed"] == 7 and body["chat_template_kwargs"] == {"enable_thinking": False}
    url = body["messages"][0]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    sent = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(sent, np.asarray(Image.open(image)))


def test_openai_timeouts_are_retried_then_recorded_as_the_items_error():
    with _Server(["hang", "hang", "hang"]) as server:
        gen = _openai(server.url, concurrency=1)
        started = time.perf_counter()
        [result] = gen.generate([GenerationRequest("a#0", "merge these")])
        elapsed = time.perf_counter() - started
    assert not result.ok and "timed out after 0.5 s" in result.error and "3 tries" in result.error
    assert len(server.bodies) == 3 and elapsed < 10


def test_openai_client_errors_are_not_retried_and_do_not_affect_other_items():
    with _Server(["400"]) as server:
        gen = _openai(server.url, concurrency=1)
        bad, good = gen.generate([GenerationRequest("a#0", "first"), GenerationRequest("b#0", "second")])
    assert not bad.ok and bad.error.startswith("HTTP 400") and "scripted failure" in bad.error
    assert good.ok and good.text == "caption for second"
    assert len(server.bodies) == 2


def test_openai_connection_refused_is_an_error_not_a_crash():
    gen = _openai("http://127.0.0.1:9/v1", max_retries=1)
    [result] = gen.generate([GenerationRequest("a#0", "x")])
    assert not result.ok and "connection error" in result.error and "2 tries" in result.error


def test_openai_retries_stop_at_max_retries_and_the_error_says_so():
    with _Server(["500"] * 5) as server:
        gen = _openai(server.url, concurrency=1, max_retries=1)
        [result] = gen.generate([GenerationRequest("a#0", "x")])
    assert not result.ok and result.error.startswith("failed after 2 tries; last: HTTP 500")
    assert len(server.bodies) == 2


def test_openai_sends_the_api_key_from_the_named_variable_only_in_the_header(monkeypatch):
    monkeypatch.setenv("SYN_TEST_KEY", "sk-test-123")
    with _Server(["ok"]) as server:
        gen = _openai(server.url, api_key_env="SYN_TEST_KEY")
        [result] = gen.generate([GenerationRequest("a#0", "x")])
    assert result.ok and server.headers[-1]["authorization"] == "Bearer sk-test-123"
    assert "sk-test-123" not in json.dumps(server.bodies)


def test_data_url_reencodes_formats_chat_apis_do_not_take(tmp_path):
    path = tmp_path / "art.bmp"
    Image.new("RGB", (4, 4), (10, 20, 30)).save(path)
    assert image_data_url(path).startswith("data:image/png;base64,")


def test_vllm_backend_missing_says_what_to_install():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailable, match="pip install 'synesthesia\\[vllm\\]'"):
            get_generator(GeneratorConfig("vllm", "some/model"))
    else:  # pragma: no cover - vLLM installed in this environment
        pytest.skip("vLLM is installed here; its backend is tested in test_vllm_backends.py")
