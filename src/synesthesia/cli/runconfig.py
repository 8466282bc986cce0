"""Run-config files: ``--config run.yaml`` on every build, ``annotate run``
and ``demo``.

The file is a mapping whose keys are the command's option names
(``shard-size`` or ``shard_size``; without the dashes in front) and whose
values are what the options take (lists for repeatable options and for
``--ambiguity-band LO HI``; a mapping for a KEY=VALUE option). It fills in
every option the command line does not give: options on the command line
override the file. The resolved options of a build are written into
``DIR/dataset.json`` under ``run_config`` (one entry per command;
:func:`synesthesia.datasets.io.record_run_config`), and
``--config DIR`` or ``--config DIR/dataset.json`` reads them back, so
``synesthesia build mpd --config DIR/dataset.json --out OTHER`` builds the
same dataset again into OTHER.

Click's ``default_map`` does the merging: the ``--config`` option is eager,
so its callback loads the file before the other options are read (and the
options' own types convert the file's values, as they convert the command
line's).
"""

from __future__ import annotations

import enum
import json
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from synesthesia.cli.common import EXECUTION, fail

#: The context of the command being run (set by the --config callback, which
#: runs for every command that has the option, given or not).
_current: ContextVar[Any] = ContextVar("synesthesia_command_context", default=None)


def command_name(ctx: typer.Context) -> str:
    """``build mpd``, ``annotate run``, ``demo``: the command path without the program name."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(names))


def _options(command: Any) -> dict[str, Any]:
    """The command's visible options by name (hidden old spellings and --config excluded)."""
    return {p.name: p for p in command.params if p.param_type_name == "option" and not getattr(p, "hidden", False) and p.name != "config"}


def _read(path: Path, command: str) -> dict:
    if path.is_dir():
        path = path / "dataset.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"--config {path}: {exc.strerror or exc}")
    try:
        import yaml

        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        why = getattr(exc, "problem", None) or " ".join(str(exc).split())
        fail(f"--config {path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {why}{where}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        fail(f"--config {path}: expected a mapping of option names to values")
    from synesthesia.datasets.io import RUN_CONFIG

    if RUN_CONFIG in data:  # a dataset.json: the options the named command was run with
        recorded = data[RUN_CONFIG]
        if command not in recorded:
            fail(f"--config {path}: no run config of `{command}` in it (it has: {', '.join(sorted(recorded)) or 'none'})")
        return dict(recorded[command])
    if "dataset" in data and path.name == "dataset.json":
        fail(f"--config {path}: this folder was built before run configs were recorded; give the options instead")
    return data


def _value(param: Any, value: Any) -> Any:
    """A file value in the form the option's type converts."""
    if isinstance(value, dict) and param.multiple:  # KEY=VALUE options as a mapping
        return [f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in value.items()]
    if param.multiple and not isinstance(value, list):
        return [value]
    if isinstance(value, list) and not param.multiple and param.nargs == 1 and param.type_descriptor.annotation is str:
        return ",".join(str(v) for v in value)  # e.g. approaches: [image-audio, caption-caption]
    return value


def load_config(ctx: typer.Context, param: typer.CallbackParam, value: Optional[Path]) -> Optional[Path]:
    """The eager ``--config`` callback: read the file into ``ctx.default_map``."""
    _current.set(ctx)
    if value is None or ctx.resilient_parsing:
        return value
    command = command_name(ctx)
    known = _options(ctx.command)
    defaults = {}
    for key, item in _read(Path(value), command).items():
        name = str(key).lstrip("-").replace("-", "_")
        if name not in known:
            fail(f"--config {value}: `{command}` has no option --{name.replace('_', '-')} (its options: {', '.join('--' + n.replace('_', '-') for n in known)})")
        defaults[name] = _value(known[name], item)
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


ConfigOption = Annotated[
    Optional[Path],
    typer.Option(
        "--config",
        help="YAML/JSON file of options (keys = option names: shard-size: 50); options given on the command line win. "
        "A dataset folder or its dataset.json repeats the build that made it.",
        is_eager=True,
        callback=load_config,
        rich_help_panel=EXECUTION,
    ),
]

def _jsonable(value: Any) -> Any:
    """An option value as JSON; paths absolute, so the record works from any directory."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def resolved_options() -> dict:
    """The current command's options as they were resolved (command line,
    then ``--config``, then the defaults), keyed by option name."""
    ctx = _current.get()
    known = _options(ctx.command)
    return {name.replace("_", "-"): _jsonable(value) for name, value in ctx.params.items() if name in known}


def record_run_config(folder: Path) -> None:
    """Write the current command's resolved options into ``folder/dataset.json``."""
    from synesthesia.datasets.io import record_run_config as record

    record(folder, command_name(_current.get()), resolved_options())
