"""`--runner dask --dask-address` on a real multi-process cluster started
here — a `dask scheduler` and two single-threaded `dask worker` processes on
127.0.0.1, reporting to the session's Prefect server: the MPD build equals the
thread runner's, and still does when one worker is SIGKILLed in the middle of
the mel stage (the scheduler runs the lost worker's tasks on the other)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from support.servers import dask_scheduler, dask_worker

from synesthesia.datasets.compare import compare_folders
from synesthesia.flows.mpd import build_mpd
from synesthesia.flows.runner import RunnerConfig
from synesthesia.recipes.mpd import MPDConfig

pytestmark = pytest.mark.slow

CONFIG = MPDConfig(n_pairs=60, seed=3)
SHARD_SIZE = 2


def build(corpus: dict, out: Path, runner: RunnerConfig) -> Path:
    build_mpd(corpus["paintings"], corpus["music"], out, CONFIG, SHARD_SIZE, runner)
    return out


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """Every build writes work/mpd and is then moved aside: the rating tasks
    link media by their path relative to the corpus, the same for all."""
    return tmp_path_factory.mktemp("dask-builds")


@pytest.fixture(scope="module")
def reference(prefect_api, tiny_corpus, work) -> Path:
    return build(tiny_corpus, work / "mpd", RunnerConfig("threads", 2)).rename(work / "threads")


@pytest.fixture(scope="module")
def cluster(prefect_api, work):
    env = dict(os.environ)  # PREFECT_API_URL: the workers report their task runs to the session's server
    scheduler, address = dask_scheduler(work, env)
    workers = []
    try:
        workers = [dask_worker(work, address, name, env) for name in ("w1", "w2")]
        yield address, workers
    finally:
        for service in (*workers, scheduler):
            service.stop()


def test_a_multi_process_cluster_builds_what_the_local_runner_builds(reference, cluster, tiny_corpus, work):
    address, _ = cluster
    out = build(tiny_corpus, work / "mpd", RunnerConfig("dask", 2, address))
    assert compare_folders(reference, out) == []
    out.rename(work / "dask")


def test_a_worker_killed_mid_stage_loses_nothing(reference, cluster, tiny_corpus, work):
    address, (w1, w2) = cluster
    out = work / "mpd"
    done: dict = {}
    run = threading.Thread(target=lambda: done.update(out=build(tiny_corpus, out, RunnerConfig("dask", 2, address))))
    run.start()
    n_shards = len(list((reference / "mels").glob("part-*.parquet")))
    deadline = time.time() + 600
    while time.time() < deadline and run.is_alive() and len(list((out / "mels").glob("part-*.parquet"))) < 1:
        time.sleep(0.02)
    finished_before_kill = len(list((out / "mels").glob("part-*.parquet")))
    w1.kill()
    run.join(900)
    assert not run.is_alive() and done.get("out") == out, "the build did not complete after the worker was killed"
    assert 1 <= finished_before_kill < n_shards, "the kill must land in the middle of the mel stage"
    assert w1.proc.poll() is not None and w2.proc.poll() is None
    assert "Remove worker" in (work / "dask-scheduler.log").read_text()
    assert compare_folders(reference, out) == []
