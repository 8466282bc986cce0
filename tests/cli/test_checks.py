"""Every input check happens before Prefect starts: a missing or unreadable
input, an output that is a file, a folder of the wrong dataset kind, a Dask
scheduler or Prefect server that does not answer — one `error:` line, exit
status 2, and Prefect never imported. The help of each command lists only
options it has."""

from __future__ import annotations

import json
import os
import re

import pytest

from support.cli import assert_one_error_line, run_cli

@pytest.fixture
def folders(tmp_path, tiny_corpus):
    (tmp_path / "a-file").write_text("not a folder")
    museart = tmp_path / "museart"
    museart.mkdir()
    (museart / "dataset.json").write_text(json.dumps({"dataset": "museart", "config": {}}))
    (tmp_path / "empty").mkdir()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    yield {"paintings": str(tiny_corpus["paintings"]), "music": str(tiny_corpus["music"]), "museart": str(museart)}
    locked.chmod(0o755)


def test_bad_input_is_one_error_line_before_prefect_is_imported(tmp_path, folders):
    p, m = folders["paintings"], folders["music"]
    cases = {
        "--paintings /nonexistent: no such folder or file": ["build", "mpd", "--paintings", "/nonexistent", "--music", m, "--out", "o"],
        "--music /nonexistent: no such folder or file": ["build", "museart", "--paintings", p, "--music", "/nonexistent", "--out", "o"],
        "--paintings /nonexistent-wikiart: no such folder or file": ["build", "mpd", "--paintings", "wikiart:/nonexistent-wikiart?styles=mpd", "--music", m, "--out", "o"],
        "fma is a corpus of music (--music), not of images": ["build", "artsound", "--paintings", f"fma:{m}", "--music", m, "--out", "o", "--captioner", "features"],
        "the wikiart reader has no option 'style'": ["build", "museart", "--paintings", f"wikiart:{p}?style=x", "--music", m, "--out", "o"],
        "--csv-dir /nonexistent: no such folder or file": ["build", "museart", "--paintings", p, "--music", m, "--csv-dir", "/nonexistent", "--out", "o"],
        "--out a-file: is a file, not a folder": ["build", "mpd", "--paintings", p, "--music", m, "--out", "a-file"],
        "--out a-file/sub: a-file is a file, not a folder": ["build", "artsound", "--paintings", p, "--music", m, "--out", "a-file/sub", "--captioner", "features"],
        "--pac-weights /nonexistent.pth: no such folder or file": ["build", "artsound", "--paintings", p, "--music", m, "--out", "o", "--pac-weights", "/nonexistent.pth"],
        "holds a Museart dataset; this command works on ArtSound folders": ["build", "artsound-pairs", "--out", folders["museart"]],
        "holds a Museart dataset; this command works on MPD folders": ["annotate", "export", "--dataset", folders["museart"], "--kind", "ratings", "--out", "t.json"],
        "--dataset missing: no such folder (build it with `synesthesia build mpd`)": ["annotate", "status", "--dataset", "missing"],
        "--dataset empty: not a dataset folder (no dataset.json": ["annotate", "run", "--dataset", "empty"],
        "--dataset a-file: is a file, not a dataset folder": ["annotate", "push", "--dataset", "a-file", "--kind", "ratings"],
        "--dask-address tcp://127.0.0.1:9 needs --runner dask": ["build", "mpd", "--paintings", p, "--music", m, "--out", "o", "--dask-address", "tcp://127.0.0.1:9"],
        "--dask-address tcp://127.0.0.1:9: no Dask scheduler answers": ["demo", "--out", "o", "--runner", "dask", "--dask-address", "tcp://127.0.0.1:9"],
    }
    if os.geteuid() != 0:  # root reads anything
        cases["--paintings locked: not readable (permission denied)"] = ["build", "mpd", "--paintings", "locked", "--music", m, "--out", "o"]
    results = run_cli(list(cases.values()), cwd=tmp_path)
    for (expected, args), result in zip(cases.items(), results):
        assert_one_error_line(result, expected, args)
    assert not (tmp_path / "o").exists()


def test_a_prefect_server_that_does_not_answer_is_an_error_before_any_work(tmp_path, folders):
    env = {**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    (result,) = run_cli([["build", "mpd", "--paintings", folders["paintings"], "--music", folders["music"], "--out", "o"]], cwd=tmp_path, env=env)
    assert_one_error_line(result, "error: PREFECT_API_URL=http://127.0.0.1:9/api: no Prefect server answers")


def test_each_command_that_runs_a_flow_takes_the_runner_options_its_help_names():
    from typer.main import get_command

    from synesthesia.cli import app

    root = get_command(app)
    commands = {
        "build mpd": root.commands["build"].commands["mpd"],
        "build artsound": root.commands["build"].commands["artsound"],
        "build artsound-pairs": root.commands["build"].commands["artsound-pairs"],
        "build museart": root.commands["build"].commands["museart"],
        "annotate run": root.commands["annotate"].commands["run"],
        "demo": root.commands["demo"],
    }
    for name, command in commands.items():
        options = {o for p in command.params for o in p.opts}
        assert {"--runner", "--workers", "--dask-address", "--config"} <= options, name
        helps = " ".join(p.help or "" for p in command.params if not getattr(p, "hidden", False))
        named = set(re.findall(r"--[a-z][a-z-]+", helps))
        assert named <= options, (name, named - options)
    shard = {p.name: p.help for p in commands["annotate run"].params}["shard_size"]
    assert shard == {p.name: p.help for p in commands["build mpd"].params}["shard_size"]  # the shared definition
