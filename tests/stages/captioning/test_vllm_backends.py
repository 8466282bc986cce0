"""The `vllm` and `openai` backends against the real vLLM CPU build, on a tiny
random-weight Qwen2 saved here.

vLLM lives in its own virtual environment, REPO/.venv-vllm, which `make
test-setup` creates before pytest runs (tests/support/vllm_env.py). Without torchvision
vLLM cannot run LLaVA models, so the image path of the `vllm` backend is not
exercised here (the `transformers` backend captions images in tests).

Each engine / server starts once for this module; VLLM_CPU_KVCACHE_SPACE=1
keeps its memory small.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import httpx
import pytest

from support.tiny_models import build_qwen2
from support.vllm_env import REPO, SETUP_HINT, installed_python, vllm_env

from synesthesia.stages.captioning import GenerationRequest, GeneratorConfig, get_generator
from synesthesia.stages.captioning.loop import LoopConfig, LoopItem
from synesthesia.stages.captioning.prompts import FUSION_PROMPTS
from synesthesia.stages.quality.text import PACKAGED_MINILM, ACSConfig, ACSScorer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def vllm_python():
    python = installed_python()
    if python is None:
        pytest.fail(f"vLLM's CPU build is not installed: {SETUP_HINT}")
    return python


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory) -> str:
    return str(build_qwen2(tmp_path_factory.mktemp("vllm-model") / "qwen2"))


def test_vllm_offline_engine_generates_batched_and_inside_the_loop(vllm_python, tiny_qwen):
    proc = subprocess.run(
        [str(vllm_python), str(REPO / "tests" / "support" / "vllm_worker.py"), tiny_qwen], env=vllm_env(), capture_output=True, text=True, timeout=560
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    result = json.loads(lines[-1][len("RESULT "):])
    direct = result["direct"]
    assert all(text and error is None for text, error in direct)
    assert direct[0][0] == direct[2][0]  # same prompt and seed, same completion
    assert result["direct_calls"] == {"chat": 1, "generate": 0}  # one batched call for three requests
    loop = result["loop"]
    # a tiny model's 8-token captions stay below the 0.99 bar: 1 + 2 regenerations each
    assert all([r[0] for r in rows] == [0, 1, 2] for rows in loop.values())
    assert all([r[1] for r in rows] == ["fusion-v1", "fusion-refine-v1", "fusion-refine-v1"] for rows in loop.values())
    assert all(sum(r[3] for r in rows) == 1 and all(r[2] for r in rows) for rows in loop.values())
    assert {r[4] for rows in loop.values() for r in rows} == {"vllm"} and {r[5] for rows in loop.values() for r in rows} == {tiny_qwen}
    assert result["loop_calls"] == {"chat": 3, "generate": 0}  # one batched call per round


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server(vllm_python, tiny_qwen, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    cmd = [
        str(vllm_python), "-m", "vllm.entrypoints.openai.api_server", "--model", tiny_qwen, "--host", "127.0.0.1", "--port", str(port),
        "--enforce-eager", "--dtype", "float32", "--max-model-len", "1024",
    ]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, env=vllm_env(), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 400
        while True:
            assert proc.poll() is None, "vLLM server exited:\n" + log.read_text()[-4000:]
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "vLLM server did not come up:\n" + log.read_text()[-4000:]
            time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_openai_backend_against_a_real_vllm_server(vllm_server, tiny_qwen, tmp_path):
    runtime = (("base_url", vllm_server), ("timeout_s", 120.0), ("concurrency", 2), ("max_retries", 1))
    gen = get_generator(GeneratorConfig("openai", tiny_qwen, max_tokens=8, runtime=runtime))
    sent: list[str] = []  # every HTTP request the client makes, retries included
    gen.client._client.event_hooks["request"].append(lambda r: sent.append(r.url.path))
    from PIL import Image

    Image.new("RGB", (8, 8), (200, 30, 30)).save(tmp_path / "art.png")
    texts = gen.generate(
        [GenerationRequest("a#0", "describe the calm music", seed=1), GenerationRequest("b#0", "describe the loud music", seed=2), GenerationRequest("a#0", "describe the calm music", seed=1)]
    )
    assert all(r.ok and r.text for r in texts), texts
    assert texts[0].text == texts[2].text  # the seed travels with the request
    [image] = gen.generate([GenerationRequest("c#0", "describe the artwork", image_path=str(tmp_path / "art.png"))])
    assert not image.ok and image.error.startswith("HTTP 400")  # a text-only model rejects images: no retry
    assert sent == ["/v1/chat/completions"] * 4  # three texts and one image, the refused image not retried


def test_fusion_loop_through_a_real_vllm_server_scored_by_minilm_acs(vllm_server, tiny_qwen, tmp_path):
    from synesthesia.datasets import schema as S
    from synesthesia.stages.captioning.steps import loop_shard
    from synesthesia.stages.shards import plan_shards

    config = GeneratorConfig("openai", tiny_qwen, max_tokens=12, runtime=(("base_url", vllm_server), ("concurrency", 2)))
    items = [LoopItem(f"aud-{i}", segments=("This is a calm piano piece.", "Soft strings join at a slow tempo.")) for i in range(2)]
    shard = plan_shards("audio-captions", [{"audio_id": i.item_id} for i in items], 10)[0]
    stats = loop_shard(shard, items, str(tmp_path), S.AUDIO_CAPTIONS, "audio_id", FUSION_PROMPTS, config, ACSScorer(ACSConfig(bertscore_model=PACKAGED_MINILM)), LoopConfig(), 3)
    import pyarrow.parquet as pq

    rows = pq.read_table(next(tmp_path.glob("part-*.parquet"))).to_pylist()
    assert stats["failed"] == 0 and stats["items"] == 2
    for item in items:
        mine = [r for r in rows if r["audio_id"] == item.item_id]
        assert 1 <= len(mine) <= 4 and sum(r["kept"] for r in mine) == 1
        assert all(r["backend"] == "openai" and r["caption"] and r["acs"] is not None for r in mine)
        # regenerated exactly while below the threshold
        assert all(r["acs"] < 0.8 for r in mine[:-1])
        assert len(mine) == 4 or mine[-1]["acs"] >= 0.8
