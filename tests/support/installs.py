"""Test support: the installs ``make test-setup`` runs before pytest
(``scripts/test_setup.py``). Standard library only, so the setup can run with
any Python 3 while the project's own environment is being installed.

* Label Studio 1.23 in REPO/.venv-labelstudio (about a minute);
* Debian's chromium for the browser test (apt-get, as root).

vLLM's CPU build: :mod:`support.vllm_env`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LABEL_STUDIO_SPEC = "label-studio>=1.23,<1.24"
VENV_NAME = ".venv-labelstudio"
CHROMIUM = "/usr/bin/chromium"


def installed_labelstudio(venv: Path) -> Path | None:
    exe = venv / "bin" / "label-studio"
    return exe if exe.exists() and (venv / ".synesthesia-installed").exists() else None


def install_labelstudio(repo_root: Path) -> Path:
    """Create REPO/.venv-labelstudio with Label Studio when it is not there yet
    (idempotent; one installer at a time). Returns the ``label-studio`` executable."""
    venv = repo_root / VENV_NAME
    if (exe := installed_labelstudio(venv)) is not None:
        return exe
    lock_path = Path(tempfile.gettempdir()) / f"synesthesia-labelstudio-{hashlib.sha1(str(venv).encode()).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (exe := installed_labelstudio(venv)) is not None:
            return exe
        commands = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", LABEL_STUDIO_SPEC],
        ]
        for cmd in commands:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                raise RuntimeError(
                    f"installing Label Studio failed ({' '.join(cmd)}):\n{(done.stdout + done.stderr)[-3000:]}\n"
                    f"Install it by hand with: python3 -m venv {venv} && {venv}/bin/pip install '{LABEL_STUDIO_SPEC}'"
                )
        (venv / ".synesthesia-installed").write_text(LABEL_STUDIO_SPEC + "\n")
    return venv / "bin" / "label-studio"


def install_chromium() -> str:
    """Debian's chromium at /usr/bin/chromium, installed with apt-get when missing (as root)."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")):
        raise RuntimeError(f"Chromium is not installed at {CHROMIUM}: run `sudo apt-get install -y chromium`")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"installing Chromium failed ({' '.join(cmd)}):\n{(done.stdout + done.stderr)[-2000:]}")
    return CHROMIUM
