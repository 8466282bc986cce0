"""What every flow shares: the Prefect API, task runners, sharded steps.

Flows only compose stages. The one Prefect task here, :func:`shard_task`,
runs any shard step (a plain function from ``pipelines``) on whatever task
runner the flow was given, so the executors are interchangeable:

* ``local`` (default): Prefect's ``ProcessPoolTaskRunner`` bounded to
  ``workers`` processes (the stages are CPU-bound numpy/decoding work, so
  threads would serialise on the GIL);
* ``threads``: Prefect's ``ThreadPoolTaskRunner`` (cheap to start; for small
  inputs and I/O-bound steps);
* ``dask``: prefect-dask's ``DaskTaskRunner`` on an existing cluster
  (``dask_address``) or, without an address, a local cluster.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from synesthesia.pipelines.shards import Shard

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
    started = time.perf_counter()
    result = dict(step(shard=shard, **kwargs))
    result.setdefault("seconds", round(time.perf_counter() - started, 3))
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
        detail = ", ".join(f"{key}={v}" for key, v in result.items() if key != "seconds")
        logger.info("%s [%d/%d done] %s (%.2fs)", shards[k].label, done, len(shards), detail, result.get("seconds", 0.0))
    return [results[k] for k in range(len(shards))]


def stage_dir(out: str | os.PathLike, name: str) -> Path:
    """Where a stage keeps its shard parts inside a dataset folder."""
    return Path(out) / "_work" / name


def ingest_source(path: str | os.PathLike, config, out: str | os.PathLike, name: str, shard_size: int, source=None):
    """Scan, validate (sharded) and merge one input source.

    ``source``: an already scanned (and filtered or annotated)
    :class:`~synesthesia.pipelines.ingest.Source` to ingest instead of
    scanning ``path``. Returns ``(root, valid_table, quarantine_table)``;
    ``root`` is the folder the table's relative paths are relative to."""
    from synesthesia.pipelines.ingest import collect_ingest, file_fingerprint, ingest_shard_step, scan_source
    from synesthesia.pipelines.shards import plan_shards

    source = scan_source(path, config) if source is None else source
    fingerprints = [file_fingerprint(source.root, item) for item in source.items]
    shards = plan_shards(f"ingest-{name}", source.items, shard_size, config, fingerprints)
    folder = str(stage_dir(out, f"ingest-{name}"))
    run_shards(ingest_shard_step, shards, root=str(source.root), config=config, folder=folder)
    valid, quarantine = collect_ingest(shards, folder, config.kind, source.problems)
    return source.root, valid, quarantine


def compute_mels(tracks, clips, root: str | os.PathLike, out: str | os.PathLike, clip_config, mel_config, shard_size: int, id_column: str = "track_id") -> list[Path]:
    """The sharded mel stage: ``out/mels/part-*.parquet`` for every planned clip."""
    from synesthesia.pipelines.audio import mel_shard_step, mel_work_items
    from synesthesia.pipelines.shards import ShardStore, plan_shards

    items = mel_work_items(tracks, clips, id_column)
    fingerprints = [(i["track_id"], i["sha256"], i["clips"]) for i in items]
    shards = plan_shards("mels", items, shard_size, (clip_config, mel_config), fingerprints)
    folder = Path(out) / "mels"
    run_shards(mel_shard_step, shards, root=str(root), clip=clip_config, mel=mel_config, folder=str(folder))
    return ShardStore(folder).finalize(shards)


def write_clip_files(
    tracks, clips, root: str | os.PathLike, out: str | os.PathLike, clip_config, shard_size: int, fmt: str = "flac",
    id_column: str = "track_id", native: bool = False,
):
    """The sharded clip-file stage: every planned clip as a 16 kHz mono file
    (``native``: at the track's own rate and channels) under ``out/clips/``
    and its :data:`schema.CLIP_FILES` row. Files no current clip owns are
    removed. Returns the merged clip-file table."""
    from synesthesia.datasets import io as dio
    from synesthesia.datasets import schema as S
    from synesthesia.pipelines.audio import clip_file_shard_step, clip_work_items, prune_clip_files
    from synesthesia.pipelines.shards import ShardStore, plan_shards

    items = clip_work_items(tracks, clips, id_column)
    fingerprints = [(i["track_id"], i["sha256"], i["clips"]) for i in items]
    shards = plan_shards("clip-files", items, shard_size, (clip_config, fmt, native) if native else (clip_config, fmt), fingerprints)
    folder = Path(out) / "clips"
    index = stage_dir(out, "clip-files")
    store = ShardStore(index)
    for shard in shards:  # a finished shard whose files were deleted since is redone
        if store.done(shard):
            paths = dio.read_table(store.path(shard), columns=["path"]).column("path").to_pylist()
            if not all((folder / p).is_file() for p in paths):
                store.path(shard).unlink()
    run_shards(clip_file_shard_step, shards, root=str(root), clip=clip_config, folder=str(folder), index_folder=str(index), fmt=fmt, native=native)
    files = store.finalize(shards)
    table = dio.concat((dio.read_table(f, S.CLIP_FILES) for f in files), S.CLIP_FILES)
    prune_clip_files(folder, set(table.column("path").to_pylist()))
    return table
