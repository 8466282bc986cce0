"""Test support: a real Label Studio server in its own virtual environment,
and Debian's Chromium for the browser test.

* ``support.installs.install_labelstudio`` (run by ``make test-setup``,
  never inside a test): creates ``REPO/.venv-labelstudio`` with label-studio 1.23.x when it
  is missing (about a minute, once). ``ensure_labelstudio`` (the tests): its
  ``label-studio`` executable, or a failure that says to run the setup.
* ``LabelStudioServer``: ``label-studio start`` on 127.0.0.1 with HOME and
  LABEL_STUDIO_BASE_DATA_DIR in a temp folder (it writes there, not into the
  home folder), Sentry disabled, local-file serving on, a random admin
  password and a random 40-character legacy API token. (Never ``label-studio
  --version``: it starts a server on 0.0.0.0.)
* ``support.installs.install_chromium`` (``make test-setup``): as root with apt-get, installs
  Debian's ``chromium`` when ``/usr/bin/chromium`` is missing.
  ``ensure_chromium`` (the tests): the path, or a failure with the command.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from support.installs import CHROMIUM, LABEL_STUDIO_SPEC, VENV_NAME, installed_labelstudio

__all__ = ["CHROMIUM", "LABEL_STUDIO_SPEC", "VENV_NAME", "LabelStudioServer", "ensure_chromium", "ensure_labelstudio"]


SETUP_HINT = "run `make test-setup` (or `python scripts/test_setup.py {what}`) first"


def ensure_labelstudio(repo_root: Path) -> Path:
    """The ``label-studio`` executable of REPO/.venv-labelstudio (installed by the setup step)."""
    exe = installed_labelstudio(repo_root / VENV_NAME)
    if exe is None:
        pytest.fail(f"Label Studio is not installed in {repo_root / VENV_NAME}: {SETUP_HINT.format(what='labelstudio')}")
    return exe


def ensure_chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    pytest.fail(f"Chromium is not installed at {CHROMIUM}: {SETUP_HINT.format(what='chromium')} (as root it runs `apt-get install -y chromium`)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabelStudioServer:
    def __init__(self, exe: Path, workdir: Path, document_root: Path):
        self.exe = exe
        self.workdir = workdir
        self.document_root = document_root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.email = "lead@synesthesia.test"
        self.password = secrets.token_urlsafe(12)
        self.token = secrets.token_hex(20)  # 40 characters, a legacy API token
        self.log = workdir / "label-studio.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 420.0) -> "LabelStudioServer":
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> "LabelStudioServer":
        """Start the server process and return at once (first start takes ~40 s)."""
        (self.workdir / "home").mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO", "DJANGO"))}
        env.update(
            HOME=str(self.workdir / "home"),
            LABEL_STUDIO_BASE_DATA_DIR=str(self.workdir / "data"),
            SENTRY_DSN="",
            FRONTEND_SENTRY_DSN="",
            LOCAL_FILES_SERVING_ENABLED="true",
            LOCAL_FILES_DOCUMENT_ROOT=str(self.document_root),
            PYTHONUNBUFFERED="1",
        )
        cmd = [
            str(self.exe), "start", "--no-browser", "--internal-host", "127.0.0.1", "-p", str(self.port),
            "--username", self.email, "--password", self.password, "--user-token", self.token, "--enable-legacy-api-token",
        ]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.launched = time.time()
        return self

    def wait_ready(self, timeout: float = 420.0) -> "LabelStudioServer":
        """Wait until ``/health`` answers (``timeout`` counts from the launch)."""
        deadline = self.launched + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"Label Studio exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        pytest.fail(f"Label Studio did not answer /health within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        text = self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""
        return text.replace(self.token, "<token>").replace(self.password, "<password>")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the server and its workers: our own process group
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
