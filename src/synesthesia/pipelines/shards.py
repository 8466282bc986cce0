"""Shards: the unit of work, of resumption and of progress.

A stage splits its items into shards of a few hundred. Each shard's output is
one Parquet file named ``<prefix>-<index>-<key>.parquet`` where ``key`` hashes
the stage name, the stage config and the fingerprints of the shard's inputs.
The file is written atomically (temp + rename), so its existence *is* the
completion marker: a re-run skips it, a crash loses at most the shards in
flight, and a changed config or input gives a new key (the stale file is
removed when the stage finishes).

Nothing here knows about Prefect: flows decide how shards are executed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence


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


@dataclass(frozen=True)
class Shard:
    stage: str
    index: int
    n_shards: int
    items: tuple  # the shard's work items (paths, ids or rows), in order
    key: str  # hash of stage + config + the items' fingerprints

    @property
    def label(self) -> str:
        return f"{self.stage} shard {self.index + 1}/{self.n_shards}"


def plan_shards(
    stage: str,
    items: Sequence[Any],
    shard_size: int,
    config: Any = None,
    fingerprints: Sequence[Any] | None = None,
) -> list[Shard]:
    """Cut ``items`` into consecutive shards of ``shard_size``.

    ``fingerprints`` (one per item, defaults to the items themselves) decide
    when a shard is stale: change an input file or the config and the key changes.
    """
    if shard_size < 1:
        raise ValueError("shard_size must be >= 1")
    fingerprints = list(items) if fingerprints is None else list(fingerprints)
    if len(fingerprints) != len(items):
        raise ValueError("one fingerprint per item is required")
    n = (len(items) + shard_size - 1) // shard_size
    shards = []
    for i in range(n):
        sl = slice(i * shard_size, (i + 1) * shard_size)
        key = stable_hash(stage, config, fingerprints[sl])
        shards.append(Shard(stage, i, n, tuple(items[sl]), key))
    return shards


class ShardStore:
    """The folder a sharded stage writes to."""

    def __init__(self, folder: str | os.PathLike, prefix: str = "part"):
        self.folder = Path(folder)
        self.prefix = prefix

    def path(self, shard: Shard, prefix: str | None = None) -> Path:
        return self.folder / f"{prefix or self.prefix}-{shard.index:05d}-{shard.key}.parquet"

    def done(self, shard: Shard) -> bool:
        return self.path(shard).exists()

    def pending(self, shards: Sequence[Shard]) -> list[Shard]:
        return [s for s in shards if not self.done(s)]

    def finalize(self, shards: Sequence[Shard], prefixes: Sequence[str] | None = None) -> list[Path]:
        """Remove files of this stage that no current shard owns (left by an
        older config or input set, or temp files of a killed run) and return
        the current files in shard order."""
        prefixes = list(prefixes or [self.prefix])
        keep = {self.path(s, p).name for s in shards for p in prefixes}
        if self.folder.is_dir():
            for f in self.folder.iterdir():
                stale_part = any(f.name.startswith(p + "-") for p in prefixes) and f.name not in keep
                stale_tmp = f.name.startswith(".") and f.name.endswith(".tmp")
                if stale_part or stale_tmp:
                    f.unlink(missing_ok=True)
        missing = [s.label for s in shards if not self.done(s)]
        if missing:
            raise RuntimeError(f"{len(missing)} shard(s) have no output: {missing[:5]}")
        return [self.path(s) for s in shards]
