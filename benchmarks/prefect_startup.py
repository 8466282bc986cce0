"""Where a command's start-up goes: the Prefect API it needs, and an input error.

    python benchmarks/prefect_startup.py [--repeats 3]

Every figure is a median over ``--repeats`` fresh processes: the wall time,
and the CPU time (user + system) of the process and every process it
started (the server included), which is close to what the wall time is on an
idle machine and much steadier on a busy one. Each runs in a temporary
``PREFECT_HOME`` (so "fresh database" means a new SQLite file
that the server creates and migrates; "existing database" a second start on
it). Rows:

* an input error (``build mpd --paintings /nonexistent``): the checks run
  before Prefect is imported;
* the imports a command pays for: Prefect's client, and Prefect's server
  package, which Prefect's own ephemeral mode imports into the command's
  process to start its server (ours does not);
* the server process alone: importing the server app;
* start to ``/health`` of Prefect's ephemeral server (defaults: block types
  registered on the first start, the registry hashed on every start) and of
  ours (``synesthesia.flows.server.EmbeddedServer``: no block registration);
* end to end, from a new process to the first flow run finished on a trivial
  flow: Prefect's ephemeral mode as the commands used it before, and ours
  (the server started in the background while the flow module is imported);
* what each worker of the ``local`` runner's process pool imports before it
  runs its first shard (paid once per worker per flow run).

Prints the figures; asserts nothing (docs/performance.md quotes them).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}

PREFECT_SERVER_START = """
import time; t = time.perf_counter()
from prefect.server.api.server import SubprocessASGIServer
server = SubprocessASGIServer(); server.start(timeout=600)
print(time.perf_counter() - t); server.stop()
"""
OUR_SERVER_START = """
import time; t = time.perf_counter()
from synesthesia.flows.server import EmbeddedServer
server = EmbeddedServer(); server.start(600)
print(time.perf_counter() - t); server.stop()
"""
PREFECT_FIRST_RUN = """
import os, time; t = time.perf_counter()
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
from prefect import flow
from prefect.server.api.server import SubprocessASGIServer
@flow
def trivial(): return 1
server = SubprocessASGIServer(); server.start(timeout=600)
os.environ["PREFECT_API_URL"] = server.api_url
trivial()
print(time.perf_counter() - t); server.stop()
"""
WORKER_IMPORTS = "import prefect.task_engine, synesthesia.flows.tasks, synesthesia.stages.ingest, synesthesia.stages.audio"
OUR_FIRST_RUN = """
import time; t = time.perf_counter()
from synesthesia.flows.runner import run_flow, start_prefect_api
start_prefect_api()
from prefect import flow
@flow
def trivial(): return 1
run_flow(trivial)
print(time.perf_counter() - t)
"""


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], env: dict, repeats: int, fresh_home: bool, printed: bool = False) -> tuple[float, float]:
    """Median seconds of ``args``: (wall time, or the float the process prints; CPU time of its process tree)."""
    times, cpus = [], []
    home = tempfile.mkdtemp(prefix="prefect-home-")
    if not fresh_home:  # create the database first: the runs below start on an existing one
        subprocess.run(args, env={**env, "PREFECT_HOME": home}, capture_output=True, timeout=900)
    for _ in range(repeats):
        if fresh_home:
            home = tempfile.mkdtemp(prefix="prefect-home-")
        started, cpu = time.perf_counter(), _cpu_of_children()
        done = subprocess.run(args, env={**env, "PREFECT_HOME": home}, capture_output=True, text=True, timeout=900)
        wall = time.perf_counter() - started
        cpus.append(_cpu_of_children() - cpu)
        if printed:
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-2000:])
            wall = float(done.stdout.strip().splitlines()[-1])
        times.append(wall)
    return statistics.median(times), statistics.median(cpus)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    r = args.repeats
    with tempfile.TemporaryDirectory() as tmp:
        error = [sys.executable, "-m", "synesthesia", "build", "mpd", "--paintings", "/nonexistent", "--music", tmp, "--out", str(Path(tmp) / "o")]
        rows = [
            ("input error: `build mpd --paintings /nonexistent` (whole process)", timed(error, CLEAN_ENV, r, False)),
            ("client: import prefect and its flow API", timed(python("import prefect, prefect.flows, prefect.task_runners"), CLEAN_ENV, r, False)),
            ("client: + import prefect.server.api.server (Prefect's ephemeral mode)", timed(python("import prefect, prefect.flows; import prefect.server.api.server"), CLEAN_ENV, r, False)),
            ("server process: import the server app", timed(python("import prefect.server.api.server"), CLEAN_ENV, r, False)),
            ("Prefect's ephemeral server to /health, fresh database", timed(python(PREFECT_SERVER_START), CLEAN_ENV, r, True, True)),
            ("Prefect's ephemeral server to /health, existing database", timed(python(PREFECT_SERVER_START), CLEAN_ENV, r, False, True)),
            ("our embedded server to /health, fresh database", timed(python(OUR_SERVER_START), CLEAN_ENV, r, True, True)),
            ("our embedded server to /health, existing database", timed(python(OUR_SERVER_START), CLEAN_ENV, r, False, True)),
            ("new process to first flow run: Prefect's ephemeral mode (before), existing database", timed(python(PREFECT_FIRST_RUN), CLEAN_ENV, r, False, True)),
            ("new process to first flow run: ours, existing database", timed(python(OUR_FIRST_RUN), CLEAN_ENV, r, False, True)),
            ("a process-pool worker: import Prefect's task engine and the MPD stages", timed(python(WORKER_IMPORTS), CLEAN_ENV, r, False)),
        ]
    width = max(len(name) for name, _ in rows)
    print(f"median of {r} fresh processes, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'':<{width}}  {'wall':>8}  {'CPU':>8}")
    for name, (wall, cpu) in rows:
        print(f"{name:<{width}}  {wall:6.1f} s  {cpu:6.1f} s")


if __name__ == "__main__":
    main()
