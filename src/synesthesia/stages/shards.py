"""Shards: the unit of work, of resumption and of progress.

A stage splits its items into shards of a few hundred. Each shard's output is
one Parquet file named ``<prefix>-<index>-<key>.parquet`` where ``key`` hashes
the stage name, the stage config and the fingerprints of the shard's inputs.
The file is written atomically (temp + rename), so its existence *is* the
completion marker: a re-run skips it, a crash loses at most the shards in
flight, and a changed config or input gives a new key (the stale file is
removed when the stage finishes).

Nothing here knows about Prefect: a recipe hands a stage's shards to a
:data:`ShardRunner` — :func:`run_serially` here, or the flow's, which maps
them over a Prefect task runner — so executors are interchangeable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pyarrow as pa

from synesthesia.datasets import io as dio

from synesthesia.datasets.keys import stable_hash


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


def partition_by_weight(weights: Sequence[float], max_items: int, max_weight: float, min_parts: int = 1) -> list[slice]:
    """Cut ``len(weights)`` consecutive items into parts of about equal total
    weight (e.g. seconds of audio): as many parts as the largest of
    ``ceil(n / max_items)``, ``ceil(total / max_weight)`` and ``min(n,
    min_parts)``, each cut where the running total is nearest its share, then
    any part over ``max_items`` split. Depends on the weights alone."""
    import math

    import numpy as np

    n = len(weights)
    if max_items < 1 or max_weight <= 0:
        raise ValueError("max_items must be >= 1 and max_weight > 0")
    if n == 0:
        return []
    w = np.maximum(np.asarray(weights, dtype=float), 0.0)
    total = float(w.sum())
    parts = max(math.ceil(n / max_items), math.ceil(total / max_weight) if total > 0 else 1, min(n, min_parts))
    parts = min(parts, n)
    before = np.concatenate([[0.0], np.cumsum(w)])  # before[i]: weight of items [0, i)
    cuts = [0]
    for k in range(1, parts):
        target = total * k / parts
        i = int(np.searchsorted(before, target))
        i = i - 1 if i > 0 and abs(before[i - 1] - target) <= abs(before[min(i, n)] - target) else i
        cuts.append(min(max(i, cuts[-1] + 1), n - (parts - k)))  # non-empty parts, room for the rest
    cuts.append(n)
    out = []
    for a, b in zip(cuts, cuts[1:]):
        out.extend(slice(s, min(s + max_items, b)) for s in range(a, b, max_items))
    return out


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


#: Runs one stage's shards: ``run(step, shards, **kwargs)`` calls
#: ``step(shard=shard, **kwargs)`` for every shard (in any order, anywhere)
#: and returns the step results in shard order.
ShardRunner = Callable[..., list[dict]]


def run_serially(step: Callable[..., dict], shards: Sequence[Shard], is_done: Callable[[Shard], bool] | None = None, **kwargs: Any) -> list[dict]:
    """The plain :data:`ShardRunner`: every shard here, one after the other.

    Every runner takes ``is_done``: a shard it says is finished is reported
    ``{"skipped": True}`` without being run (a re-run that finds a whole
    stage done then costs no task runs; the step's own skip-if-done check
    stays the guarantee)."""
    return [{"skipped": True} if is_done is not None and is_done(shard) else dict(step(shard=shard, **kwargs)) for shard in shards]


def work_dir(out: str | os.PathLike, name: str) -> Path:
    """Where a stage keeps its shard parts inside a dataset folder."""
    return Path(out) / "_work" / name


def write_once(
    shard: Shard,
    folder: str | os.PathLike,
    produce: Callable[[], tuple[Mapping[str, tuple[pa.Table, pa.Schema | None]], dict]],
    prefix: str = "part",
) -> dict:
    """The head every write-once shard step shares: skip a finished shard,
    else ``produce()`` its tables — ``({file prefix: (table, schema)}, counts)``
    — and write them, the ``prefix`` part last: its file marks the shard done,
    so a crash between two writes redoes the shard."""
    store = ShardStore(folder, prefix)
    if store.done(shard):
        return {"skipped": True}
    parts, counts = produce()
    for name, (table, schema) in sorted(parts.items(), key=lambda kv: kv[0] == prefix):
        dio.write_table(table, store.path(shard, name), schema)
    return counts
