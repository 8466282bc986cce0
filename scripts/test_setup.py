"""Install what the slow tests need, before pytest runs (``make test-setup``).

Each install is idempotent (a stamp file inside its environment, or the
installed binary), so a second run returns at once; the three run side by
side. Nothing here runs inside a test, so no test's timeout includes an
install:

* ``labelstudio``: REPO/.venv-labelstudio with Label Studio 1.23 (about a minute);
* ``vllm``: REPO/.venv-vllm with vLLM's CPU build (a few minutes, ~3.4 GB);
* ``chromium``: Debian's chromium for the browser test (apt-get, as root).

    python scripts/test_setup.py [labelstudio] [vllm] [chromium]   # default: all three
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.installs import install_chromium, install_labelstudio  # noqa: E402
from support.vllm_env import install_vllm  # noqa: E402

STEPS = {
    "labelstudio": lambda: install_labelstudio(REPO),
    "vllm": install_vllm,
    "chromium": install_chromium,
}


def run(name: str) -> tuple[str, float, str | None]:
    started = time.perf_counter()
    try:
        where = STEPS[name]()
    except Exception as exc:  # reported below; the other installs go on
        return name, time.perf_counter() - started, f"FAILED: {exc}"
    return name, time.perf_counter() - started, str(where)


def main(argv: list[str]) -> int:
    names = argv or list(STEPS)
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        print(f"unknown step(s) {unknown}; choose from {list(STEPS)}", file=sys.stderr)
        return 2
    with ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(run, names))
    failed = 0
    for name, seconds, what in results:
        failed += what.startswith("FAILED")
        print(f"test setup: {name}: {what} ({seconds:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
