"""Test support: the installs ``make test-setup`` runs before pytest
(``scripts/test_setup.py``). Standard library only, so the setup can run with
any Python 3 while the project's own environment is being installed.

* Label Studio 1.23 in REPO/.venv-labelstudio, with its migrated template
  database (a few minutes, once);
* Debian's chromium for the browser test (apt-get, as root).

vLLM's CPU build: :mod:`support.vllm_env`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LABEL_STUDIO_SPEC = "label-studio>=1.23,<1.24"
VENV_NAME = ".venv-labelstudio"
CHROMIUM = "/usr/bin/chromium"


def install_labelstudio(repo_root: Path) -> Path:
    """REPO/.venv-labelstudio with Label Studio and its migrated template
    database (the package's own installer, the one ``annotate serve`` uses;
    idempotent, one installer at a time). Returns the ``label-studio`` executable."""
    sys.path.insert(0, str(repo_root / "src"))  # stdlib-only modules of the package: no venv needed yet
    from synesthesia.annotation.labelstudio.server import ensure_labelstudio

    venv = Path(os.environ["SYNESTHESIA_LABEL_STUDIO_VENV"]) if os.environ.get("SYNESTHESIA_LABEL_STUDIO_VENV") else repo_root / VENV_NAME
    return ensure_labelstudio(venv, python=sys.executable)


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
