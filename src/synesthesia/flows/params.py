"""Flow parameters are the recipes' own config dataclasses.

Prefect validates a flow's parameters with pydantic, which builds standard
dataclasses from JSON: a deployment run started from the UI or the API with
``{"config": {"n_pairs": 50000, "seed": 1}}`` gets an ``MPDConfig`` (nested
configs too, lists become tuples, fields left out keep their defaults, and
the dataclass's own checks run). The recipes stay plain dataclasses with no
pydantic in them; the only thing added here is that a key naming no field is
refused instead of silently ignored (a misspelt ``n_pair`` would otherwise
build the default 50,000 pairs): :func:`refuse_unknown_keys` sets pydantic's
``extra="forbid"`` on each config class, as the class attribute
``__pydantic_config__`` that pydantic reads from standard dataclasses.
"""

from __future__ import annotations

import dataclasses
import typing


def _dataclasses_in(annotation: object) -> typing.Iterator[type]:
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _dataclasses_in(arg)


def refuse_unknown_keys(*classes: type) -> None:
    """Make pydantic refuse unknown keys for ``classes`` and every config dataclass nested in them."""
    seen: set[type] = set()
    pending = list(classes)
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        cls.__pydantic_config__ = {"extra": "forbid"}
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            pending.extend(_dataclasses_in(hints.get(field.name)))
