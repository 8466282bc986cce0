"""The Prefect API a command runs against: ``PREFECT_API_URL`` when it is set
(a running ``prefect server start``), else an embedded server started once
per process (the demo's flow runs share it).

The embedded server is the process Prefect's own ephemeral mode starts
(``uvicorn --factory prefect.server.api.server:create_app``), launched here

* without importing Prefect's server package into the command's process
  (Prefect's ephemeral mode does, about 2.5 s of CPU);
* without registering Prefect's block types, or hashing their registry to
  see whether it must (under a second; the flows use no blocks);
* in the background (:func:`start_prefect_api`), so that it starts while the
  command imports its flow and, in the demo, generates the corpus;
* with its output in a log file, not in the command's.

What remains is the server importing its app (about 3.3 s of CPU) and, on
the first start with a new ``PREFECT_HOME``, creating its database. Figures:
docs/performance.md (``benchmarks/prefect_startup.py``).
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: Environment defaults for running Prefect offline on a workstation or CI
#: machine; anything the user set wins. (``DO_NOT_TRACK``: Prefect's client
#: telemetry check and its first-run notice on a terminal.)
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_LOGGING_LEVEL": "INFO",
}
#: What the embedded server is started with, on top of the defaults: Prefect's
#: ephemeral-server switches (no UI, no background services), and no block
#: type registration.
EMBEDDED_SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}
#: uvicorn's exit status when the port is taken (then another port is tried).
_PORT_IN_USE = 3


class PrefectServerError(RuntimeError):
    """The embedded Prefect server did not start."""


def configure_prefect_defaults() -> None:
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(client, url: str) -> bool:
    import httpx

    try:
        return client.get(f"{url}/health").status_code == 200
    except httpx.HTTPError:
        return False


class EmbeddedServer:
    """One Prefect server subprocess on 127.0.0.1, stopped when this process
    exits. Its output goes to a log file (removed when it stops cleanly), not
    into the command's own output."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.url: str | None = None
        self.failed = False  # then the log stays, for the error message that names it
        fd, name = tempfile.mkstemp(prefix="synesthesia-prefect-server-", suffix=".log")
        os.close(fd)
        self.log = Path(name)

    def _spawn(self) -> None:
        port = _free_port()
        env = {**os.environ, **EMBEDDED_SERVER_ENV}
        env.pop("PREFECT_API_URL", None)
        args = [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}/api"

    def start(self, timeout_s: float) -> str:
        import httpx

        self._spawn()
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_s
        # One client for all the polls: a new one per request costs ~20 ms of CPU (its TLS context).
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code == _PORT_IN_USE:
                    self._spawn()
                elif code is not None:
                    self.failed = True
                    raise PrefectServerError(f"the embedded Prefect server exited with status {code} before it answered; its log: {self.log}")
                elif _healthy(client, self.url):
                    return self.url
                time.sleep(0.1)
        self.failed = True
        self.stop()
        raise PrefectServerError(
            f"the embedded Prefect server did not answer within {timeout_s:g} s "
            f"(raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or run `prefect server start` and set PREFECT_API_URL); its log: {self.log}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if not self.failed:
            self.log.unlink(missing_ok=True)


_embedded: dict = {}
_lock = threading.Lock()


def start_prefect_api() -> None:
    """Start the embedded server in a background thread unless
    ``PREFECT_API_URL`` is set. Returns at once; :func:`ensure_prefect_api`
    waits for it. Safe to call more than once."""
    configure_prefect_defaults()
    if os.environ.get("PREFECT_API_URL"):
        return
    with _lock:
        if "thread" in _embedded:
            return
        thread = threading.Thread(target=_start_embedded, name="prefect-embedded-server", daemon=True)
        _embedded["thread"] = thread
        thread.start()


def _start_embedded() -> None:
    try:
        from prefect.settings import PREFECT_API_URL

        configured = PREFECT_API_URL.value()  # a Prefect profile may name a server
        if configured:
            _embedded["url"] = configured
            return
        server = _embedded.setdefault("server", EmbeddedServer())
        _embedded["url"] = server.start(float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))
    except BaseException as exc:  # re-raised by ensure_prefect_api in the caller's thread
        _embedded["error"] = exc


def ensure_prefect_api() -> str:
    """Make sure a Prefect API is available and exported in ``os.environ``.

    Uses ``PREFECT_API_URL`` when configured (a running ``prefect server
    start``, or the test harness); otherwise starts the embedded server once
    for this process, or waits for the start :func:`start_prefect_api` began.
    The URL is exported so worker processes (process pool, local Dask
    cluster) talk to the same server instead of each starting their own.
    """
    configure_prefect_defaults()
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        start_prefect_api()
        _embedded["thread"].join()
        if "error" in _embedded:
            error = _embedded.pop("error")
            _embedded.pop("thread")  # the next call may try again
            raise error
        url = _embedded["url"]
    if os.environ.get("PREFECT_API_URL") != url:
        os.environ["PREFECT_API_URL"] = url
        # Prefect's process-wide settings were read when it was imported,
        # without the URL; threads that start with an empty context fall
        # back to them (the process pool's message-forwarding thread made
        # its events client start a second, ephemeral server).
        import prefect.context

        prefect.context.refresh_global_settings_context()
    return url
