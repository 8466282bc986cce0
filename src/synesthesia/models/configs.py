"""Model and training configs are data: frozen dataclasses that go to and
come from plain dicts (JSON/YAML), shared by every model of the toolkit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any


class UnknownConfigKeys(KeyError, ValueError):
    """A config dict named a field the dataclass does not have (a typo must
    never pass silently)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def from_dict(cls: type, data: dict) -> Any:
    """Rebuild a config dataclass from :func:`to_dict` output: nested config
    dataclasses and tuples (lists in JSON/YAML) come back as such; missing
    keys keep their defaults."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise UnknownConfigKeys(f"unknown {cls.__name__} keys: {sorted(unknown)} (known: {sorted(names)})")
    defaults = cls()
    values = {}
    for key, value in data.items():
        default = getattr(defaults, key)
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = from_dict(type(default), value)
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        values[key] = value
    return cls(**values)


class ConfigData:
    """Mixin: ``config.to_dict()`` and ``Config.from_dict(values)``."""

    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, values: dict):
        return from_dict(cls, values)


def save_json(config: Any, path: str | Path) -> Path:
    from synesthesia.datasets.io import write_text

    return write_text(json.dumps(to_dict(config), indent=2, sort_keys=True) + "\n", path)


def load_json(cls: type, path: str | Path) -> Any:
    return from_dict(cls, json.loads(Path(path).read_text(encoding="utf-8")))


# --- run configs: a "model" and a "train" section, from files or presets ---------------


def preset_names(folder: Path) -> list[str]:
    return sorted(p.stem for p in Path(folder).glob("*.yaml"))


def read_config_file(spec: str | Path, preset_folder: Path) -> dict:
    """The dict in a YAML/JSON file, or in ``preset_folder/<spec>.yaml``."""
    import yaml

    path = Path(spec)
    if not path.exists():
        if str(spec) not in preset_names(preset_folder):
            raise FileNotFoundError(f"config {spec!r} is neither a file nor a preset ({', '.join(preset_names(preset_folder))})")
        path = Path(preset_folder) / f"{spec}.yaml"
    text = path.read_text(encoding="utf-8")
    return (json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)) or {}


def run_sections(values: dict, model_cls: type, train_cls: type) -> tuple[Any, Any]:
    """(model config, train config) from a dict with sections ``model`` / ``train``."""
    unknown = set(values) - {"model", "train"}
    if unknown:
        raise ValueError(f"a config has sections 'model' and 'train', not {sorted(unknown)}")
    return from_dict(model_cls, values.get("model") or {}), from_dict(train_cls, values.get("train") or {})


def dump_yaml(values: dict) -> str:
    import yaml

    return yaml.safe_dump(json.loads(json.dumps(values)), sort_keys=False)
