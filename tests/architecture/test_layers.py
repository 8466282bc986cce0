"""The layers are a contract (pyproject.toml, [tool.importlinter]) that
`make test` checks with `lint-imports`; here, that the check really fails
when a lower floor imports a higher one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(src: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "300"}  # one line per contract
    return subprocess.run([str(LINT), "--config", str(REPO / "pyproject.toml"), "--no-cache"], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def copy_of_the_package(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(REPO / "src" / "synesthesia", src / "synesthesia", ignore=shutil.ignore_patterns("__pycache__"))
    return src


def test_the_package_keeps_its_layers(copy_of_the_package):
    result = lint(copy_of_the_package)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, wrong_import, contract",
    [
        ("stages/shards.py", "import synesthesia.flows.runner", "Layers"),
        ("datasets/keys.py", "import synesthesia.stages.splits", "Layers"),
        ("models/devices.py", "import synesthesia.stages.shards", "Layers"),
        ("recipes/mpd/build.py", "import prefect", "Nothing below flows imports Prefect"),
        ("recipes/museart/build.py", "import synesthesia.recipes.mpd.config", "The recipes are independent"),
    ],
)
def test_a_wrong_import_breaks_the_contract(copy_of_the_package, module, wrong_import, contract):
    path = copy_of_the_package / "synesthesia" / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + f"\n{wrong_import}  # deliberately wrong\n", encoding="utf-8")
    try:
        result = lint(copy_of_the_package)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(line.startswith(contract) for line in broken), result.stdout
