"""A shard step that fails on its first attempt the way it is told to (and
counts its attempts in a file per shard), importable by worker processes."""

from __future__ import annotations

import errno
from pathlib import Path

FAILURES = {
    "eio": lambda: OSError(errno.EIO, "Input/output error (simulated)"),
    "value": lambda: ValueError("deterministic bad value (simulated)"),
    "missing": lambda: FileNotFoundError(errno.ENOENT, "No such file (simulated)"),
}


def flaky_step(shard, folder: str, failure: str | None) -> dict:
    marker = Path(folder) / f"{shard.stage}-{shard.index}.attempts"
    attempts = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(attempts))
    if attempts == 1 and failure:
        raise FAILURES[failure]()
    return {"items": len(shard.items)}


def attempts(folder: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted(Path(folder).glob("*.attempts"))]
