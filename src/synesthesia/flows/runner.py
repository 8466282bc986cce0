"""What every flow shares: the Prefect API and the task runners.

A flow takes a :class:`RunnerConfig` parameter (plain JSON:
``{"runner": "dask", "workers": 2, "dask_address": "tcp://…"}``) and opens
that task runner for its stages (:func:`synesthesia.flows.tasks.shard_runner`),
so a deployment run started from the UI or the API chooses its executor the
way the command line does:

* ``local`` (default): Prefect's ``ProcessPoolTaskRunner`` bounded to
  ``workers`` processes (the stages are CPU-bound numpy/decoding work, so
  threads would serialise on the GIL);
* ``threads``: Prefect's ``ThreadPoolTaskRunner`` (cheap to start; for small
  inputs and I/O-bound steps);
* ``dask``: prefect-dask's ``DaskTaskRunner`` on an existing cluster
  (``dask_address``) or, without an address, a local cluster.

:func:`run_flow` is how the command line and the Python API call a flow:
against ``PREFECT_API_URL`` when it is set, else against an embedded Prefect
server started once per process (:mod:`synesthesia.flows.server`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Any

from synesthesia.datasets.locks import writer_lock
from synesthesia.flows.server import configure_prefect_defaults, ensure_prefect_api, start_prefect_api  # noqa: F401 (the API of this module)

log = logging.getLogger("synesthesia")

RUNNERS = ("local", "threads", "dask")


@dataclass(frozen=True)
class RunnerConfig:
    """Where a flow's shards run (a flow parameter: plain JSON)."""

    runner: str = "local"
    workers: int = 2
    dask_address: str | None = None

    def __post_init__(self):
        if self.runner not in RUNNERS:
            raise ValueError(f"unknown runner {self.runner!r}; choose from {RUNNERS}")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.dask_address and self.runner != "dask":
            raise ValueError("a Dask scheduler address needs the dask runner (--runner dask)")

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


@contextlib.contextmanager
def holding_folder(folder: str | os.PathLike | None, command: str):
    """The writer lock of the dataset ``folder`` for the block (none when
    ``folder`` is None), logging a take-over and swept temp files. Re-entrant
    in one thread: :func:`run_flow` takes it before Prefect starts (a second
    writer is refused at once) and each flow body takes it again, so a run
    started by a deployment, where no entry point of ours ran, holds it too."""
    with writer_lock(folder, command) if folder is not None else contextlib.nullcontext({}) as found:
        if found.get("taken_over"):
            log.warning("%s: took over the lock of a run that stopped without releasing it (%s)", folder, found["taken_over"])
        if found.get("swept"):
            log.info("%s: removed %d temp file(s) a killed run left", folder, found["swept"])
        yield


def run_flow(flow, *args: Any, folder: str | os.PathLike | None = None, **kwargs: Any):
    """Call ``flow`` against the Prefect API (a configured server, or the
    embedded one started here), holding the writer lock of the dataset
    ``folder`` it writes, if any (taken before Prefect starts, so a second
    writer is refused at once): the one entry point behind every
    ``synesthesia build`` / ``annotate run`` command and the Python API."""
    with holding_folder(folder, flow.name):
        from prefect.settings import PREFECT_API_URL, temporary_settings

        url = ensure_prefect_api()
        # Prefect read its settings when it was imported, maybe before the URL was known.
        with temporary_settings(updates={PREFECT_API_URL: url}):
            return flow(*args, **kwargs)


def unusable(problem: str):
    """What a flow returns when its input holds nothing usable: a Failed
    state carrying :class:`~synesthesia.stages.ingest.NothingUsable`. The run
    is Failed in the UI and the API (a deployment run too), Prefect logs one
    line (``Finished in state Failed(...)``) instead of a traceback, and the
    caller of the flow gets ``NothingUsable`` raised (the CLI prints it as
    one ``error:`` line, exit 2)."""
    from prefect.states import Failed

    from synesthesia.stages.ingest import NothingUsable

    return Failed(message=problem, data=NothingUsable(problem))
