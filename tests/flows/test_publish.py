"""Publishing through the dispatcher (the recipe comes from dataset.json),
and the dataset browser in real headless Chromium: it loads the demo's
datasets from file:// and from its server, its first painting and audio
answer 200, filtering by split changes the count, sorting by score orders
the cards, paging moves on. Screenshots (1366×768) are saved under the
test's tmp folder, and copied to $SYNESTHESIA_SCREENSHOTS when it is set."""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from support.labelstudio import CHROMIUM, ensure_chromium
from synesthesia.datasets import io as dio
from synesthesia.flows import publish as P
from synesthesia.recipes.artsound import publish as artsound
from synesthesia.recipes.mpd import publish as mpd
from synesthesia.recipes.museart import publish as museart
from synesthesia.stages.publish.site import serve

VIEWPORT = {"width": 1366, "height": 768}


def test_the_recipe_comes_from_dataset_json(demo_folders, tmp_path):
    assert [P.recipe(demo_folders[name]) for name in ("mpd", "artsound", "museart")] == [mpd, artsound, museart]
    assert P.dataset_folders(demo_folders["root"]) == [demo_folders[n] for n in ("artsound", "mpd", "museart")]
    dio.write_manifest(tmp_path, {"dataset": "elsewhere"})
    with pytest.raises(ValueError, match="dataset 'elsewhere' has no publishing recipe"):
        P.publication(tmp_path)
    with pytest.raises(FileNotFoundError, match="no dataset.json"):
        P.dataset_folders(tmp_path / "nothing")


def _shots(tmp_path: Path) -> Path:
    return tmp_path / "screenshots"


def _save(page, tmp_path: Path, name: str) -> Path:
    path = _shots(tmp_path) / name
    page.screenshot(path=str(path))
    target = os.environ.get("SYNESTHESIA_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / name)
    return path


def _cards(page) -> list[dict]:
    page.wait_for_selector("#grid[aria-busy=false]")  # a render may wait for a chunk of rows to load
    return page.eval_on_selector_all(".card", "cs => cs.map(c => ({key: c.dataset.key, split: c.dataset.split, score: c.dataset.score}))")


def test_the_browser_in_chromium(demo_folders, tmp_path):
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    site = P.build_site(demo_folders["root"], tmp_path / "site", log=lambda m: None)
    splits = pq.read_table(demo_folders["mpd"] / "pairs.parquet").column("split").to_pylist()
    server, index_url = serve(site, 0)
    _shots(tmp_path).mkdir()
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport=VIEWPORT)
            page.on("pageerror", lambda e: errors.append(str(e)))

            # from disk: the landing page, then MPD
            page.goto((site.folder / "index.html").as_uri())
            assert page.locator(".list li").count() == 3
            page.goto((site.folder / "mpd" / "index.html").as_uri())
            page.wait_for_selector(".card img")
            assert page.inner_text("#count") == f"{len(splits)} of {len(splits)} pairs"
            page.wait_for_function("document.querySelector('.card img').naturalWidth > 0")
            _save(page, tmp_path, "browser-mpd-file.png")

            # served: the first painting and its audio answer 200; files beside them do not
            page.goto(index_url.replace("index.html", "mpd/index.html"))
            page.wait_for_selector(".card img")
            image = page.eval_on_selector(".card img", "i => i.currentSrc")
            audio = page.eval_on_selector(".card audio", "a => a.src")
            for url, kind in ((image, "image/jpeg"), (audio, "audio/flac")):
                response = page.request.get(url)
                assert response.status == 200 and response.headers["content-type"] == kind, url
            assert audio.endswith(".flac") and "/mpd/clips/" in audio  # the 15 s listening copy
            hidden = index_url.rsplit("/", 2)[0] + "/mpd/scores.parquet"
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(hidden)

            # filter by split: the count and every card follow
            first_page = [c["key"] for c in _cards(page)]
            page.select_option("#select-split", "val")
            n_val = splits.count("val")
            assert page.inner_text("#count") == f"{n_val} of {len(splits)} pairs"
            assert {c["split"] for c in _cards(page)} == {"val"} and len(_cards(page)) == min(n_val, 48)

            # sort by score: cards in order, both ways
            page.select_option("#select-split", "")
            page.select_option("#select-sort", "-score")
            scores = [float(c["score"]) for c in _cards(page)]
            assert len(scores) == 48 and scores == sorted(scores, reverse=True)
            assert scores[0] == max(pq.read_table(demo_folders["mpd"] / "scores.parquet").column("score").to_pylist())
            _save(page, tmp_path, "browser-mpd-by-score.png")
            page.select_option("#select-sort", "score")
            ascending = [float(c["score"]) for c in _cards(page)]
            assert ascending == sorted(ascending) and ascending[0] < scores[-1]

            # paging, and the state in the URL
            page.select_option("#select-sort", "")
            page.click("#next")
            second = [c["key"] for c in _cards(page)]
            assert page.inner_text("#page").startswith("page 2 of") and not set(second) & set(first_page)
            assert "page=2" in page.url
            page.goto(page.url.replace("page=2", "page=1&split=test"))
            page.reload()
            page.wait_for_selector(".card")
            assert {c["split"] for c in _cards(page)} == {"test"}

            # the other two datasets
            for name in ("artsound", "museart"):
                page.goto((site.folder / name / "index.html").as_uri())
                page.wait_for_selector(".card img")
                rows = pq.read_metadata(demo_folders[name] / "pairs.parquet").num_rows
                assert page.inner_text("#count") == f"{rows} of {rows} pairs"
                if name == "artsound":
                    page.click(".card details summary")
                    assert len(page.inner_text(".card details p")) > 40  # a caption
                _save(page, tmp_path, f"browser-{name}.png")
            browser.close()
    finally:
        server.shutdown()
    assert errors == []
