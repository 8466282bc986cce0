"""The rows of an export as Arrow batches in the Hugging Face layout, shared
by the Parquet and the WebDataset writers so both hold the same examples.

Columns, in order: the key, the other data columns (ClassLabel columns as
label indices), the media as ``struct<bytes, path>`` (what ``Image()`` and
``Audio()`` store; ``bytes`` null when media are not embedded, ``path``
then the file's absolute path), the arrays as nested lists (``Array2D``).
:func:`features` is the matching Hugging Face features dict, written as
``datasets`` writes it (``Features.to_dict()``), so it can be built without
the ``datasets`` library.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import numpy as np
import pyarrow as pa

from synesthesia.stages.publish.spec import Config, batches

MEDIA_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
MEDIA_FEATURE = {"image": "Image", "audio": "Audio"}
#: Arrow type name -> the ``Value`` dtype ``datasets`` uses for it.
_VALUE_DTYPES = {"double": "float64", "float": "float32", "halffloat": "float16"}
#: Files read at once while a batch is assembled.
READ_THREADS = 8


def value_dtype(arrow_type: pa.DataType) -> str:
    if pa.types.is_nested(arrow_type):
        raise TypeError(f"nested column type {arrow_type} is not exported as a Value")
    name = str(arrow_type)
    return _VALUE_DTYPES.get(name, name)


def value_feature(arrow_type: pa.DataType) -> dict:
    """A data column's feature: a ``Value``, or a ``List`` of them (e.g. a
    track's sub-genres), as ``datasets`` writes them."""
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        kind = "List" if pa.types.is_list(arrow_type) else "LargeList"
        return {"feature": value_feature(arrow_type.value_type), "_type": kind}
    return {"dtype": value_dtype(arrow_type), "_type": "Value"}


def features(config: Config) -> dict:
    """The Hugging Face features of ``config`` (``Features.to_dict()`` form)."""
    out: dict = {}
    schema = config.rows.schema
    for name in config.data_columns:
        if name in config.labels:
            out[name] = {"names": list(config.labels[name]), "_type": "ClassLabel"}
        else:
            out[name] = value_feature(schema.field(name).type)
    for m in config.media:
        out[m.column] = {"_type": MEDIA_FEATURE[m.kind]}
    for a in config.arrays:
        out[a.column] = {"shape": list(a.shape), "dtype": a.dtype, "_type": f"Array{len(a.shape)}D"}
    return out


def arrow_schema(config: Config) -> pa.Schema:
    fields = []
    for name in config.data_columns:
        fields.append(pa.field(name, pa.int64() if name in config.labels else config.rows.schema.field(name).type))
    fields += [pa.field(m.column, MEDIA_TYPE) for m in config.media]
    for a in config.arrays:
        t = pa.from_numpy_dtype(np.dtype(a.dtype))
        for _ in a.shape:
            t = pa.list_(t)
        fields.append(pa.field(a.column, t))
    return pa.schema(fields)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _nested(values: np.ndarray, dtype: str) -> pa.Array:
    """``[n, *shape]`` → nested (variable-size) lists, the storage of ``ArrayND``."""
    arr = pa.array(np.ascontiguousarray(values, dtype=dtype).reshape(-1))
    for size in reversed(values.shape[1:]):
        arr = pa.ListArray.from_arrays(pa.array(np.arange(0, len(arr) + 1, size, dtype=np.int32)), arr)
    return arr


def example_batches(config: Config, rows: pa.Table, embed_media: bool = True, batch_rows: int = 64,
                    pool: ThreadPoolExecutor | None = None) -> Iterator[pa.RecordBatch]:
    """``rows`` (one split of ``config``) as record batches of :func:`arrow_schema`."""
    schema = arrow_schema(config)
    own = pool is None
    pool = pool or ThreadPoolExecutor(READ_THREADS)
    try:
        for chunk in batches(rows, batch_rows):
            columns = []
            for name in config.data_columns:
                if name in config.labels:
                    index = {label: i for i, label in enumerate(config.labels[name])}
                    values = chunk.column(name).to_pylist()
                    unknown = sorted({v for v in values if v not in index}, key=str)
                    if unknown:
                        raise ValueError(f"config {config.name}: {name} values {unknown[:5]} are not among its labels")
                    columns.append(pa.array([index[v] for v in values], pa.int64()))
                else:
                    columns.append(chunk.column(name).combine_chunks())
            for m in config.media:
                files = chunk.column(m.files).to_pylist()
                missing = [f for f in files if f is None]
                if missing:
                    raise ValueError(f"config {config.name}: {len(missing)} rows have no {m.column} file")
                data = list(pool.map(_read, files)) if embed_media else [None] * len(files)
                names = chunk.column(m.names).to_pylist() if embed_media else files
                columns.append(pa.array([{"bytes": b, "path": n} for b, n in zip(data, names)], MEDIA_TYPE))
            for a in config.arrays:
                values = np.asarray(a.values(chunk.column(a.by).to_pylist()))
                if values.shape[1:] != tuple(a.shape):
                    raise ValueError(f"config {config.name}: {a.column} has shape {values.shape[1:]}, expected {tuple(a.shape)}")
                columns.append(_nested(values, a.dtype))
            yield pa.RecordBatch.from_arrays(columns, schema=schema)
    finally:
        if own:
            pool.shutdown()
