"""Kill a CLI run mid-stage, the way a crash or an OOM killer would."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Callable


def sigkill_when(args: list[str], ready: Callable[[], bool], timeout_s: float = 240) -> None:
    """Start ``args`` in its own process group (environment inherited, so it
    reports to the session's Prefect test server), SIGKILL the whole group as
    soon as ``ready()`` is true, and fail if the run ended first."""
    proc = subprocess.Popen(args, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout_s
    try:
        while time.time() < deadline and not ready():
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
