"""API keys never reach a table: an OpenAI-compatible server on 127.0.0.1
that echoes the request headers in its error body (as some do) leaves no
trace of the key in the caption attempts written to Parquet."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest

from synesthesia.datasets import schema as S
from synesthesia.datasets.secrets import REDACTED, redact
from synesthesia.stages.captioning import GeneratorConfig
from synesthesia.stages.captioning.loop import LoopConfig, LoopItem
from synesthesia.stages.captioning.prompts import FUSION_PROMPTS
from synesthesia.stages.captioning.steps import loop_shard
from synesthesia.stages.shards import plan_shards

pytestmark = pytest.mark.faults

KEY = "sk-test-0123456789abcdef-SECRET"


class Echo(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"error": "bad request", "you_sent": dict(self.headers.items())}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class NoScores:
    composite = "acs"

    def score(self, items, texts):  # never called: every attempt fails
        raise AssertionError


def test_an_echoed_key_is_redacted_before_the_attempt_is_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_CAPTION_KEY", KEY)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = GeneratorConfig("openai", "some-model", runtime=(("api_key_env", "MY_CAPTION_KEY"), ("base_url", f"http://127.0.0.1:{server.server_port}/v1"), ("max_retries", 0)))
        items = [LoopItem("aud-1", segments=("A calm piano piece.",))]
        shard = plan_shards("audio-captions", [{"audio_id": "aud-1"}], 10)[0]
        stats = loop_shard(shard, items, str(tmp_path), S.AUDIO_CAPTIONS, "audio_id", FUSION_PROMPTS, config, NoScores(), LoopConfig(), 0)
    finally:
        server.shutdown()
    assert stats["failed"] == 1
    part = next(tmp_path.glob("part-*.parquet"))
    error = pq.read_table(part).column("error").to_pylist()[0]
    assert error.startswith("HTTP 400") and "you_sent" in error  # the server's body is kept ...
    assert KEY not in error and REDACTED in error  # ... without the key
    assert KEY.encode() not in part.read_bytes()


def test_redact_knows_the_usual_variables_and_header_shapes(monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "ls-token-abcdef123456")
    text = 'Token ls-token-abcdef123456; {"Authorization": "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi"} api-key=k123456789 X-Api-Key: "zz9999zz"'
    cleaned = redact(text)
    for secret in ("ls-token-abcdef123456", "eyJ0eXAiOiJKV1QiLCJhbGciOi", "k123456789", "zz9999zz"):
        assert secret not in cleaned
    assert redact("connection refused after 3 tries") == "connection refused after 3 tries"
