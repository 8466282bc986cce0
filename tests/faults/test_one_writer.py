"""One writer per dataset folder: a second build or import started while
another runs is refused at once (exit 2, who holds it), nothing is lost,
and the lock of a killed process is taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.locks import LOCK_FILE, FolderBusy, writer_lock
from synesthesia.recipes import mpd
from support.exports import ann, number, task, write_export

pytestmark = pytest.mark.faults


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "synesthesia", *args]


def _holder(folder: Path) -> subprocess.Popen:
    """Another process holding the folder's lock until killed."""
    code = f"from synesthesia.datasets.locks import writer_lock\nimport time\nwith writer_lock({str(folder)!r}, 'holder'):\n    print('held', flush=True)\n    time.sleep(600)\n"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _export(path: Path, pair: str, first_id: int, n: int) -> Path:
    return write_export(path, [task(1, {"pair_id": pair}, *(ann(first_id + k, 100 + first_id + k, number(0.5)) for k in range(n)))])


def test_a_second_writer_is_refused_and_a_killed_holder_is_taken_over(dataset, tmp_path):
    holder = _holder(dataset)
    try:
        export = _export(tmp_path / "e.json", "pair-a", 1, 5)
        started = time.perf_counter()
        result = subprocess.run(_cli("annotate", "import", "--dataset", str(dataset), "--export", str(export)), capture_output=True, text=True)
        assert result.returncode == 2 and f"is being written by PID {holder.pid}" in result.stderr and "(holder)" in result.stderr
        assert time.perf_counter() - started < 30  # refused at once, not after the import
        assert not (dataset / mpd.RATINGS_FILE).exists()
        with pytest.raises(FolderBusy):  # the same from Python
            mpd.import_annotations(dataset, export)
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    # the dead holder's record is still in the file; its lock is gone with it
    assert json.loads((dataset / LOCK_FILE).read_text())["pid"] == holder.pid
    (dataset / ".ratings.parquet.abc123.tmp").write_bytes(b"half a file")  # what a kill mid-write leaves
    with writer_lock(dataset, "test") as found:
        assert found["taken_over"]["pid"] == holder.pid and found["swept"] == 1
    assert not (dataset / ".ratings.parquet.abc123.tmp").exists()
    entry = mpd.import_annotations(dataset, export)
    assert entry["rows_after"] == 5


def test_the_lock_is_reentrant_in_a_thread_and_exclusive_between_threads(tmp_path):
    import threading

    errors = []
    with writer_lock(tmp_path, "outer"):
        with writer_lock(tmp_path, "inner"):  # an `annotate pull` that imports
            pass

        def other():
            try:
                with writer_lock(tmp_path, "other thread"):
                    pass
            except FolderBusy as exc:
                errors.append(str(exc))

        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert errors and "another thread" in errors[0]
    with writer_lock(tmp_path, "after"):  # released by the outer block
        pass


def test_concurrent_imports_never_lose_rows(dataset, tmp_path):
    """Eight rounds of two imports started together: each either writes all
    its rows or is refused with nothing written; the log agrees with the table."""
    for round_ in range(8):
        exports = [_export(tmp_path / f"r{round_}-{k}.json", "pair-b", 1000 * (round_ + 1) + 100 * k, 20) for k in range(2)]
        procs = [subprocess.Popen(_cli("annotate", "import", "--dataset", str(dataset), "--export", str(e)), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for e in exports]
        codes = [p.wait(timeout=300) for p in procs]
        assert sorted(codes) in ([0, 0], [0, 2]), [p.stderr.read() for p in procs]
        for code, proc in zip(codes, procs):
            if code == 2:
                assert "is being written by PID" in proc.stderr.read()
    ratings = dio.read_table(dataset / mpd.RATINGS_FILE, S.MPD_RATINGS)
    log = mpd.import_log(dataset)
    imported = {Path(e["file"]).name for e in log}
    expected = set()
    for name in imported:
        tasks = json.loads((tmp_path / name).read_text())
        expected |= {f"ls-{a['id']}" for a in tasks[0]["annotations"]}
    assert set(ratings.column("annotation_id").to_pylist()) == expected and len(expected) == 20 * len(imported) >= 160 - 20 * 8


@pytest.mark.slow
def test_two_builds_into_one_folder(prefect_api, tiny_corpus, tmp_path):
    """Seeds 3 and 4 into one folder at once: one builds, the other is
    refused before doing anything, and the folder is the winner's."""
    out = tmp_path / "mpd"
    args = ["build", "mpd", "--paintings", str(tiny_corpus["paintings"]), "--music", str(tiny_corpus["music"]), "--out", str(out),
            "--pairs", "40", "--shard-size", "8", "--runner", "threads", "--workers", "1"]
    first = subprocess.Popen(_cli(*args, "--seed", "3"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / LOCK_FILE).exists() or not (out / LOCK_FILE).read_text():
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    second = subprocess.run(_cli(*args, "--seed", "4"), capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and f"is being written by PID {first.pid}" in second.stderr
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    manifest = dio.read_manifest(out)
    assert manifest["config"]["seed"] == 3 and "Seed 3" in (out / "report.md").read_text()
    # an import into a folder while it is being built is refused too
    export = _export(tmp_path / "e.json", "pair-x", 1, 1)
    other = tmp_path / "mpd-2"
    build = subprocess.Popen(_cli(*[str(other) if a == str(out) else a for a in args], "--seed", "3"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (other / LOCK_FILE).exists() or json.loads((other / LOCK_FILE).read_text() or "{}").get("pid") != build.pid:
        assert build.poll() is None
        time.sleep(0.05)
    result = subprocess.run(_cli("annotate", "import", "--dataset", str(other), "--export", str(export)), capture_output=True, text=True)
    assert result.returncode == 2 and "is being written by PID" in result.stderr
    build.communicate(timeout=600)
    assert build.returncode == 0


def test_a_flow_run_started_without_our_entry_point_holds_the_lock_too(prefect_api, tiny_corpus, tmp_path):
    """A deployment run calls the flow function itself (no `run_flow`): the
    flow body takes the folder's lock, so it is refused while another process
    writes the folder, and it leaves the lock free when it ends."""
    from synesthesia.flows.mpd import build_mpd_flow
    from synesthesia.flows.runner import RunnerConfig

    out = tmp_path / "mpd"
    args = (str(tiny_corpus["paintings"]), str(tiny_corpus["music"]), str(out), mpd.MPDConfig(n_pairs=10), 8, RunnerConfig("threads", 1))
    holder = _holder(out)
    try:
        state = build_mpd_flow(*args, return_state=True)
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    assert state.is_failed()
    with pytest.raises(FolderBusy, match=f"PID {holder.pid}"):
        state.result()
    assert not (out / "pairs.parquet").exists()
    assert build_mpd_flow(*args)["pairs"]["drawn"] == 10
    assert json.loads((out / LOCK_FILE).read_text() or "{}") == {}  # released
