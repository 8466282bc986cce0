"""``synesthesia``: the command line, one thin module per command group
(``build``, ``annotate``, ``export`` and ``view``, the model commands, ``demo``). Every command runs
through one error wrapper (:func:`synesthesia.cli.common.command`)."""

from __future__ import annotations

from typing import Optional

import typer

from synesthesia import __version__
from synesthesia.cli import annotate, annotate_serve, build, build_artsound, demo, models, publish  # noqa: F401 (build_artsound / annotate_serve register on build.app / annotate.app)

app = typer.Typer(
    help=(
        "Build music-painting datasets (MPD, ArtSound, Museart) as Prefect flows with Parquet outputs, "
        "and train the models that use them. Start with `synesthesia demo --out demo-output`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"synesthesia {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Build music-painting datasets (MPD, ArtSound, Museart) and train the models that use them."""


DATASETS, MODELS = "Datasets", "Models"
app.add_typer(build.app, name="build", rich_help_panel=DATASETS)
app.add_typer(annotate.app, name="annotate", rich_help_panel=DATASETS)
app.add_typer(publish.export_app, name="export", rich_help_panel=DATASETS)
app.add_typer(models.train_app, name="train", rich_help_panel=MODELS)
app.add_typer(models.eval_app, name="eval", rich_help_panel=MODELS)
app.add_typer(models.generate_app, name="generate", rich_help_panel=MODELS)
for panel, group in ((DATASETS, demo.app), (DATASETS, publish.view_app), (MODELS, models.judge_app)):
    for info in group.registered_commands:
        info.rich_help_panel = panel
        app.registered_commands.append(info)
