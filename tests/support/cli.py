"""Run the command line in a fresh process and see what it imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

#: Runs the CLI once per argument list in one process and reports, per run,
#: the exit status, stderr, and whether any Prefect module was imported.
RUNNER = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from synesthesia.cli import app
    results = []
    for args in json.loads(sys.argv[1]):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                app(args)
                code = 0
            except SystemExit as exc:
                code = exc.code
        results.append({"code": code, "stderr": err.getvalue(), "prefect": any(m.split(".")[0] in ("prefect", "prefect_dask") for m in sys.modules)})
    print(json.dumps(results))
    """
)


def run_cli(cases: list[list[str]], cwd, env=None) -> list[dict]:
    """``{"code", "stderr", "prefect"}`` for each argument list, run in order in one fresh process."""
    done = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(cases)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def assert_one_error_line(result: dict, expected: str, args=None) -> None:
    assert result["code"] == 2, (args, result)
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], (args, result["stderr"])
    assert not result["prefect"], f"Prefect was imported before {args} failed"
