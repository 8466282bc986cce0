"""Test support: a real Label Studio server in its own virtual environment,
and Debian's Chromium for the browser tests.

The installing and starting is the package's own
(:mod:`synesthesia.annotation.labelstudio.server`, which ``synesthesia
annotate serve`` uses too); here its errors become ``pytest.fail`` and the
venv is ``REPO/.venv-labelstudio`` unless ``SYNESTHESIA_LABEL_STUDIO_VENV``
names another. ``make test-setup`` installs it before pytest runs
(``support.installs``), so no test's timeout includes an install.

* ``ensure_labelstudio``: the ``label-studio`` executable, or a failure that
  says to run the setup step.
* ``LabelStudioServer``: see the package class; ``start``/``wait_ready``
  here fail the test with the server's log tail (secrets scrubbed).
* ``ensure_chromium``: ``/usr/bin/chromium`` or, as root with apt-get,
  installs Debian's ``chromium``; otherwise fails with the command to run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synesthesia.annotation.labelstudio import server as LSS
from synesthesia.annotation.labelstudio.client import LabelStudioError

LABEL_STUDIO_SPEC = LSS.LABEL_STUDIO_SPEC
VENV_NAME = ".venv-labelstudio"
CHROMIUM = "/usr/bin/chromium"
free_port = LSS.free_port


def labelstudio_venv(repo_root: Path) -> Path:
    return Path(os.environ[LSS.VENV_ENV]) if os.environ.get(LSS.VENV_ENV) else repo_root / VENV_NAME


def ensure_labelstudio(repo_root: Path) -> Path:
    """The ``label-studio`` executable of the test venv (installed by ``make test-setup``)."""
    venv = labelstudio_venv(repo_root)
    if not LSS.installed(venv):
        pytest.fail(f"Label Studio is not installed in {venv}: run `make test-setup` (or `python scripts/test_setup.py labelstudio`) first")
    return LSS.executable(venv)


def ensure_chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make test-setup` (or `python scripts/test_setup.py chromium`; as root it runs `apt-get install -y chromium`)")


class LabelStudioServer(LSS.LabelStudioServer):
    """The package's server; a failure to start fails the test."""

    def launch(self) -> "LabelStudioServer":
        try:
            return super().launch()
        except LabelStudioError as exc:
            pytest.fail(str(exc))

    def wait_ready(self, timeout: float = 420.0) -> "LabelStudioServer":
        try:
            return super().wait_ready(timeout)
        except LabelStudioError as exc:
            pytest.fail(str(exc))


# --- the labeling pages in Chromium ----------------------------------------------------------

LAPTOP = {"width": 1366, "height": 768}
#: What must be on screen, without scrolling, on each page (CSS selectors of our configs' parts).
PAGE_PARTS = {
    "ratings": {"painting": ".mpd-art .lsf-image", "player": ".lsf-audio-tag", "player controls": "input[value$='00:15:000']",
                "scale": ".mpd-scale input[type=range]", "readout": ".mpd-scale output", "end labels": ".mpd-ends"},
    "clips_given_painting": {"painting": ".mpd-art .lsf-image", "player": ".lsf-audio-tag", "player controls": "input[value$='00:15:000']",
                             "A/B choice": ".mpd-choice"},
    "paintings_given_clip": {"painting": ".mpd-cand .lsf-image", "player": ".lsf-audio-tag", "player controls": "input[value$='00:15:000']",
                             "A/B choice": ".mpd-choice"},
}


def artifact_dir(tmp_path_factory) -> Path:
    """Where the browser tests save their screenshots: ``$SYNESTHESIA_TEST_ARTIFACTS`` or the session's temp folder."""
    folder = Path(os.environ.get("SYNESTHESIA_TEST_ARTIFACTS") or tmp_path_factory.getbasetemp() / "screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page, url: str, email: str, password: str) -> None:
    """Log in through the form (once the page has settled: a form filled
    before its scripts are up is submitted empty)."""
    page.goto(f"{url}/user/login/")
    page.wait_for_load_state("networkidle", timeout=60_000)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    assert page.input_value("input[name=password]") == password
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(lambda u: "/user/login" not in u, timeout=60_000)


def wait_for_media(page) -> None:
    """Until every player shows its clip's 15 s (the local-file media were served and decoded) and the images are drawn."""
    page.wait_for_load_state("networkidle", timeout=90_000)
    page.wait_for_function(
        "() => { const t = [...document.querySelectorAll('input[type=text]')].filter(e => e.value.endsWith('00:15:000'));"
        " return t.length > 0 && t.length === document.querySelectorAll('.lsf-audio-tag').length; }",
        timeout=90_000,
    )
    page.wait_for_function("() => [...document.querySelectorAll('img[alt=image]')].every(i => i.complete && i.naturalWidth > 0)", timeout=60_000)


def submit_button(page):
    return page.locator("button[name=submit]")


def assert_on_screen(page, kind: str) -> dict:
    """Every part of the page ``kind`` lies inside the viewport and above
    Label Studio's bottom bar (where Submit is), which itself is on screen:
    checked on bounding boxes. Returns the boxes."""
    view = page.viewport_size
    _settled(page, PAGE_PARTS[kind]["painting"])
    bar = page.locator(".lsf-bottombar").bounding_box()
    submit = submit_button(page).bounding_box()
    assert bar and submit, "no bottom bar / Submit button on the page"
    assert 0 <= submit["x"] and submit["x"] + submit["width"] <= view["width"] and submit["y"] + submit["height"] <= view["height"], submit
    boxes = {"Submit": submit}
    for what, selector in PAGE_PARTS[kind].items():
        found = page.locator(selector)
        assert found.count() >= 1, f"{kind}: no {what} ({selector}) on the page"
        for i in range(found.count()):
            box = found.nth(i).bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0, f"{kind}: {what} is not drawn"
            inside = box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= view["width"] + 0.5 and box["y"] + box["height"] <= bar["y"] + 0.5
            assert inside, f"{kind}: {what} #{i} at {box} is not fully on a {view['width']}x{view['height']} screen above the bottom bar (y={bar['y']})"
            boxes[f"{what} {i}"] = box
    return boxes


def _settled(page, selector: str, timeout: float = 30.0) -> None:
    """Wait until the boxes of ``selector`` stop moving (the image tag fits the painting after it loads)."""
    import time

    deadline, last = time.time() + timeout, None
    while time.time() < deadline:
        boxes = [page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())]
        if boxes and boxes == last:
            return
        last = boxes
        page.wait_for_timeout(400)
    raise AssertionError(f"{selector} kept moving for {timeout} s: {last}")


def set_scale(page, value: float) -> str:
    """Click the rating scale where ``value`` lies (the thumb's centre runs
    from 9 px to width − 9 px) and return what the page reads out."""
    scale = page.locator(".mpd-scale input[type=range]")
    box = scale.bounding_box()
    page.mouse.click(box["x"] + 9 + value * (box["width"] - 18), box["y"] + box["height"] / 2)
    return page.locator(".mpd-scale output").inner_text()
