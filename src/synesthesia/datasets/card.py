"""Hugging Face export: split shards and a dataset card.

A dataset folder gets ``hf/<config>/<split>-NNNNN-of-NNNNN.parquet`` and a
``README.md`` whose YAML front matter lists the configs and their split
files, so either of these reads it::

    datasets.load_dataset("DIR", "<config>")                    # via the card
    datasets.load_dataset("parquet", data_files={"train": "DIR/hf/<config>/train-*.parquet", ...})

Rows without a split go to the split ``unsplit``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from synesthesia.datasets import io as dio

HF_FOLDER = "hf"
UNSPLIT = "unsplit"
SPLIT_ORDER = ("train", "val", "test")


def write_split_shards(table: pa.Table, out: str | os.PathLike, config: str, split_column: str = "split", max_rows: int = 100_000) -> dict[str, str]:
    """Write ``table`` as per-split shards under ``out/hf/<config>/``; return
    ``{split: glob}`` (relative to ``out``). Files of an earlier export that
    are not rewritten are removed."""
    folder = Path(out) / HF_FOLDER / config
    folder.mkdir(parents=True, exist_ok=True)
    splits = pc.fill_null(table.column(split_column), UNSPLIT) if table.num_rows else pa.array([], pa.string())
    names = sorted(set(splits.to_pylist()), key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))
    written, globs = set(), {}
    for split in names:
        part = table.filter(pc.equal(splits, split))
        n = max(1, -(-part.num_rows // max_rows))
        for i in range(n):
            path = folder / f"{split}-{i:05d}-of-{n:05d}.parquet"
            dio.write_table(part.slice(i * max_rows, max_rows), path)
            written.add(path.name)
        globs[split] = f"{HF_FOLDER}/{config}/{split}-*.parquet"
    for f in folder.glob("*.parquet"):
        if f.name not in written:
            f.unlink()
    return globs


def dataset_card(pretty_name: str, configs: Mapping[str, Mapping[str, str]], body: str, default: str | None = None, extra: Mapping | None = None) -> str:
    """A README.md with Hugging Face YAML metadata: one config per entry of
    ``configs`` (``{config: {split: glob}}``), then the Markdown ``body``."""
    meta: dict = {"pretty_name": pretty_name}
    meta.update(extra or {})
    meta["configs"] = []
    for name, splits in configs.items():
        entry: dict = {"config_name": name}
        if name == (default or next(iter(configs), None)):
            entry["default"] = True
        entry["data_files"] = [{"split": s, "path": g} for s, g in splits.items()]
        meta["configs"].append(entry)
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n\n{body.strip()}\n"
