"""The builds as Prefect deployments on a real server: `prefect server start`
on 127.0.0.1 (a fresh database), the work pool and the deployments of the
repository's prefect.yaml (`prefect deploy --all`), and a process worker.
Runs started with JSON parameters (`prefect deployment run --params`: the
`config` of a CLI build's dataset.json) build the same folders as the CLI; a
flow run carries one named task per stage, progress artifacts, and the
report and its headline tables as artifacts."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from support.servers import BIN, Service, eventually, prefect_server

from synesthesia.cli import app
from synesthesia.datasets.compare import VOLATILE, compare_folders
from synesthesia.datasets.synthetic_museart import MuseartCorpusSpec, make_museart_corpus

pytestmark = pytest.mark.slow

#: A CLI build records how it was run; a deployment run has its parameters in Prefect instead.
IGNORED = VOLATILE | {"run_config"}


@pytest.fixture(scope="module")
def deployed(repo_root, tmp_path_factory):
    """The server, `prefect work-pool create`, `prefect deploy --all` from the repository, and a worker."""
    work = tmp_path_factory.mktemp("prefect-server")
    server, env = prefect_server(work)
    worker = None
    try:
        prefect = str(BIN / "prefect")
        for args in (["work-pool", "create", "synesthesia", "--type", "process"], ["--no-prompt", "deploy", "--all"]):
            done = subprocess.run([prefect, *args], env=env, cwd=repo_root, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        worker = Service("prefect worker", [prefect, "worker", "start", "--pool", "synesthesia"], work / "worker.log", env, cwd=repo_root)
        yield env
    finally:
        if worker is not None:
            worker.stop()
        server.stop()


def run_deployment(env: dict, name: str, parameters: dict, completes: bool = True) -> str:
    """`prefect deployment run NAME --params JSON --watch`; returns the flow run's id."""
    args = [str(BIN / "prefect"), "deployment", "run", name, "--params", json.dumps(parameters), "--watch", "--watch-timeout", "900"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=960)
    output = done.stdout + done.stderr
    if completes:
        assert done.returncode == 0 and "completed" in output.lower(), output[-3000:]
    else:
        assert done.returncode == 1 and "finished in state 'failed'" in output.lower(), output[-3000:]
    return re.search(r"UUID:\s*([0-9a-f-]{36})", output).group(1)


def cli(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output[-3000:]


def moved_aside(out: Path, to: Path) -> Path:
    """The CLI's folder, moved so the deployment can write the same path (the
    rating tasks link media by their path relative to the corpus)."""
    return out.rename(to)


def client_for(env: dict):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        return get_client(sync_client=True)


def test_mpd_deployment_builds_what_the_cli_builds_and_shows_tasks_progress_and_report(deployed, prefect_api, tiny_corpus, tmp_path):
    out = tmp_path / "run" / "mpd"
    common = ["--paintings", str(tiny_corpus["paintings"]), "--music", str(tiny_corpus["music"]), "--out", str(out)]
    cli("build", "mpd", *common, "--pairs", "60", "--seed", "4", "--ratings-per-pair", "3", "--shard-size", "5", "--runner", "threads")
    config = json.loads((out / "dataset.json").read_text())["config"]
    by_cli = moved_aside(out, tmp_path / "cli")
    parameters = {"paintings": str(tiny_corpus["paintings"]), "music": str(tiny_corpus["music"]), "out": str(out), "config": config, "shard_size": 5}
    flow_run = run_deployment(deployed, "build-mpd/mpd", parameters)  # prefect.yaml's runner: a process pool of 2
    assert compare_folders(by_cli, out, IGNORED) == []

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run]))
    stages = {"ingest-paintings", "ingest-music", "audio"}
    with client_for(deployed) as client:
        # the server records task runs from events, a moment after they happen
        tasks = eventually(lambda: client.read_task_runs(flow_run_filter=runs), lambda t: {r.task_key for r in t} == stages and all(r.state.is_completed() for r in t))
        artifacts = client.read_artifacts(flow_run_filter=runs)
    assert {t.task_key for t in tasks} == stages
    assert all(t.name.startswith(f"{t.task_key} shard ") and t.state.is_completed() for t in tasks)
    by_key = {a.key: a for a in artifacts if a.key}
    assert by_key["mpd-report"].type == "markdown" and by_key["mpd-report"].data == (out / "report.md").read_text()
    counts = json.loads(by_key["mpd-counts-per-stage"].data)
    assert {"stage": "pairs drawn", "count": str(pq.read_metadata(out / "pairs.parquet").num_rows)} in counts
    assert by_key["mpd-quarantine"].type == "table"
    progress = [a for a in artifacts if a.type == "progress"]
    # one per run of a stage; the annotation phase runs the audio stage again for
    # the listening copies (every shard found done: no task run)
    assert all(a.data == 100.0 for a in progress)
    assert sorted(a.description.split(":")[0] for a in progress) == sorted([*stages, "audio"])


def test_museart_and_artsound_deployments_build_what_the_cli_builds(deployed, prefect_api, tiny_corpus, tmp_path):
    museart = make_museart_corpus(tmp_path / "museart-corpus", MuseartCorpusSpec(categories=2, tracks_per_category=3, min_segments=1, max_segments=2, image_size=48, seed=9))
    out = tmp_path / "run" / "museart"
    cli("build", "museart", "--paintings", str(museart["images"]), "--music", str(museart["audio"]), "--csv-dir", str(museart["csv_dir"]),
        "--out", str(out), "--seed", "2", "--shard-size", "4", "--runner", "threads")
    config = json.loads((out / "dataset.json").read_text())["config"]
    config.pop("sample_rate")  # recorded for readers, derived from the clip config: not a field
    by_cli = moved_aside(out, tmp_path / "cli-museart")
    parameters = {"images": str(museart["images"]), "audio": str(museart["audio"]), "csv_dir": str(museart["csv_dir"]), "out": str(out), "config": config, "shard_size": 4}
    run_deployment(deployed, "build-museart/museart", parameters)
    assert compare_folders(by_cli, out, IGNORED) == []

    # ArtSound: offline captions (features), no ICS/ACS, MiniLM caption embeddings for the pairing phase.
    out = tmp_path / "run" / "artsound"
    cli("build", "artsound", "--paintings", str(tiny_corpus["paintings"]), "--music", str(tiny_corpus["music"]), "--out", str(out),
        "--captioner", "features", "--skip-ics", "--skip-acs", "--embedder", "minilm-text", "--approach", "caption-caption",
        "--approaches", "caption-caption", "--shard-size", "5", "--runner", "threads")
    manifest = json.loads((out / "dataset.json").read_text())
    by_cli = moved_aside(out, tmp_path / "cli-artsound")
    parameters = {
        "artworks": str(tiny_corpus["paintings"]), "music": str(tiny_corpus["music"]), "out": str(out), "shard_size": 5,
        "config": manifest["config"], "pairing": manifest["pairing"]["config"], "runner": {"runner": "threads", "workers": 2},
    }
    run_deployment(deployed, "build-artsound/artsound", parameters)
    assert compare_folders(by_cli, out, IGNORED) == []


def test_a_deployment_run_on_input_with_nothing_usable_fails_with_the_counts(deployed, prefect_api, tmp_path):
    """Not Completed: the run's state is Failed and its message says why (as
    the CLI's one `error:` line does), and nothing past ingest is written."""
    from PIL import Image

    paintings, music, out = tmp_path / "paintings", tmp_path / "music", tmp_path / "out"
    (paintings / "Baroque" / "portrait").mkdir(parents=True)
    Image.new("RGB", (32, 32), (200, 30, 30)).save(paintings / "Baroque" / "portrait" / "a.png")
    (music / "jazz").mkdir(parents=True)
    (music / "jazz" / "a.wav").write_bytes(b"RIFF\x00\x00not a wav")
    flow_run = run_deployment(deployed, "build-mpd/mpd", {"paintings": str(paintings), "music": str(music), "out": str(out)}, completes=False)
    with client_for(deployed) as client:
        state = client.read_flow_run(flow_run).state
    assert state.is_failed()
    assert f"no usable music tracks in {music}: 1 file(s) found, none usable" in state.message
    assert pq.read_table(out / "quarantine.parquet").column("path").to_pylist() == ["jazz/a.wav"]
    assert not (out / "pairs.parquet").exists()
