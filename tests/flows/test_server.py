"""Without PREFECT_API_URL a command starts one embedded Prefect server for
the whole process (the demo's datasets share it, and so do the threads and
worker processes of a process-pool task runner), without Prefect's block
types, with its output in a log file, and stops it at exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import json, os, httpx
    from synesthesia.flows.runner import run_flow, start_prefect_api
    start_prefect_api()  # in the background, as the commands do
    from prefect import flow
    from synesthesia.flows import server

    from prefect.server.api.server import SubprocessASGIServer
    from synesthesia.flows.runner import RunnerConfig
    from synesthesia.flows.tasks import shard_runner
    from synesthesia.stages.shards import plan_shards
    from support.flaky import flaky_step

    ephemeral = []  # Prefect's own ephemeral servers started in this process
    start = SubprocessASGIServer.start
    SubprocessASGIServer.start = lambda self, *a, **k: (ephemeral.append(1), start(self, *a, **k))[1]

    @flow
    def trivial(n: int) -> int:
        return n + 1

    @flow
    def pooled(folder: str) -> int:
        with shard_runner(RunnerConfig("local", 2)) as run:
            return len(run(flaky_step, plan_shards("pool", list(range(4)), 2), folder=folder, failure=None))

    urls = []
    for n in range(2):  # two flow runs, one server
        assert run_flow(trivial, n) == n + 1
        urls.append(os.environ["PREFECT_API_URL"])
    assert run_flow(pooled, os.environ["TMPDIR"]) == 2
    assert not ephemeral, "a second (ephemeral) Prefect server was started"
    block_types = httpx.post(urls[0] + "/block_types/filter", json={}).json()
    print(json.dumps({"urls": urls, "block_types": len(block_types), "log": str(server._embedded["server"].log),
                      "log_exists": server._embedded["server"].log.exists()}))
    """
)


def test_one_embedded_server_per_process_without_block_types_stopped_at_exit(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path), PYTHONPATH=str(Path(__file__).parents[1]))
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (url,) = set(result["urls"])
    assert url.startswith("http://127.0.0.1:") and url.endswith("/api")
    assert result["block_types"] == 0  # not registered (nor their registry hashed) at start
    assert result["log_exists"] and not os.path.exists(result["log"])  # the server wrote there; removed at a clean stop
    assert "Traceback" not in done.stderr and "Starting temporary server" not in done.stderr
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/health", timeout=2)  # stopped with the process
