"""What a flow adds around its recipe's stages: one named Prefect task per
stage with a retry policy (transient failures retried, deterministic ones
not), progress (a bar with ETA on a terminal, a line per quarter otherwise,
a progress artifact, one summary line per stage), and the report and its
headline tables as artifacts — on the session's Prefect test server."""

from __future__ import annotations

import errno
import io
import logging

import httpx
import pytest
from prefect import flow

from support.flaky import attempts, flaky_step
from support.servers import eventually

from synesthesia.datasets.markdown import markdown_tables, md_table
from synesthesia.flows.artifacts import artifact_key, publish_report
from synesthesia.flows.progress import StageProgress, quiet_routine_task_logs
from synesthesia.flows.runner import RunnerConfig
from synesthesia.flows.tasks import is_transient, shard_runner
from synesthesia.stages.shards import plan_shards


def test_transient_failures_are_told_apart_from_deterministic_ones():
    request = httpx.Request("POST", "http://127.0.0.1:8000/v1/chat/completions")
    transient = [
        OSError(errno.EIO, "Input/output error"), OSError(errno.ESTALE, "Stale file handle"), TimeoutError(), ConnectionResetError(),
        httpx.ConnectTimeout("timed out", request=request), httpx.RemoteProtocolError("peer closed", request=request),
        httpx.HTTPStatusError("503", request=request, response=httpx.Response(503, request=request)),
        httpx.HTTPStatusError("429", request=request, response=httpx.Response(429, request=request)),
    ]
    deterministic = [
        FileNotFoundError(errno.ENOENT, "gone"), PermissionError(errno.EACCES, "denied"), IsADirectoryError(), NotADirectoryError(),
        ValueError("bad value"), KeyError("column"), RuntimeError("bug"), MemoryError(),
        httpx.HTTPStatusError("400", request=request, response=httpx.Response(400, request=request)),
    ]
    assert [is_transient(e) for e in transient] == [True] * len(transient)
    assert [is_transient(e) for e in deterministic] == [False] * len(deterministic)


@flow(name="flaky-stage")
def flaky_flow(folder: str, failure: str | None = None, runner: RunnerConfig = RunnerConfig("threads", 2)) -> list[dict]:
    shards = plan_shards("flaky", list(range(6)), 2)
    with shard_runner(runner) as run:
        return run(flaky_step, shards, folder=folder, failure=failure)


@pytest.mark.parametrize("runner", ["threads", "local"])
def test_a_transient_failure_is_retried_with_backoff(prefect_api, tmp_path, runner):
    results = flaky_flow(str(tmp_path), "eio", RunnerConfig(runner, 2))
    assert [r["items"] for r in results] == [2, 2, 2]
    assert attempts(tmp_path) == [2, 2, 2]  # each shard failed once with EIO, then ran again


@pytest.mark.parametrize("failure, error", [("value", ValueError), ("missing", FileNotFoundError)])
def test_a_deterministic_failure_is_not_retried(prefect_api, tmp_path, failure, error):
    with pytest.raises(error, match="simulated"):
        flaky_flow(str(tmp_path), failure)
    assert attempts(tmp_path) and set(attempts(tmp_path)) == {1}


def test_shards_run_as_tasks_named_after_their_stage_with_a_progress_artifact(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    state = flaky_flow(str(tmp_path), return_state=True)
    runs = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        # the server records task runs from events, a moment after they happen
        tasks = eventually(lambda: client.read_task_runs(flow_run_filter=runs), lambda t: len(t) == 3 and all(r.state.is_completed() for r in t))
        artifacts = client.read_artifacts(flow_run_filter=runs)
    assert sorted(t.name for t in tasks) == ["flaky shard 1/3", "flaky shard 2/3", "flaky shard 3/3"]
    assert {t.task_key for t in tasks} == {"flaky"}
    (progress,) = [a for a in artifacts if a.type == "progress"]
    assert progress.data == 100.0 and progress.description == "flaky: 3/3 shards"


class Lines:
    """A logger that keeps the lines."""

    def __init__(self):
        self.lines: list[str] = []

    def info(self, msg, *args):
        self.lines.append(msg % args)


def test_without_a_terminal_a_stage_logs_each_quarter_with_an_eta_then_one_summary():
    shards = plan_shards("mels", list(range(8)), 1)
    log = Lines()
    progress = StageProgress(shards, logger=log, artifacts=False)
    for k in range(8):
        progress.advance({"skipped": True} if k < 2 else {"tracks": 1, "clips": 3, "seconds": 0.1})
    progress.close()
    *quarters, summary = log.lines
    assert [q.split(" shards")[0] for q in quarters] == ["mels: 2/8", "mels: 4/8", "mels: 6/8"]
    assert all("ETA" in q for q in quarters)
    assert summary.startswith("mels: 8 shards done in ") and summary.endswith("2 reused from an earlier run; tracks=6, clips=18")


def test_on_a_terminal_a_stage_shows_a_bar_with_an_eta():
    from rich.console import Console

    screen = io.StringIO()
    shards = plan_shards("ingest-paintings", list(range(4)), 1)
    log = Lines()
    progress = StageProgress(shards, logger=log, console=Console(file=screen, force_terminal=True, width=120), artifacts=False)
    progress.advance({"valid": 1})
    progress.advance({"valid": 1})
    shown = screen.getvalue()
    assert "ingest-paintings" in shown and "2/4" in shown and "ETA" in shown
    progress.close()
    assert log.lines == [log.lines[-1]] and log.lines[-1].startswith("ingest-paintings: 2 shards of 4 done before the stage failed")


@pytest.mark.filterwarnings("ignore:Logger .prefect.task_runs. attempted to send logs")
def test_routine_task_completions_are_not_logged_but_retries_are():
    quiet_routine_task_logs()
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger = logging.getLogger("prefect.task_runs")
    logger.addHandler(handler)
    try:
        logger.info("Finished in state Completed()")
        logger.info("Task run failed with exception: OSError(5) - Retry 1/3 will start 2 second(s) from now")
        logger.error("Finished in state Failed('Task run encountered an exception ValueError')")
    finally:
        logger.removeHandler(handler)
    assert [s.split(" ")[0] for s in seen] == ["Task", "Finished"] and "Failed" in seen[1]


def test_the_report_and_its_headline_tables_become_artifacts(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    text = (
        "# Test report\n\n## Counts per stage\n\n" + md_table(["stage", "count"], [("paintings", 18), ("a|b", 2)])
        + "\n\n## Quarantine\n\nNo input was rejected.\n\n## Splits\n\n" + md_table(["split", "pairs"], [("train", 8), ("val", 1)]) + "\n"
    )
    (tmp_path / "report.md").write_text(text)
    assert markdown_tables(text) == {
        "Counts per stage": [{"stage": "paintings", "count": "18"}, {"stage": "a|b", "count": "2"}],
        "Splits": [{"split": "train", "pairs": "8"}, {"split": "val", "pairs": "1"}],
    }

    @flow(name="publish-report")
    def publish() -> list[str]:
        return publish_report(tmp_path, "testset", ("Counts per stage", "Quarantine", "Splits"))

    state = publish(return_state=True)
    assert state.result() == ["testset-report", "testset-counts-per-stage", "testset-splits"]  # no table under Quarantine
    runs = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        artifacts = {a.key: a for a in client.read_artifacts(flow_run_filter=runs)}
    assert artifacts["testset-report"].type == "markdown" and artifacts["testset-report"].data == text
    assert artifacts["testset-splits"].type == "table"
    assert artifact_key("artsound", "Table 5 on this data") == "artsound-table-5-on-this-data"


@pytest.mark.parametrize("runner", ["threads", None])
def test_shards_said_done_are_reported_reused_without_a_run(prefect_api, tmp_path, runner):
    """`is_done`: what a re-run of a finished stage costs is no task run (the
    annotation phases' pass over the tracks for listening copies the build
    made); the others run as usual, results in shard order."""
    from synesthesia.stages.shards import run_serially

    shards = plan_shards("again", list(range(6)), 2)
    is_done = lambda shard: shard.index != 1  # noqa: E731

    @flow
    def again() -> list[dict]:
        with shard_runner(RunnerConfig(runner, 2)) as run:
            return run(flaky_step, shards, is_done=is_done, folder=str(tmp_path), failure=None)

    results = again() if runner else run_serially(flaky_step, shards, is_done=is_done, folder=str(tmp_path), failure=None)
    assert results == [{"skipped": True}, results[1], {"skipped": True}]
    assert results[1]["items"] == 2
    assert [p.name for p in tmp_path.glob("*.attempts")] == ["again-1.attempts"]  # only shard 2 ran
