"""Captioning throughput on this machine (prints measured numbers, asserts nothing).

1. The `openai` backend's bounded concurrency: 48 requests against a local
   OpenAI-compatible endpoint that answers after 100 ms, with 1 vs 8
   concurrent requests (the ratio is what --concurrency buys against a
   latency-bound server such as `vllm serve`).
2. The `features` captioner: seconds per artwork and per 10 s music segment.
3. ACS with the packaged MiniLM: seconds per fused caption (3 segment references).

    python benchmarks/captioning.py
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from synesthesia.stages.captioning import GenerationRequest, GeneratorConfig, get_generator  # noqa: E402

LATENCY_S = 0.1


class Slow(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(LATENCY_S)
        payload = json.dumps({"choices": [{"message": {"content": "a caption"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def openai_concurrency() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    requests = [GenerationRequest(f"r{i}", "merge these") for i in range(48)]
    times = {}
    for concurrency in (1, 8):
        gen = get_generator(GeneratorConfig("openai", "m", runtime=(("base_url", url), ("concurrency", concurrency))))
        started = time.perf_counter()
        assert all(r.ok for r in gen.generate(requests))
        times[concurrency] = time.perf_counter() - started
    server.shutdown()
    print(f"openai backend, 48 requests at {LATENCY_S * 1000:.0f} ms each: concurrency 1 {times[1]:.2f} s, "
          f"concurrency 8 {times[8]:.2f} s -> {times[1] / times[8]:.1f}x")


def features_and_acs() -> None:
    import numpy as np

    from synesthesia.datasets.synthetic import CorpusSpec, make_corpus
    from synesthesia.datasets.media import load_audio
    from synesthesia.stages.captioning.features import FeaturesGenerator, FeaturesSegmentCaptioner
    from synesthesia.stages.captioning.loop import LoopItem
    from synesthesia.stages.quality.text import PACKAGED_MINILM, ACSConfig, ACSScorer

    with TemporaryDirectory() as tmp:
        corpus = make_corpus(tmp, CorpusSpec(paintings_per_style=4, tracks_per_genre=2, min_seconds=30, max_seconds=31, broken=False))
        images = sorted(str(p) for p in Path(corpus["paintings"]).rglob("*.*") if p.suffix in (".png", ".jpg"))
        gen = FeaturesGenerator()
        started = time.perf_counter()
        gen.generate([GenerationRequest(p, "x", image_path=p) for p in images])
        per_image = (time.perf_counter() - started) / len(images)
        tracks = sorted(Path(corpus["music"]).rglob("*.*"))
        segments = np.concatenate([load_audio(t)[: 3 * 160_000].reshape(3, -1) for t in tracks])
        captioner = FeaturesSegmentCaptioner()
        captioner.caption(segments[:1], 16_000)  # warm-up (numba)
        started = time.perf_counter()
        captions = captioner.caption(segments, 16_000)
        per_segment = (time.perf_counter() - started) / len(segments)
        scorer = ACSScorer(ACSConfig(bertscore_model=PACKAGED_MINILM))
        items = [LoopItem(str(i), segments=tuple(captions[3 * i : 3 * i + 3])) for i in range(len(tracks))]
        fused = [" ".join(it.segments) for it in items]
        started = time.perf_counter()
        scorer.score(items, fused)
        per_caption = (time.perf_counter() - started) / len(items)
    print(f"features captioner: {per_image * 1000:.0f} ms per artwork ({len(images)} images), "
          f"{per_segment * 1000:.0f} ms per 10 s segment ({len(segments)} segments)")
    print(f"ACS (ROUGE-1 + MiniLM BERTScore, 3 references): {per_caption * 1000:.0f} ms per fused caption ({len(items)} captions)")


if __name__ == "__main__":
    openai_concurrency()
    features_and_acs()
