"""What every command shares: one error wrapper, the runner options, hidden
aliases of renamed options, KEY=VALUE options and the help panels."""

from __future__ import annotations

import functools
import importlib.util
import os
from enum import Enum
from typing import Annotated, Any, Callable, Optional

import typer

#: Set (to anything) to get a command's traceback instead of its one-line error.
TRACEBACK_ENV = "SYNESTHESIA_TRACEBACK"
ML_INSTALL = "pip install 'synesthesia[ml]'"
#: Exit status of a command that cannot run on its input (bad option, missing file, missing dependency).
USAGE_ERROR = 2

# --- help panels -------------------------------------------------------------------------
INPUTS = "Inputs and output"
DATASET = "Dataset"
ANNOTATION = "Annotation"
CAPTIONS = "Captions"
SCORES = "Scores and regeneration"
PAIRING = "Pairing"
TRAINING = "Training"
EVALUATION = "Evaluation"
EXECUTION = "Execution"


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this input or setup cannot be used", imported
    only when a command fails (so `--help` never imports the stages)."""
    from synesthesia.annotation.labelstudio.client import LabelStudioError
    from synesthesia.flows.server import PrefectServerError
    from synesthesia.recipes.artsound.pairing import PairingPreflightError
    from synesthesia.recipes.artsound.preflight import ArtSoundPreflightError
    from synesthesia.stages.captioning import BackendUnavailable
    from synesthesia.stages.quality.common import MissingWeights

    return (ValueError, OSError, KeyError, LabelStudioError, PairingPreflightError, ArtSoundPreflightError, BackendUnavailable, MissingWeights, PrefectServerError)


def fail(message: str) -> None:
    """Stop the command with one ``error:`` line and exit status 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(USAGE_ERROR)


def command(*modules: str) -> Callable:
    """Wrap a command: stop with what to install when one of ``modules`` (an
    optional dependency) is missing, and turn an input or setup problem into
    one ``error:`` line with exit status 2 (``SYNESTHESIA_TRACEBACK=1``: the
    traceback instead). Anything else is a bug and keeps its traceback."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            missing = [m for m in modules if importlib.util.find_spec(m) is None]
            if missing:
                fail(f"this command needs {', '.join(missing)}, which is not installed: {ML_INSTALL}")
            try:
                return fn(*args, **kwargs)
            except (typer.Exit, typer.Abort, typer.BadParameter):
                raise
            except Exception as exc:
                if os.environ.get(TRACEBACK_ENV) or not isinstance(exc, _user_errors()):
                    raise
                message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
                fail(f"{message}\n(set {TRACEBACK_ENV}=1 to see the traceback)")

        return run

    return wrap


def writes(folder_param: str, what: str, kind: Optional[str] = None) -> Callable:
    """Hold the writer lock of the dataset folder named by the command's
    ``folder_param`` option while the command runs (one writer per folder,
    :mod:`synesthesia.datasets.locks`); a busy folder is one ``error:`` line.
    With ``kind`` the folder is first checked to hold a dataset of that kind
    (:func:`synesthesia.cli.checks.dataset_folder`)."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            from synesthesia.datasets.locks import writer_lock

            folder = kwargs[folder_param]
            if kind is not None:
                from synesthesia.cli import checks

                checks.dataset_folder(folder, kind, f"--{folder_param.replace('_', '-')}")
            elif not os.path.isdir(folder):
                fail(f"{folder}: no such dataset folder")
            with writer_lock(folder, what):
                return fn(*args, **kwargs)

        return run

    return wrap


def aliased(value: Any, option: str, **aliases: Any) -> Any:
    """The value of ``option`` or of one of its hidden old spellings (for one
    release); exactly one must be given."""
    given = {f"--{name.replace('_', '-')}": v for name, v in aliases.items() if v is not None}
    if value is not None and given:
        fail(f"{option} and {', '.join(given)} name the same option; give it once")
    if value is None and len(given) > 1:
        fail(f"{', '.join(given)} name the same option ({option}); give it once")
    if value is None and not given:
        fail(f"missing option {option}")
    return value if value is not None else next(iter(given.values()))


def hidden_alias(name: str, of: str) -> Any:
    """A hidden option that still accepts an old spelling of ``of``."""
    return typer.Option(None, name, hidden=True, help=f"Old spelling of {of}.")


# --- KEY=VALUE options ---------------------------------------------------------------------------

def option_value(text: str) -> Any:
    """A KEY=VALUE option's value: int, float, true/false, none, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def options(pairs: list[str] | None) -> dict:
    """Repeated KEY=VALUE options -> a dict (values parsed by :func:`option_value`)."""
    out = {}
    for item in pairs or []:
        if "=" not in item:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = option_value(value)
    return out


def choices(name: str, values) -> type[Enum]:
    """A string Enum (what typer shows as choices) from a registry's names."""
    return Enum(name, {v.replace("-", "_"): v for v in values}, type=str)


# --- the runner options, shared by every command that runs a flow --------------------------------

class Runner(str, Enum):
    local = "local"
    threads = "threads"
    dask = "dask"


RunnerOption = Annotated[
    Runner,
    typer.Option(
        help="Task runner: 'local' = bounded process pool, 'threads' = thread pool, "
        "'dask' = prefect-dask on the cluster at --dask-address (a local Dask cluster without one).",
        rich_help_panel=EXECUTION,
    ),
]
WorkersOption = Annotated[int, typer.Option(help="Parallel workers of the local runner / local Dask cluster.", rich_help_panel=EXECUTION)]
DaskAddressOption = Annotated[
    Optional[str], typer.Option(help="Scheduler address of an existing Dask cluster (with --runner dask).", rich_help_panel=EXECUTION)
]
ShardSizeOption = Annotated[
    Optional[int],
    typer.Option(
        help="Items per shard, the unit of parallel work and of resumption "
        "(default: the dataset's own: MPD and Museart 200 files/tracks, ArtSound 100 captioned items, 256 embedded items; "
        "audio shards also hold at most 30 min of audio, and there are at least 8 when there are that many tracks).",
        rich_help_panel=EXECUTION,
    ),
]
#: The default of ``--alpha-background`` (datasets.media.DEFAULT_ALPHA_BACKGROUND; not imported, so --help stays light).
ALPHA_BACKGROUND = "white"
AlphaBackgroundOption = Annotated[
    str,
    typer.Option(
        help="Colour that transparent pixels of paintings are composited onto, everywhere pixels are used "
        "(captions, scores, embeddings, the models' readers, what raters see): a name (white, black, grey) or #rrggbb.",
        rich_help_panel=DATASET,
    ),
]


def runner_config(runner: Runner, workers: int, dask_address: str | None):
    from synesthesia.flows.runner import RunnerConfig

    return RunnerConfig(runner.value, workers, dask_address)


def start_run(runner: Runner, workers: int, dask_address: str | None):
    """The last step before a command runs its flow: check the runner options
    (the Dask scheduler and the Prefect server they name must answer), start
    the Prefect API in the background (it starts while the command imports
    the flow) and return the flow's ``RunnerConfig``."""
    from synesthesia.cli.checks import execution
    from synesthesia.flows.runner import start_prefect_api

    execution(runner, dask_address)
    config = runner_config(runner, workers, dask_address)
    start_prefect_api()
    return config
