"""Test support: real servers on 127.0.0.1, each in its own process group
with its log in a file — a `prefect server start` with a process worker, and
a Dask cluster of `dask scheduler` plus `dask worker` processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """A command started in its own session; stopped with its whole process group."""

    def __init__(self, name: str, args: list[str], log: Path, env: dict | None = None, cwd: Path | None = None):
        self.name, self.log = name, log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.started = time.time()

    def log_tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def wait(self, ready, timeout: float) -> "Service":
        """Wait until ``ready()`` (``timeout`` counts from the start)."""
        while time.time() < self.started + timeout:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if ready():
                return self
            time.sleep(0.25)
        self.stop()
        pytest.fail(f"{self.name} was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group, the way a crash or an OOM killer would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()


def eventually(read, done, timeout: float = 120.0, every: float = 0.5):
    """``read()`` again until ``done(value)`` or ``timeout``; returns the last value
    (the caller's assertions then say what was missing)."""
    deadline = time.time() + timeout
    value = read()
    while not done(value) and time.time() < deadline:
        time.sleep(every)
        value = read()
    return value


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def prefect_server(workdir: Path, timeout: float = 420.0) -> tuple[Service, dict]:
    """`prefect server start` with its own PREFECT_HOME (a fresh database);
    returns the service and the environment that talks to it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(workdir / "prefect-home"),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
    )
    server = Service("prefect server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)], workdir / "prefect-server.log", env)
    return server.wait(lambda: http_ok(f"http://127.0.0.1:{port}/api/health"), timeout), env


def dask_scheduler(workdir: Path, env: dict, timeout: float = 120.0) -> tuple[Service, str]:
    port = free_port()
    args = [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    scheduler = Service("dask scheduler", args, workdir / "dask-scheduler.log", env)
    return scheduler.wait(lambda: tcp_open(port), timeout), f"tcp://127.0.0.1:{port}"


def dask_worker(workdir: Path, address: str, name: str, env: dict, timeout: float = 180.0) -> Service:
    """One single-threaded worker process (no nanny: killing it loses it for good)."""
    args = [str(BIN / "dask"), "worker", address, "--name", name, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
    worker = Service(f"dask worker {name}", args, workdir / f"dask-worker-{name}.log", env)
    return worker.wait(lambda: "Registered to" in worker.log_tail(20_000), timeout)
