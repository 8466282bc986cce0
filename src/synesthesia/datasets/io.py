"""Parquet reading and writing: atomic, schema-checked, part-aware."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synesthesia.datasets import schema as S


def write_table(table: pa.Table, path: str | os.PathLike, schema: pa.Schema | None = None) -> Path:
    """Write ``table`` to ``path`` atomically (temp file in the same folder,
    then rename), so a reader or a resumed run never sees a half-written file."""
    if schema is not None:
        table = S.conform(table, schema)
    meta = dict(table.schema.metadata or {})
    meta.setdefault(b"schema_version", S.SCHEMA_VERSION.encode())
    table = table.replace_schema_metadata(meta)
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return Path(path)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Write a file atomically with any writer: yields a temp path in the same
    folder, renamed onto ``path`` when the block ends without an error (and
    removed when it fails), so a reader or a resumed run never sees half a file.

        with atomic_output(ckpt) as tmp:
            torch.save(state, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Atomic text write (reports, dataset cards, markers)."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def read_table(path: str | os.PathLike, schema: pa.Schema | None = None, columns: list[str] | None = None) -> pa.Table:
    table = pq.read_table(path, columns=columns)
    if schema is not None and columns is None:
        table = S.conform(table, schema)
    return table


def part_files(folder: str | os.PathLike, prefix: str = "part-") -> list[Path]:
    """The finished part files of a sharded table, in shard order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{prefix}*.parquet") if not p.name.startswith("."))


def read_parts(folder: str | os.PathLike, schema: pa.Schema, prefix: str = "part-") -> pa.Table:
    files = part_files(folder, prefix)
    if not files:
        return S.empty(schema)
    return pa.concat_tables([read_table(f, schema) for f in files])


def concat(tables: Iterable[pa.Table], schema: pa.Schema) -> pa.Table:
    tables = [S.conform(t, schema) for t in tables]
    return pa.concat_tables(tables) if tables else S.empty(schema)


# --- fixed-size list <-> numpy ------------------------------------------------

def fixed_list_to_numpy(column: pa.ChunkedArray | pa.Array, shape: tuple[int, ...]) -> np.ndarray:
    """A fixed-size-list column as an ``(n_rows, *shape)`` numpy array, without
    a Python loop (flat values are reshaped in place)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    flat = column.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape((len(column),) + tuple(shape))


def numpy_to_fixed_list(array: np.ndarray, value_type: pa.DataType) -> pa.FixedSizeListArray:
    size = int(np.prod(array.shape[1:]))
    flat = pa.array(np.ascontiguousarray(array).reshape(-1), type=value_type)
    return pa.FixedSizeListArray.from_arrays(flat, size)


# --- dataset manifest -----------------------------------------------------------

MANIFEST = "dataset.json"
#: The manifest's record of the commands that built the folder:
#: ``{"build mpd": {option: value}}`` (written by the command line; kept
#: when a recipe rewrites the manifest).
RUN_CONFIG = "run_config"


def write_manifest(folder: str | os.PathLike, manifest: dict) -> Path:
    """``dataset.json``: which dataset a folder holds, its media roots (the
    folders that relative ``path`` columns are relative to) and its config.
    The run configs already recorded in it are kept."""
    import json

    path = Path(folder) / MANIFEST
    if RUN_CONFIG not in manifest and path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if RUN_CONFIG in previous:
            manifest = {**manifest, RUN_CONFIG: previous[RUN_CONFIG]}
    return write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", path)


def record_run_config(folder: str | os.PathLike, command: str, options: dict) -> Path:
    """Record the options ``command`` (``"build mpd"``) ran with in ``dataset.json``."""
    manifest = read_manifest(folder)
    manifest[RUN_CONFIG] = {**manifest.get(RUN_CONFIG, {}), command: options}
    return write_manifest(folder, manifest)


def read_manifest(folder: str | os.PathLike) -> dict:
    import json

    path = Path(folder) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{folder}: no {MANIFEST}; is this a dataset folder built by synesthesia?")
    return json.loads(path.read_text(encoding="utf-8"))
