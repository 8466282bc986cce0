"""Progress of a sharded stage, where people look for it.

* **The Prefect UI**: a progress artifact per stage on the flow run
  (updated at most every :data:`ARTIFACT_INTERVAL_S` and at the end).
* **A terminal** (stderr is a TTY): a progress bar with the shards done, the
  elapsed time and an ETA, gone when the stage ends.
* **Logs** (stderr is not a TTY: CI, a deployment's worker, a file): a line
  at each quarter with the ETA.

Then one line per stage: shards, wall time, how many were reused from an
earlier run, and the step counts summed over the shards. Prefect's routine
"Finished in state Completed()" line per task run is dropped
(:func:`quiet_routine_task_logs`): the bar counts those; retries and
failures are still logged.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Sequence

#: Seconds between two updates of a stage's progress artifact.
ARTIFACT_INTERVAL_S = 2.0
#: Fractions of a stage at which a log line reports progress when there is no
#: terminal, in stages of at least LOG_MIN_SHARDS shards.
LOG_MILESTONES = (0.25, 0.5, 0.75)
LOG_MIN_SHARDS = 8


class _DropRoutineCompletions(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.INFO and "Finished in state Completed()" in record.getMessage())


def quiet_routine_task_logs() -> None:
    """Drop the INFO line Prefect logs when a task run completes (once per process)."""
    logger = logging.getLogger("prefect.task_runs")
    if not any(isinstance(f, _DropRoutineCompletions) for f in logger.filters):
        logger.addFilter(_DropRoutineCompletions())


def stage_label(stages: Sequence[str]) -> str:
    """``mels``, or ``embed-image-raw + embed-audio-raw`` when one map runs several stages."""
    return " + ".join(dict.fromkeys(stages))


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def summed_counts(results: Sequence[dict]) -> dict[str, int | float]:
    """The numeric counts of the step results, summed (not ``seconds``, ``cpu_seconds``, ``worker`` or ``skipped``)."""
    totals: dict[str, Any] = {}
    for result in results:
        for key, value in result.items():
            if key in ("seconds", "cpu_seconds", "worker", "skipped") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            totals[key] = totals.get(key, 0) + value
    return totals


class StageProgress:
    """Progress of one call of the shard runner (``shards`` of one or more stages)."""

    def __init__(self, shards: Sequence[Any], logger: Any = None, console: Any = None, artifacts: bool = True):
        from prefect import get_run_logger

        self.label = stage_label([s.stage for s in shards])
        self.total = len(shards)
        self.done = 0
        self.reused = 0
        self.results: list[dict] = []
        self.started = time.perf_counter()
        self.logger = logger or get_run_logger()
        self._milestones = list(LOG_MILESTONES) if self.total >= LOG_MIN_SHARDS else []
        self._artifact = None
        self._artifact_at = 0.0
        if artifacts:
            from prefect.artifacts import create_progress_artifact

            self._artifact = create_progress_artifact(0.0, description=self._description())
            self._artifact_at = time.perf_counter()
        self._bar = None
        if console is not None or sys.stderr.isatty():
            self._bar = _bar(console, self.label, self.total)

    def _description(self) -> str:
        return f"{self.label}: {self.done}/{self.total} shards"

    def eta(self) -> float | None:
        if not self.done or self.done >= self.total:
            return None
        return (time.perf_counter() - self.started) / self.done * (self.total - self.done)

    def advance(self, result: dict) -> None:
        self.done += 1
        self.reused += bool(result.get("skipped"))
        self.results.append(result)
        if self._bar is not None:
            self._bar[0].update(self._bar[1], completed=self.done, refresh=True)
        elif self._milestones and self.done < self.total and self.done / self.total >= self._milestones[0]:
            while self._milestones and self.done / self.total >= self._milestones[0]:
                self._milestones.pop(0)
            self.logger.info(
                "%s: %d/%d shards (%d %%), %s, ETA %s",
                self.label, self.done, self.total, 100 * self.done // self.total, duration(time.perf_counter() - self.started), duration(self.eta() or 0),
            )
        if self._artifact is not None and (self.done == self.total or time.perf_counter() - self._artifact_at >= ARTIFACT_INTERVAL_S):
            self._update_artifact()

    def _update_artifact(self) -> None:
        from prefect.artifacts import update_progress_artifact

        update_progress_artifact(self._artifact, 100.0 * self.done / self.total, description=self._description())
        self._artifact_at = time.perf_counter()

    def close(self) -> None:
        """Stop the bar and log the stage's line (also when it failed part-way)."""
        if self._bar is not None:
            self._bar[0].stop()
            self._bar = None
        if self._artifact is not None and self.done < self.total:
            self._update_artifact()
        counts = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in summed_counts(self.results).items())
        reused = f", {self.reused} reused from an earlier run" if self.reused else ""
        finished = "done" if self.done == self.total else f"of {self.total} done before the stage failed"
        self.logger.info(
            "%s: %d shards %s in %s%s%s", self.label, self.done, finished, duration(time.perf_counter() - self.started), reused, f"; {counts}" if counts else ""
        )


def _bar(console: Any, label: str, total: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("shards"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=True,
    )
    progress.start()
    return progress, progress.add_task(label, total=total)
