"""``synesthesia annotate serve``: a local Label Studio for a campaign, in one
command (registered on :data:`synesthesia.cli.annotate.app`)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Optional

import typer

from synesthesia.cli.annotate import DATASET_HELP, GOLD_HELP, GOLD_SHARE_HELP, RATERS_HELP, REPEAT_SHARE_HELP, _campaign, app
from synesthesia.cli.common import command


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


@app.command("serve")
@command()
def annotate_serve_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    port: Optional[int] = typer.Option(None, help="Port to serve on (default: the campaign's last one, else 8080)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on; 0.0.0.0 lets raters on other machines connect."),
    raters_file: Optional[Path] = typer.Option(None, help=RATERS_HELP + " Default: one generated account per planned rater."),
    gold: Optional[Path] = typer.Option(None, help=GOLD_HELP),
    gold_share: Optional[float] = typer.Option(None, help=GOLD_SHARE_HELP),
    repeat_share: Optional[float] = typer.Option(None, help=REPEAT_SHARE_HELP),
    venv: Optional[Path] = typer.Option(
        None, help="Label Studio's own virtual environment, created on first use (default: $SYNESTHESIA_LABEL_STUDIO_VENV, else ~/.local/share/synesthesia/label-studio-venv)."
    ),
    server_dir: Optional[Path] = typer.Option(
        None, help="Where the server keeps its database and the campaign's logins (default: the folder's last one, else ~/.local/share/synesthesia/label-studio/<dataset>-<hash>)."
    ),
):
    """Run a Label Studio for DATASET's annotation campaign until Ctrl-C.

    Installs Label Studio in its own environment (first time), starts it with the dataset's media folder as its
    only document root, creates the admin account and API token (printed once; kept in a file only you can read),
    one account per rater (--raters-file, or generated), one project per rater and kind holding that rater's queue
    (their planned tasks, with gold and repeat checks mixed in) for the phases the folder has reached, and prints
    the URL and the logins. Run it again to resume with the same server data; `annotate pull`, `annotate run`
    and `annotate status --live` find the server without flags.

    Example: synesthesia annotate serve --dataset mpd/ --raters-file raters.csv --gold gold.csv
    """
    from synesthesia.annotation.labelstudio import client as C
    from synesthesia.datasets.locks import writer_lock
    from synesthesia.recipes.mpd import server as MS

    server, state, new = MS.start(dataset, port, host, venv, server_dir, say=typer.echo)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it even where SIGINT was ignored
    signal.signal(signal.SIGTERM, _interrupt)  # and so does `kill`
    try:
        typer.echo(f"Label Studio for {dataset} is running at {server.url} (server folder: {server.workdir})")
        if new:
            typer.echo(
                f"admin login: {state['admin']['email']}  password: {state['admin']['password']}\n"
                f"API token: {state['admin']['token']}\n"
                f"  (shown this once; kept in {server.workdir / MS.STATE}, readable by you only)"
            )
        else:
            typer.echo(f"resumed: admin login and API token in {server.workdir / MS.STATE} (readable by you only)")
        client = C.connect(server.url, key=state["admin"]["token"])
        with writer_lock(dataset, "annotate serve"):  # only while it writes the campaign: pull/run must work while it serves
            _campaign(dataset, client, server.url, state, raters_file, gold, gold_share, repeat_share, create=server.create_users)
        state = MS.campaign_state(dataset)
        typer.echo(f"\nraters: open {server.url}, log in, open the project with your id in its title, press 'Label All Tasks'")
        for r in state["raters"]:
            typer.echo(f"  {r['rater_id']:<10} {r['email']:<32} password: {r.get('password') or '(set before; not known here)'}")
        typer.echo(
            f"\nthen: `synesthesia annotate pull --dataset {dataset}` imports what they did, "
            f"`synesthesia annotate status --dataset {dataset} --live` shows how far each rater is.\n"
            "Ctrl-C stops the server; run this command again to resume."
        )
        while server.running():
            time.sleep(1)
        typer.echo(f"error: Label Studio stopped by itself (exit {server.proc.returncode}):\n{server.log_tail()}", err=True)
        raise typer.Exit(2)
    except KeyboardInterrupt:
        typer.echo("stopping Label Studio ...")
    finally:
        server.stop()
    typer.echo(f"stopped. `synesthesia annotate serve --dataset {dataset}` resumes the campaign.")
