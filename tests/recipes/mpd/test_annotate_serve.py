"""`synesthesia annotate serve` end to end, as a person runs it: a fresh data
folder, the command in a subprocess (Label Studio from its own venv, the
campaign's state under a temporary XDG_DATA_HOME), logins printed once and
kept private, only the dataset's media served, a generated rater who sees
their queue and rates a pair in Chromium at 1366×768, `annotate pull` and
`annotate status --live` without flags, Ctrl-C, a second run resuming, and
`annotate run` pushing the next phase's queues to it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pytest

from support.labelstudio import (
    LAPTOP, artifact_dir, assert_on_screen, ensure_chromium, ensure_labelstudio, free_port, labelstudio_venv, log_in, set_scale,
    submit_button, wait_for_media,
)
from synesthesia.annotation.simulate import SimulatedRaters
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes import mpd as MA
from synesthesia.recipes.mpd.campaign import planned_raters

pytestmark = pytest.mark.slow

READY = "Ctrl-C stops the server"


class Serve:
    """One `annotate serve` process; its output collected line by line."""

    def __init__(self, args: list[str], env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "synesthesia", "annotate", "serve", *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if READY in line:
                self.ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 600) -> str:
        deadline = time.time() + timeout
        while not self.ready.wait(1):
            assert self.proc.poll() is None, f"annotate serve exited with {self.proc.returncode}:\n{self.output[-3000:]}"
            assert time.time() < deadline, f"annotate serve not ready after {timeout} s:\n{self.output[-3000:]}"
        return self.output

    def stop(self, sig=signal.SIGINT, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture(scope="module")
def served(mpd_annotation_phases, repo_root, tmp_path_factory):
    ensure_labelstudio(repo_root)  # the one-time install stays out of the command's own start
    root = tmp_path_factory.mktemp("serve")
    ds = Path(shutil.copytree(mpd_annotation_phases["phase1"], root / "ds", symlinks=True))
    pairs = dio.read_table(ds / "pairs.parquet").to_pylist()
    gold = root / "gold.csv"
    gold.write_text("kind,painting_id,clip_id,score,query_id,better_id,worse_id\n"
                    + "".join(f"ratings,{p['painting_id']},{p['clip_id']},{0.1 + 0.1 * i:.1f},,,\n" for i, p in enumerate(pairs[:6])))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO")}
    env.update(XDG_DATA_HOME=str(root / "xdg"), SYNESTHESIA_LABEL_STUDIO_VENV=str(labelstudio_venv(repo_root)))
    port = free_port()
    serve = Serve(["--dataset", str(ds), "--port", str(port), "--gold", str(gold), "--gold-share", "0.1", "--repeat-share", "0.1"], env)
    try:
        out = serve.wait_ready()
        token = re.search(r"API token: (\w+)", out).group(1)
        raters = dict(re.findall(r"^\s+(rater-\d+)\s+\S+@\S+\s+password: (\S+)", out, flags=re.M))
        url = f"http://127.0.0.1:{port}"
        yield {"ds": ds, "root": root, "env": env, "port": port, "url": url, "serve": serve, "token": token, "raters": raters}
    finally:
        serve.stop()


def cli(served, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "synesthesia", *args], env=served["env"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert served["token"] not in done.stdout + done.stderr
    return done.stdout


def test_serve_prints_the_logins_once_and_keeps_the_secrets_private(served):
    ds, out = served["ds"], served["serve"].output
    planned = planned_raters(ds)
    assert sorted(served["raters"]) == planned  # one generated account per planned rater, with its password
    assert out.count(served["token"]) == 1 and "shown this once" in out
    state_file = next((served["root"] / "xdg" / "synesthesia" / "label-studio").glob("*/campaign.json"))
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600 and stat.S_IMODE(state_file.parent.stat().st_mode) == 0o700
    assert json.loads(state_file.read_text())["admin"]["token"] == served["token"]
    assert served["token"] not in (state_file.parent / "label-studio.log").read_text(errors="replace")
    for path in ds.rglob("*"):  # nothing in the dataset folder holds the token
        if path.is_file() and not path.is_symlink():
            assert served["token"].encode() not in path.read_bytes(), path
    projects = json.loads((ds / MA.PROJECTS).read_text())
    assert sorted(e["rater"] for e in projects.values()) == planned and {e["kind"] for e in projects.values()} == {"ratings"}
    queues = dio.read_table(ds / MA.QUEUES).to_pandas()
    assert f"{len(queues)} in the queues, of which {(queues['check'] == 'gold').sum()} gold" in out
    assert json.loads((ds / MA.SERVER_POINTER).read_text())["url"] == served["url"]


def test_a_generated_rater_sees_their_queue_rates_in_the_browser_and_pull_brings_it_back(served, tmp_path_factory):
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    ds, url = served["ds"], served["url"]
    screens = artifact_dir(tmp_path_factory)
    rater = "rater-01"
    entry = json.loads((ds / MA.PROJECTS).read_text())[f"ratings/{rater}"]
    queue = dio.read_table(ds / MA.QUEUES).to_pandas().query("rater_id == @rater and project_kind == 'ratings'").sort_values("position")
    first = queue["item_id"].iloc[0]
    assert queue["check"].iloc[0] == ""  # a planned pair comes first, so its rating is a rating
    painting = dio.read_table(ds / "paintings.parquet").to_pylist()[0]["path"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=ensure_chromium(), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport=LAPTOP)
        try:
            log_in(page, url, f"{rater}@campaign.local", served["raters"][rater])
            project = page.request.get(f"{url}/api/projects/{entry['project_id']}/").json()
            assert project["task_number"] == len(queue) and rater in project["title"]
            # Label Studio serves the dataset's media and nothing else of the folder
            assert page.request.get(f"{url}/data/local-files/?d={quote('paintings/' + painting)}").status == 200
            for outside in ("dataset.json", "../dataset.json", "../../dataset.json", "clips/../../../dataset.json"):
                assert page.request.get(f"{url}/data/local-files/?d={quote(outside)}").status != 200, outside
            page.goto(f"{url}/projects/{entry['project_id']}/data?labeling=1")  # "Label All Tasks"
            wait_for_media(page)
            assert_on_screen(page, "ratings")
            page.screenshot(path=str(screens / "serve-rater-before.png"))
            assert submit_button(page).is_disabled()
            assert set_scale(page, 0.37) == "0.37"
            assert_on_screen(page, "ratings")
            page.screenshot(path=str(screens / "serve-rater-answered.png"))
            submit_button(page).click()
            page.get_by_text("Annotation saved successfully").first.wait_for(timeout=30_000)  # the toast may show twice
            page.screenshot(path=str(screens / "serve-rater-next.png"))
        except Exception:
            page.screenshot(path=str(screens / "serve-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    out = cli(served, "annotate", "pull", "--dataset", str(ds))  # no URL, no key: the served campaign's
    assert "imported ratings" in out
    user = json.loads((ds / MA.PROJECTS).read_text())[f"ratings/{rater}"]["user_id"]
    ratings = dio.read_table(ds / MA.RATINGS_FILE).to_pylist()
    assert [(r["pair_id"], r["rater_id"], r["score"]) for r in ratings] == [(first, f"ls-user-{user}", 0.37)]
    live = cli(served, "annotate", "status", "--dataset", str(ds), "--live")
    assert re.search(rf"^\s+{rater}\s+{rater}@campaign.local\s+1/{len(queue)}\s", live, flags=re.M), live
    assert f"1 of {len(dio.read_table(ds / MA.QUEUES))} tasks done" in live


def test_ctrl_c_stops_the_server_and_a_second_run_resumes(served):
    ds, port = served["ds"], served["port"]
    projects = (ds / MA.PROJECTS).read_text()
    assert served["serve"].stop(signal.SIGINT) == 0
    assert "stopped." in served["serve"].output
    from synesthesia.annotation.labelstudio.server import port_is_free

    assert port_is_free(port)  # Label Studio went with it
    again = Serve(["--dataset", str(ds)], served["env"])  # the port and everything else as recorded
    try:
        out = again.wait_ready()
        assert "resumed" in out and served["token"] not in out
        assert "(0 new), 0 tasks pushed now" in out
        assert (ds / MA.PROJECTS).read_text() == projects
        assert cli(served, "annotate", "pull", "--dataset", str(ds)).count("imported ratings") == 1  # the same server data
        assert dio.read_table(ds / MA.RATINGS_FILE).num_rows == 1
        # enough ratings for phase 2 (simulated, written directly): `annotate run` pushes the preference queues
        simulated = SimulatedRaters(seed=5).rate(dio.read_table(ds / MA.ASSIGNMENTS, S.MPD_ASSIGNMENTS))
        dio.write_table(pa.concat_tables([dio.read_table(ds / MA.RATINGS_FILE, S.MPD_RATINGS), simulated]), ds / MA.RATINGS_FILE, S.MPD_RATINGS)
        out = cli(served, "annotate", "run", "--dataset", str(ds), "--runner", "threads")
        n = len(planned_raters(ds))
        for kind in S.PREFERENCE_KINDS:
            assert f"{kind}: {n} rater projects ({n} new)" in out, out
        kinds = [e["kind"] for e in json.loads((ds / MA.PROJECTS).read_text()).values()]
        assert all(kinds.count(k) == n for k in ("ratings", *S.PREFERENCE_KINDS))
        queued = dio.read_table(ds / MA.QUEUES).to_pandas().groupby("project_kind").size()
        assert all(f"{queued[k]} tasks pushed now; {queued[k]} in the queues" in out for k in S.PREFERENCE_KINDS)
    finally:
        assert again.stop(signal.SIGTERM) == 0
