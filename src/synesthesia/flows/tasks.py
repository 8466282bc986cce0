"""Stage tasks: one named Prefect task per stage, the retry policy, and the
shard runner a flow hands to its recipe.

Recipes run their sharded stages through a
:data:`~synesthesia.stages.shards.ShardRunner`. A flow opens its
:class:`~synesthesia.flows.runner.RunnerConfig`'s task runner with
:func:`shard_runner` and passes the ``run`` it yields; ``run`` submits every
shard as a run of the Prefect task named after the shard's stage
(``ingest-paintings``, ``mels``, ``segment-captions``, ``embed-image-raw``…;
the task run is named after the shard, ``audio shard 3/31``), reports progress
(:mod:`synesthesia.flows.progress`) and returns the results in shard order.

Retries (:func:`is_transient`): a shard is retried, up to
:data:`TRANSIENT_RETRIES` times after :data:`RETRY_DELAYS_S`, when it failed
on something that may go away — an I/O error (``OSError`` other than a
missing, misplaced or forbidden file), a timeout, a lost connection, an
inference server's HTTP 5xx / 408 / 429. Everything else is deterministic
and is not retried: bad input is quarantined by the stages themselves (it
never raises), so an exception that is not transient is a bug or a setup
error, and running it again would fail the same way. A lost Dask worker is
handled one level down: the Dask scheduler runs the worker's tasks again on
another worker (``distributed.scheduler.allowed-failures``, 3 by default) and
Prefect keeps the task run; a shard writes its output atomically, so running
it twice is safe. Prefect's result cache is off (``NO_CACHE``): a shard's
output file is the cache (:func:`synesthesia.stages.shards.write_once`).
"""

from __future__ import annotations

import functools
import os
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from synesthesia.flows.progress import StageProgress, quiet_routine_task_logs
from synesthesia.flows.runner import RunnerConfig
from synesthesia.stages.shards import Shard, ShardRunner

#: Attempts after the first for a transient failure, and the waits before them
#: (exponential backoff; Prefect adds up to ``RETRY_JITTER`` × the delay).
TRANSIENT_RETRIES = 3
RETRY_DELAYS_S = (2.0, 8.0, 32.0)
RETRY_JITTER = 0.5
#: OSErrors that a second attempt would meet again.
DETERMINISTIC_OS_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
#: HTTP statuses that mean "try again later".
TRANSIENT_HTTP_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def is_transient(exc: BaseException) -> bool:
    """Whether a shard that raised ``exc`` should be run again."""
    if isinstance(exc, DETERMINISTIC_OS_ERRORS):
        return False
    if isinstance(exc, OSError):  # EIO, ESTALE, ENOSPC freed later, TimeoutError, ConnectionError...
        return True
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a core dependency
        return False
    if isinstance(exc, httpx.TransportError):  # timeouts, refused or reset connections
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in TRANSIENT_HTTP_STATUS
    return False


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry a failed shard only when its exception is transient."""
    try:
        state.result()
    except Exception as exc:
        return is_transient(exc)
    return False


def _run_step(step: Callable[..., dict], shard: Shard, kwargs: dict) -> dict:
    # The step's own wall and CPU time (this worker's threads): what is left
    # of a stage's time beyond them is orchestration (benchmarks/*_scale.py).
    started, cpu = time.perf_counter(), time.process_time()
    result = dict(step(shard=shard, **kwargs))
    result.setdefault("seconds", round(time.perf_counter() - started, 3))
    result.setdefault("worker", os.getpid())  # which process ran it (so a report can say how many worked)
    result.setdefault("cpu_seconds", round(time.process_time() - cpu, 3))
    return result


def _shard_run_name() -> str:
    from prefect.runtime import task_run

    shard = task_run.parameters.get("shard")
    return shard.label if isinstance(shard, Shard) else "shard"


@functools.lru_cache(maxsize=None)
def stage_task(stage: str):
    """The Prefect task that runs one shard of ``stage`` (built lazily so
    importing this module does not import Prefect)."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    stage_run = task(
        _run_step,
        name=stage,
        task_run_name=_shard_run_name,
        retries=TRANSIENT_RETRIES,
        retry_delay_seconds=list(RETRY_DELAYS_S),
        retry_jitter_factor=RETRY_JITTER,
        retry_condition_fn=retry_if_transient,
        cache_policy=NO_CACHE,
        persist_result=False,
    )
    # Prefect keys a task by its function (the same for every stage); the API
    # stores the key, not the name, with each task run: key it by the stage.
    stage_run.task_key = stage
    return stage_run


def run_shards(task_runner: Any, step: Callable[..., dict], shards: Sequence[Shard], is_done: Callable[[Shard], bool] | None = None, **kwargs: Any) -> list[dict]:
    """Submit every shard to ``task_runner`` as a run of its stage's task,
    report progress, and return the step results in shard order. Shards
    ``is_done`` says are finished are reported reused without a task run."""
    from prefect.futures import as_completed

    if not shards:
        return []
    progress = StageProgress(shards)
    results: dict[int, dict] = {}
    for k, shard in enumerate(shards):
        if is_done is not None and is_done(shard):
            results[k] = {"skipped": True}
            progress.advance(results[k])
    # Keyed by position, not shard.index: shards of several stages may run in one map.
    futures = {
        task_runner.submit(stage_task(shard.stage), {"step": step, "shard": shard, "kwargs": kwargs}): k
        for k, shard in enumerate(shards) if k not in results
    }
    try:
        for future in as_completed(list(futures)):
            k = futures[future]
            results[k] = future.result()
            progress.advance(results[k])
    finally:
        progress.close()
    return [results[k] for k in range(len(shards))]


@contextmanager
def shard_runner(config: RunnerConfig) -> Iterator[ShardRunner]:
    """Open ``config``'s task runner for the stages of one flow run and yield
    the :data:`ShardRunner` its recipe takes. Every flow run opens its own
    (the ArtSound pairing subflow too): Prefect's process pool hands its
    workers the context of the flow run that first submitted to it."""
    quiet_routine_task_logs()
    with config.task_runner() as task_runner:
        yield functools.partial(run_shards, task_runner)


quiet_routine_task_logs()  # also in worker processes, which import this module to run a shard
