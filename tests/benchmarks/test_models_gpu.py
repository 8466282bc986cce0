"""benchmarks/models_gpu.py (run on a GPU with `--device cuda`) checked on
the CPU with its tiny configurations: every model builds, runs in bf16 and
lands in the table with a positive throughput."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "models_gpu.py"


def test_the_gpu_benchmark_runs_every_model_tiny_on_the_cpu(tmp_path, capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("models_gpu", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "models_gpu", bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)
    out = tmp_path / "rows.json"
    rows = bench.main(["--device", "cpu", "--tiny", "--dtype", "bf16", "--batch", "2", "--iters", "1", "--warmup", "0", "--json", str(out)])
    assert json.loads(out.read_text()) == rows
    models = [r["model"] for r in rows]
    assert models == ["ImageBind (tiny)"] * 3 + ["BEATs (tiny)", "LP-MusicCaps (tiny)", "LP-MusicCaps (tiny)", "MPJudge (tiny config)"]
    assert all(r["per_second"] > 0 and r["batch"] == 2 and r["peak_gib"] is None for r in rows)
    assert [r["precision"] for r in rows] == ["bf16 weights"] * 3 + ["bf16 autocast"] * 4
    table = capsys.readouterr().out
    assert "| model | input | precision | batch | params (M) | ms / batch | throughput | peak memory (cpu) |" in table
