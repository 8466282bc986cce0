"""The WebDataset export: tar shards of the same examples as the Hugging
Face export, for streaming training, plus ``index.json`` (format in
:mod:`synesthesia.datasets.readers.shards`).

Tars are written with the standard library (no dependency), members in key
order with fixed owner, mode and mtime, so the same folder always gives the
same bytes; each shard is written to a temp file and renamed. The
``webdataset`` library reads them as they are
(``webdataset.WebDataset(OUT + "/scores/train-{000000..000003}.tar")``).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets.readers import shards as W
from synesthesia.stages.publish import card as C
from synesthesia.stages.publish.examples import READ_THREADS, example_batches, features
from synesthesia.stages.publish.spec import Config, Publication

#: Target size of one tar (WebDataset's advice: 100 MB – 1 GB).
DEFAULT_SHARD_MB = 500


def sample_members(config: Config, row: dict) -> list[tuple[str, bytes]]:
    """A row of :func:`example_batches` as ``(member suffix, bytes)``: the JSON of the data columns, the media, the arrays."""
    data = {c: row[c] for c in config.data_columns}
    members = [("json", json.dumps(data, ensure_ascii=False, sort_keys=True).encode())]
    for m in config.media:
        media = row[m.column]
        members.append((W.file_extension(media["path"]), media["bytes"]))
    for a in config.arrays:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(row[a.column], dtype=a.dtype), allow_pickle=False)
        members.append((f"{a.column}.npy", buf.getvalue()))
    return members


def _rows(config: Config, batch: pa.RecordBatch) -> list[dict]:
    """The batch's rows as dicts, array columns as numpy arrays (a nested
    Python list of 60,032 floats a row would be ~50x slower)."""
    names = [a.column for a in config.arrays]
    rows = batch.drop_columns(names).to_pylist()
    for a in config.arrays:
        flat = batch.column(a.column)
        for _ in a.shape:
            flat = flat.flatten()
        values = flat.to_numpy(zero_copy_only=False).reshape((batch.num_rows, *a.shape))
        for row, value in zip(rows, values):
            row[a.column] = value
    return rows


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
    tar.addfile(info, io.BytesIO(data))


def export_webdataset(pub: Publication, out: str | Path, shard_mb: float = DEFAULT_SHARD_MB, max_samples: int | None = None,
                      log=print) -> dict:
    """Write the shards and ``index.json``; returns the index."""
    out = Path(out)
    if out.resolve() == pub.folder.resolve():
        raise ValueError(f"{out}: export into a new folder, not the dataset folder itself")
    out.mkdir(parents=True, exist_ok=True)
    index = {"format": W.FORMAT, "version": W.VERSION, "dataset": pub.dataset, "build": pub.build, "configs": {}}
    with ThreadPoolExecutor(READ_THREADS) as pool:
        for config in pub.configs:
            splits = config.splits()
            if not splits:
                continue
            tmp = out / f".{config.name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            entry = {"key": config.key, "media": {m.column: m.kind for m in config.media},
                     "arrays": {a.column: {"shape": list(a.shape), "dtype": a.dtype} for a in config.arrays},
                     "features": features(config), "splits": {}}
            for split, rows in splits.items():
                shards = _write_split(config, rows, tmp, split, int(shard_mb * 1e6), max_samples, pool)
                for s in shards:
                    s["path"] = f"{config.name}/{s['path']}"
                last = len(shards) - 1
                entry["splits"][split] = {"samples": rows.num_rows, "pattern": f"{config.name}/{split}-{{000000..{last:06d}}}.tar",
                                          "shards": shards}
                log(f"{config.name}/{split}: {rows.num_rows} samples in {len(shards)} shard(s)")
            shutil.rmtree(out / config.name, ignore_errors=True)
            tmp.rename(out / config.name)
            index["configs"][config.name] = entry
    dio.write_text(json.dumps(index, indent=2, sort_keys=True, default=str) + "\n", out / W.INDEX)
    dio.write_text(C.card_text(pub, None, usage=USAGE.format(pattern=_first_pattern(index))), out / "README.md")
    return index


USAGE = """## Reading the shards

Tar shards in WebDataset's layout (`{{key}}.json` holds the row, the media files keep their format, arrays are
`{{key}}.<name>.npy`); `index.json` lists every shard with its sample count and SHA-256.

```python
import webdataset as wds
for sample in wds.WebDataset("{pattern}"):
    ...
```

`synesthesia train …` takes this folder in place of the built dataset folder."""


def _first_pattern(index: dict) -> str:
    for entry in index["configs"].values():
        for split in entry["splits"].values():
            return split["pattern"]
    return "<config>/<split>-{000000..000000}.tar"


def _write_split(config: Config, rows: pa.Table, folder: Path, split: str, shard_bytes: int, max_samples: int | None,
                 pool: ThreadPoolExecutor) -> list[dict]:
    shards: list[dict] = []
    tar = handle = None
    state = {"samples": 0, "bytes": 0}

    def close():
        tar.close()
        handle.close()
        final = folder / f"{split}-{len(shards):06d}.tar"
        tmp_path.rename(final)
        shards.append({"path": final.name, "samples": state["samples"], "bytes": final.stat().st_size, "sha256": _sha256(final)})

    try:
        for batch in example_batches(config, rows, True, 64, pool):
            for row in _rows(config, batch):
                full = tar is not None and (state["bytes"] >= shard_bytes or (max_samples and state["samples"] >= max_samples))
                if full:
                    close()
                    tar = None
                if tar is None:
                    tmp_path = folder / f".{split}-{len(shards):06d}.tar"
                    handle = open(tmp_path, "wb")
                    tar = tarfile.open(fileobj=handle, mode="w")
                    state.update(samples=0, bytes=0)
                key = row[config.key]
                for suffix, data in sample_members(config, row):
                    _add(tar, f"{key}.{suffix}", data)
                    state["bytes"] += len(data) + 512
                state["samples"] += 1
        if tar is not None:
            close()
    except BaseException:
        if handle is not None and not handle.closed:
            handle.close()
        raise
    return shards


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
