"""Stable keys: content hashes, seeded random streams and split names.

Every id, shard key and random draw of a build derives from these, so a
re-run (or a run on another machine or task runner) reproduces the same
folder. Nothing here depends on the order in which work is executed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Any, Hashable, Mapping

import numpy as np

SPLITS = ("train", "val", "test")
#: MPD and Museart: 80/10/10 (Museart paper: 19,366 / 2,425 / 2,425).
DEFAULT_FRACTIONS: Mapping[str, float] = {"train": 0.8, "val": 0.1, "test": 0.1}


def stable_hash(*parts: Any, length: int = 12) -> str:
    """A short, stable hex digest of JSON-serialisable parts (dataclasses ok)."""

    def default(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            return dataclasses.asdict(obj)
        if isinstance(obj, (set, frozenset)):
            return sorted(obj)
        if isinstance(obj, os.PathLike):
            return os.fspath(obj)
        return repr(obj)

    blob = json.dumps(parts, sort_keys=True, default=default, separators=(",", ":"))
    return hashlib.sha1(blob.encode()).hexdigest()[:length]


def rng_for(seed: int, *names: Hashable) -> np.random.Generator:
    """A generator that depends only on the seed and the given names."""
    digest = hashlib.sha256(repr((seed,) + names).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
