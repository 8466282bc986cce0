"""``synesthesia demo``: every dataset from a generated sample corpus, offline."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from synesthesia.cli import checks
from synesthesia.cli.common import DaskAddressOption, Runner, RunnerOption, WorkersOption, command, start_run
from synesthesia.cli.runconfig import ConfigOption

app = typer.Typer()


@app.command("demo")
@command()
def demo_cmd(
    out: Path = typer.Option(Path("demo-output"), help="Where the sample corpus (OUT/corpus) and the datasets (OUT/mpd, ...) go."),
    workers: WorkersOption = 2,
    runner: RunnerOption = Runner.local,
    dask_address: DaskAddressOption = None,
    config: ConfigOption = None,
):
    """Generate a deterministic sample corpus (with a few broken files) and build every dataset from it, offline.

    Example: synesthesia demo --out demo-output
    """
    checks.output_folder(out, "--out")
    started = time.perf_counter()
    run = start_run(runner, workers, dask_address)
    from synesthesia.flows.demo import run_demo

    results = run_demo(out, run)
    typer.echo(f"\nDemo finished (whole run, corpus generation included: {time.perf_counter() - started:.0f} s). Results:")
    typer.echo(f"  sample corpus : {out / 'corpus'}")
    for name in results:
        if name != "corpus":
            typer.echo(f"  {name:<14}: {out / name}  (report: {out / name / 'report.md'})")
    status = results.get("mpd", {}).get("annotation", {}).get("status")
    if status:
        typer.echo(f"  MPD annotation ({status['phase']}, simulated raters): {status['message']}")
