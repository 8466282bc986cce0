"""The real Label Studio round trip: a Label Studio 1.23 server on 127.0.0.1
(its own virtual environment, created here when missing), projects pushed
with `synesthesia annotate push`, annotations by five users created through
the API, pulled with `synesthesia annotate pull`, imported, scored; and the
labeling pages answered in headless Chromium, whose answers must come back
exactly in the export, on a 1366×768 screen without scrolling. One server
and one browser session for the module."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from support.labelstudio import (
    LAPTOP, LabelStudioServer, artifact_dir, assert_on_screen, ensure_chromium, ensure_labelstudio, log_in, set_scale, submit_button, wait_for_media,
)
from support.mpd_phases import ANNOTATION, CONFIG
from synesthesia.annotation.labelstudio import client as C
from synesthesia.datasets import io as dio
from synesthesia.recipes import mpd as MA
from synesthesia.recipes.mpd.campaign import planned_raters
from synesthesia.datasets import schema as S

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def server(repo_root, tmp_path_factory):
    """Launched first (session scope, listed first below) so that its ~40 s
    first start overlaps with building the MPD folder; `client` waits for it."""
    exe = ensure_labelstudio(repo_root)
    # the document root must hold the corpus (paintings) and the dataset folders
    srv = LabelStudioServer(exe, tmp_path_factory.mktemp("label-studio"), tmp_path_factory.getbasetemp()).launch()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    from label_studio_sdk import LabelStudio

    server.wait_ready()
    return LabelStudio(base_url=server.url, api_key=server.token)


def cli(server, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LABEL_STUDIO_URL=server.url, LABEL_STUDIO_API_KEY=server.token)
    done = subprocess.run([sys.executable, "-m", "synesthesia", *args], env=env, capture_output=True, text=True, timeout=600)
    assert server.token not in done.stdout + done.stderr, "the API key must never be printed"
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def live(server, mpd_annotation_phases, client, tmp_path_factory):
    """Two dataset folders pushed to the server: one in phase 1 (rating
    project) and one in phase 2 (the two preference projects); five raters."""
    root = tmp_path_factory.mktemp("live")
    ds_r = Path(shutil.copytree(mpd_annotation_phases["phase1"], root / "ratings-ds"))
    ds_p = Path(shutil.copytree(mpd_annotation_phases["phase2"], root / "prefs-ds"))
    doc_root = str(server.document_root)
    pushed = {
        "ratings": cli(server, "annotate", "push", "--dataset", str(ds_r), "--kind", "ratings", "--document-root", doc_root).stdout,
        "preferences": cli(server, "annotate", "push", "--dataset", str(ds_p), "--kind", "preferences", "--document-root", doc_root).stdout,
    }
    users = []
    for i in range(5):
        u = client.users.create(username=f"rater{i}", email=f"rater{i}@synesthesia.test", password=f"pw-{i}-{server.password}")
        users.append(int(u.id))
    projects = {**C.load_projects(ds_r / MA.PROJECTS), **C.load_projects(ds_p / MA.PROJECTS)}
    tasks = {}
    for kind, info in projects.items():
        key = "pair_id" if kind == "ratings" else "task_id"
        tasks[kind] = {t["data"][key]: t["id"] for t in json.loads(C.export_tasks(client, info["project_id"]))}
    return {"ds_r": ds_r, "ds_p": ds_p, "pushed": pushed, "users": users, "projects": projects, "tasks": tasks}


def number(x):
    return [{"from_name": "coherence", "to_name": "painting", "type": "number", "value": {"number": x}}]


def choose(x, to_name):
    return [{"from_name": "preference", "to_name": to_name, "type": "choices", "value": {"choices": [x]}}]


API_PAIRS = 6


def test_push_creates_projects_with_our_ids_and_is_safe_to_repeat(server, live):
    ds_r = live["ds_r"]
    pairs = dio.read_table(ds_r / "pairs.parquet")
    assert sorted(live["tasks"]["ratings"]) == sorted(pairs["pair_id"].to_pylist())
    ptasks = dio.read_table(live["ds_p"] / MA.PREFERENCE_TASKS_FILE).to_pylist()
    for kind in S.PREFERENCE_KINDS:
        assert sorted(live["tasks"][kind]) == sorted(t["task_id"] for t in ptasks if t["kind"] == kind)
    assert f"{pairs.num_rows} tasks imported" in live["pushed"]["ratings"]
    again = cli(server, "annotate", "push", "--dataset", str(ds_r), "--kind", "ratings", "--document-root", str(server.document_root)).stdout
    assert "reused" in again and f"0 tasks imported, {pairs.num_rows} already there" in again
    assert server.token not in (ds_r / MA.PROJECTS).read_text()


def test_ratings_by_five_users_round_trip_into_scores(server, client, live):
    ds, users, task_ids = live["ds_r"], live["users"], live["tasks"]["ratings"]
    chosen = sorted(task_ids)[:API_PAIRS]
    expected: dict = {}
    for i, pair in enumerate(chosen):
        for u, uid in enumerate(users):
            value = round(0.05 + 0.15 * u + 0.02 * i, 2)
            if i == API_PAIRS - 1 and u == 0:  # skipped
                client.annotations.create(task_ids[pair], result=[], completed_by=uid, was_cancelled=True)
                continue
            if i == API_PAIRS - 1 and u == 1:  # outside [0, 1]: the server accepts it, the import must not
                client.annotations.create(task_ids[pair], result=number(1.5), completed_by=uid, lead_time=4.0)
                continue
            client.annotations.create(task_ids[pair], result=number(value), completed_by=uid, lead_time=10.0 + u)
            expected[(pair, f"ls-user-{uid}")] = value
    time.sleep(1.1)  # the repeat must be later than the first annotation
    client.annotations.create(task_ids[chosen[0]], result=number(0.99), completed_by=users[2], lead_time=3.0)
    expected[(chosen[0], f"ls-user-{users[2]}")] = 0.99

    out = cli(server, "annotate", "pull", "--dataset", str(ds), "--kind", "ratings").stdout
    assert "imported ratings" in out
    saved = list((ds / MA.LABELSTUDIO / "exports").glob("ratings-*.json"))
    assert len(saved) == 1 and len(json.loads(saved[0].read_text())) == len(task_ids)
    ratings = dio.read_table(ds / MA.RATINGS_FILE, S.MPD_RATINGS)
    got = {(r["pair_id"], r["rater_id"]): r["score"] for r in ratings.to_pylist()}
    assert got == expected
    assert set(ratings["source"].to_pylist()) == {"labelstudio"}
    reasons = sorted(r["reason"] for r in dio.read_table(ds / MA.REJECTS).to_pylist())
    assert reasons == ["outside [0, 1]", "repeated", "skipped"]

    summary = MA.score_ratings(ds, ANNOTATION, CONFIG.seed)
    scores = {r["pair_id"]: r for r in dio.read_table(ds / MA.SCORES).to_pylist()}
    assert summary["scored"] == API_PAIRS and summary["raters"] == 5
    for pair in chosen:
        values = sorted(v for (p, _), v in expected.items() if p == pair)
        assert scores[pair]["n_ratings"] == len(values)
        assert scores[pair]["score"] == pytest.approx(np.mean(values[1:-1]))
        assert scores[pair]["sigma"] == pytest.approx(np.std(values))


def test_preference_votes_round_trip_into_consensus(server, client, live):
    ds, users = live["ds_p"], live["users"]
    tasks = {t["task_id"]: t for t in dio.read_table(ds / MA.PREFERENCE_TASKS_FILE).to_pylist()}
    cgp = sorted(live["tasks"]["clips_given_painting"])
    pgc = sorted(live["tasks"]["paintings_given_clip"])
    plan = {  # task → votes of users 0, 1, 2 ("-" = skipped)
        ("clips_given_painting", cgp[0]): "aab",
        ("clips_given_painting", cgp[1]): "bbb",
        ("paintings_given_clip", pgc[0]): "ab-",
    }
    for (kind, task_id), votes in plan.items():
        to_name = "painting" if kind == "clips_given_painting" else "clip"
        for uid, v in zip(users, votes):
            ls_id = live["tasks"][kind][task_id]
            if v == "-":
                client.annotations.create(ls_id, result=[], completed_by=uid, was_cancelled=True)
            else:
                client.annotations.create(ls_id, result=choose(v, to_name), completed_by=uid)
    out = cli(server, "annotate", "pull", "--dataset", str(ds), "--kind", "preferences").stdout
    assert out.count("imported preferences") == 2
    votes = {(r["task_id"], r["rater_id"]): (r["choice"], r["chosen_id"]) for r in dio.read_table(ds / MA.PREFERENCE_VOTES).to_pylist()}
    assert len(votes) == 8
    t0 = tasks[cgp[0]]
    assert votes[(cgp[0], f"ls-user-{users[2]}")] == ("b", t0["candidate_b"])
    summary = MA.finish(ds, ANNOTATION)
    pairs = {r["task_id"]: r for r in dio.read_table(ds / MA.PREFERENCE_PAIRS).to_pylist()}
    assert set(pairs) == {cgp[0], cgp[1]}
    assert (pairs[cgp[0]]["chosen_id"], pairs[cgp[0]]["rejected_id"], pairs[cgp[0]]["votes_for"], pairs[cgp[0]]["votes_total"]) == (
        t0["candidate_a"], t0["candidate_b"], 2, 3)
    assert (pairs[cgp[1]]["chosen_id"], pairs[cgp[1]]["votes_for"]) == (tasks[cgp[1]]["candidate_b"], 3)
    assert summary["paintings_given_clip"]["waiting"] == 1  # two valid votes: not enough for consensus
    st = MA.status(ds)  # the consensus so far is written, but the status says what is still missing
    no_votes = sum(summary[k]["no_votes"] for k in S.PREFERENCE_KINDS)
    assert st["phase"] == MA.WAITING_FOR_MORE_VOTES
    assert f"1 tasks have fewer than {ANNOTATION.consensus.min_votes} votes and {no_votes} have none" in st["message"]


def test_browser_pages_fit_a_laptop_and_answers_come_back_exactly(server, client, live, tmp_path_factory):
    """The three labeling pages at 1366×768 in Label Studio's data manager
    (the narrower view, beside the task list): every part on screen (bounding
    boxes), the scale refused until touched, keyboard answers; then the
    exported values are exactly what the page showed."""
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    screens = artifact_dir(tmp_path_factory)
    ds_r, ds_p = live["ds_r"], live["ds_p"]
    rating_pair = sorted(live["tasks"]["ratings"])[API_PAIRS]  # not touched by the API test
    cgp_task = sorted(live["tasks"]["clips_given_painting"])[2]
    pgc_task = sorted(live["tasks"]["paintings_given_clip"])[1]
    pages = [
        ("ratings", live["tasks"]["ratings"][rating_pair], 0.37),
        ("clips_given_painting", live["tasks"]["clips_given_painting"][cgp_task], "b"),
        ("paintings_given_clip", live["tasks"]["paintings_given_clip"][pgc_task], "a"),
    ]
    timings = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=ensure_chromium(), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport=LAPTOP)
        try:
            log_in(page, server.url, server.email, server.password)
            for kind, task_id, answer in pages:
                started = time.perf_counter()
                page.goto(f"{server.url}/projects/{live['projects'][kind]['project_id']}/data?task={task_id}")
                wait_for_media(page)
                assert page.get_by_text("There was an issue loading").count() == 0
                assert_on_screen(page, kind)
                page.screenshot(path=str(screens / f"live-{kind}-before.png"))
                assert submit_button(page).is_disabled(), f"{kind}: Submit must wait for an answer"
                page.keyboard.press("Control+Enter")  # the submit key does nothing either
                assert page.get_by_text("Annotation saved successfully").count() == 0
                if kind == "ratings":
                    assert "not set" in page.locator(".mpd-scale output").evaluate("e => getComputedStyle(e, '::after').content")
                    assert set_scale(page, answer) == "0.37" and page.input_value("input[type=range][name=coherence]") == "0.37"
                else:
                    if kind == "clips_given_painting":  # Shift+2 plays clip B: its time moves
                        page.keyboard.press("Shift+2")
                        clip_b = page.locator("[data-testid=timebox-current-time] input").nth(1)
                        page.wait_for_function("e => e.value !== '00:00:00:000'", arg=clip_b.element_handle(), timeout=20_000)
                        page.keyboard.press("Shift+2")
                    page.keyboard.press(answer)  # the A / B keys
                    label = ("Clip " if kind == "clips_given_painting" else "Painting ") + answer.upper()
                    assert page.get_by_role("radio", name=label).is_checked()
                assert submit_button(page).is_enabled()
                assert_on_screen(page, kind)
                page.screenshot(path=str(screens / f"live-{kind}-answered.png"))
                submit_button(page).click()
                saved = page.get_by_text("Annotation saved successfully")
                refused = page.get_by_text("is required")
                saved.or_(refused).first.wait_for(timeout=30_000)
                assert refused.count() == 0, f"{kind}: Label Studio did not take the answer"
                timings[kind] = time.perf_counter() - started
        except Exception:
            page.screenshot(path=str(screens / "live-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    print("seconds per labeling page:", {k: round(v, 1) for k, v in timings.items()})

    me = client.users.whoami().id
    answers = {}
    for kind, task_id, _ in pages:
        export = json.loads(C.export_tasks(client, live["projects"][kind]["project_id"]))
        (task,) = [t for t in export if t["id"] == task_id]
        (mine,) = [a for a in task["annotations"] if a["completed_by"] == me]
        answers[kind] = mine["result"][0]["value"]
    assert answers == {"ratings": {"number": 0.37}, "clips_given_painting": {"choices": ["b"]}, "paintings_given_clip": {"choices": ["a"]}}
    # and the importer turns them into our rows
    cli(server, "annotate", "pull", "--dataset", str(ds_r), "--kind", "ratings")
    ratings = {(r["pair_id"], r["rater_id"]): r["score"] for r in dio.read_table(ds_r / MA.RATINGS_FILE).to_pylist()}
    assert ratings[(rating_pair, f"ls-user-{me}")] == 0.37
    cli(server, "annotate", "pull", "--dataset", str(ds_p), "--kind", "preferences")
    votes = {(r["task_id"], r["rater_id"]): r["choice"] for r in dio.read_table(ds_p / MA.PREFERENCE_VOTES).to_pylist()}
    assert votes[(cgp_task, f"ls-user-{me}")] == "b" and votes[(pgc_task, f"ls-user-{me}")] == "a"


def test_a_campaign_on_a_team_server_waits_for_the_raters_accounts(server, client, mpd_annotation_phases, tmp_path):
    """The documented steps for a team's Label Studio: URL and key from the
    environment, raters who signed up themselves, `push --raters-file` making
    one project per rater, `status --live` reading them."""
    ds = Path(shutil.copytree(mpd_annotation_phases["phase1"], tmp_path / "team-ds", symlinks=True))
    planned = planned_raters(ds)
    emails = [f"team{i:02d}@synesthesia.test" for i in range(len(planned))]
    raters = tmp_path / "raters.csv"
    raters.write_text("email,name\n" + "".join(f"{e},Rater {i}\n" for i, e in enumerate(emails)))
    for e in emails[:5]:
        client.users.create(username=e.split("@")[0], email=e)
    push = ["annotate", "push", "--dataset", str(ds), "--raters-file", str(raters), "--document-root", str(server.document_root)]
    env = dict(os.environ, LABEL_STUDIO_URL=server.url, LABEL_STUDIO_API_KEY=server.token)
    refused = subprocess.run([sys.executable, "-m", "synesthesia", *push], env=env, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and f"{len(planned) - 5} rater(s) have no account" in refused.stderr and emails[5] in refused.stderr
    assert not (ds / MA.PROJECTS).exists() and not (ds / MA.QUEUES).exists()  # nothing half-done
    users = {e: int(client.users.create(username=e.split("@")[0], email=e).id) for e in emails[5:]}
    out = cli(server, *push).stdout
    assert f"ratings: {len(planned)} rater projects ({len(planned)} new)" in out and "password" not in out  # nobody's password is made here
    projects = C.load_projects(ds / MA.PROJECTS)
    assert sorted(e["rater"] for e in projects.values()) == planned
    assert all(projects[f"ratings/{planned[i]}"]["user_id"] == users[emails[i]] for i in range(5, len(planned)))
    queues = dio.read_table(ds / MA.QUEUES).to_pandas()
    live = cli(server, "annotate", "status", "--dataset", str(ds), "--live").stdout
    for rid, mine in queues.groupby("rater_id"):
        assert re.search(rf"^\s+{rid}\s+ls-user-\d+\s+0/{len(mine)}\s", live, flags=re.M), live
