"""The dataset browser at MPD's size (printed, not asserted).

A gallery of ``--rows`` pairs (default 50,000: the paper's MPD) over a few
real image and audio files, written with ``stages.publish.site``; then, in
headless Chromium (Debian's, through playwright): the time until the first
page of cards shows, and the time of a filter by split and of a sort by
score over every row. Also the size of ``data/index.js`` per row.

    python benchmarks/browser.py [--rows 50000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import soundfile as sf
from PIL import Image

from synesthesia.stages.publish.site import build_site
from synesthesia.stages.publish.spec import Field, Gallery


def gallery(root: Path, rows: int) -> Gallery:
    rng = np.random.default_rng(0)
    images, audio = [], []
    for k in range(20):
        Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(root / f"p{k}.jpg")
        sf.write(root / f"c{k}.flac", (rng.standard_normal(16_000) * 0.1).astype(np.float32), 16_000)
        images.append(str(root / f"p{k}.jpg"))
        audio.append(str(root / f"c{k}.flac"))
    table = pa.table({
        "key": [f"pair-{i:08d}" for i in range(rows)],
        "split": rng.choice(["train", "val", "test"], rows, p=[0.8, 0.1, 0.1]).tolist(),
        "image_file": [images[i % 20] for i in range(rows)],
        "audio_file": [audio[i % 20] for i in range(rows)],
        "heading": [f"style {i % 5} × genre {i % 7}" for i in range(rows)],
        "style": [f"style {i % 5}" for i in range(rows)],
        "genre": [f"genre {i % 7}" for i in range(rows)],
        "score": rng.random(rows).round(4).tolist(),
        "sigma": (rng.random(rows) * 0.2).round(4).tolist(),
    })
    return Gallery("mpd", "MPD at scale", table, facets=["split", "style", "genre"], sorts=["score", "sigma"], heading="heading",
                   fields=[Field("score", "score", "number", 2), Field("sigma", "σ", "number", 3)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        g = gallery(root, args.rows)
        started = time.perf_counter()
        site = build_site([g], root / "site", log=lambda m: None)
        written = time.perf_counter() - started
        index = (root / "site" / "data" / "index.js").stat().st_size
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            started = time.perf_counter()
            page.goto(site.page.as_uri())
            page.wait_for_selector(".card img")
            first = time.perf_counter() - started
            timings = {}
            for name, select, value in (("filter by split", "#select-split", "val"), ("sort by score", "#select-sort", "-score")):
                started = time.perf_counter()
                page.select_option(select, value)
                page.wait_for_function("document.getElementById('grid').getAttribute('aria-busy') === 'false'")
                timings[name] = time.perf_counter() - started
            count = page.inner_text("#count")
            browser.close()
    print(f"rows: {args.rows:,}; site written in {written:.1f} s; data/index.js {index / 1e6:.2f} MB ({index / args.rows:.0f} bytes a row)")
    print(f"first page of cards shown after {first:.2f} s")
    for name, seconds in timings.items():
        print(f"{name}: {seconds * 1000:.0f} ms")
    print(f"shown after both: {count}")


if __name__ == "__main__":
    main()
