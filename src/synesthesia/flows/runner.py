"""What every flow shares: the Prefect API, task runners, and the shard
runner that maps a recipe's shard steps onto Prefect tasks.

Recipes run their stages through a :data:`~synesthesia.stages.shards.ShardRunner`;
a flow hands them :func:`run_shards`, whose one Prefect task,
:func:`shard_task`, runs any shard step on whatever task runner the flow was
given, so the executors are interchangeable:

* ``local`` (default): Prefect's ``ProcessPoolTaskRunner`` bounded to
  ``workers`` processes (the stages are CPU-bound numpy/decoding work, so
  threads would serialise on the GIL);
* ``threads``: Prefect's ``ThreadPoolTaskRunner`` (cheap to start; for small
  inputs and I/O-bound steps);
* ``dask``: prefect-dask's ``DaskTaskRunner`` on an existing cluster
  (``dask_address``) or, without an address, a local cluster.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from synesthesia.datasets.locks import writer_lock
from synesthesia.stages.shards import Shard

log = logging.getLogger("synesthesia")

RUNNERS = ("local", "threads", "dask")


def configure_prefect_defaults() -> None:
    """Defaults for running Prefect offline on a workstation or CI machine.
    Anything the user already set wins."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")


def ensure_prefect_api() -> str:
    """Make sure a Prefect API is available and exported in ``os.environ``.

    Uses ``PREFECT_API_URL`` when configured (a real server, or the test
    harness); otherwise starts Prefect's embedded server once for this process.
    The URL is exported so worker processes (process pool, local Dask
    cluster) talk to the same server instead of each starting their own.
    """
    configure_prefect_defaults()
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()  # Prefect's own ephemeral-server singleton
        # Passed explicitly: Prefect reads its settings once, at import, so an
        # environment default set after that would not take effect.
        server.start(timeout=int(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))
        url = server.api_url
    os.environ["PREFECT_API_URL"] = url
    return url


@dataclass(frozen=True)
class RunnerConfig:
    runner: str = "local"
    workers: int = 2
    dask_address: str | None = None

    def __post_init__(self):
        if self.runner not in RUNNERS:
            raise ValueError(f"unknown runner {self.runner!r}; choose from {RUNNERS}")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")

    def task_runner(self):
        if self.runner == "threads":
            from prefect.task_runners import ThreadPoolTaskRunner

            return ThreadPoolTaskRunner(max_workers=self.workers)
        if self.runner == "local":
            from prefect.task_runners import ProcessPoolTaskRunner

            return ProcessPoolTaskRunner(max_workers=self.workers)
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:  # pragma: no cover - prefect-dask is a core dependency
            raise RuntimeError("the dask runner needs prefect-dask: pip install prefect-dask") from exc
        if self.dask_address:
            return DaskTaskRunner(address=self.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": self.workers, "threads_per_worker": 1, "dashboard_address": None})


def _shard_run_name() -> str:
    from prefect.runtime import task_run

    shard = task_run.parameters.get("shard")
    return shard.label if isinstance(shard, Shard) else "shard"


def _run_step(step: Callable[..., dict], shard: Shard, kwargs: dict) -> dict:
    # The step's own wall and CPU time (this worker's threads): what is left
    # of a stage's time beyond them is orchestration (benchmarks/*_scale.py).
    started, cpu = time.perf_counter(), time.process_time()
    result = dict(step(shard=shard, **kwargs))
    result.setdefault("seconds", round(time.perf_counter() - started, 3))
    result.setdefault("worker", os.getpid())  # which process ran it (so a report can say how many worked)
    result.setdefault("cpu_seconds", round(time.process_time() - cpu, 3))
    return result


def shard_task():
    """The Prefect task that runs one shard step (built lazily so importing
    this module does not import Prefect)."""
    from prefect import task

    return task(_run_step, name="shard", task_run_name=_shard_run_name, retries=0)


def run_shards(step: Callable[..., dict], shards: Sequence[Shard], **kwargs: Any) -> list[dict]:
    """Submit every shard of a stage to the current flow's task runner, log a
    line per finished shard, and return the step results in shard order."""
    from prefect import get_run_logger
    from prefect.futures import as_completed

    if not shards:
        return []
    logger = get_run_logger()
    task = shard_task()
    # Keyed by position, not shard.index: shards of several stages may run in one map.
    futures = {task.submit(step, shard, kwargs): k for k, shard in enumerate(shards)}
    results: dict[int, dict] = {}
    for done, future in enumerate(as_completed(list(futures)), start=1):
        k = futures[future]
        result = future.result()
        results[k] = result
        detail = ", ".join(f"{key}={v}" for key, v in result.items() if key not in ("seconds", "cpu_seconds"))
        logger.info("%s [%d/%d done] %s (%.2fs, %.2fs CPU)", shards[k].label, done, len(shards), detail, result.get("seconds", 0.0), result.get("cpu_seconds", 0.0))
    return [results[k] for k in range(len(shards))]


def stop_if_unusable(summary: dict) -> dict:
    """A flow that found no usable input returns ``{"error": why}`` (so Prefect
    does not print a traceback for bad input); its entry point raises it."""
    if isinstance(summary, dict) and "error" in summary:
        from synesthesia.stages.ingest import NothingUsable

        raise NothingUsable(summary["error"])
    return summary


def run_flow(flow, runner: RunnerConfig, *args: Any, folder: str | os.PathLike, **kwargs: Any):
    """Call ``flow`` on ``runner``'s task runner, against the Prefect API
    (a configured server, or the embedded one started here), holding the
    writer lock of the dataset ``folder`` it writes (taken before Prefect
    starts, so a second writer is refused at once): the one entry point
    behind every ``synesthesia build`` / ``annotate run`` command."""
    with writer_lock(folder, flow.name) as found:
        if found["taken_over"]:
            log.warning("%s: took over the lock of a run that stopped without releasing it (%s)", folder, found["taken_over"])
        if found["swept"]:
            log.info("%s: removed %d temp file(s) a killed run left", folder, found["swept"])
        ensure_prefect_api()
        return flow.with_options(task_runner=runner.task_runner())(*args, **kwargs)
