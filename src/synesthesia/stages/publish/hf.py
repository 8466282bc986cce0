"""The Hugging Face export: a self-contained folder in the Hub's layout.

::

    OUT/README.md                                   the card (YAML configs + dataset_info, prose)
    OUT/<config>/<split>-00000-of-00002.parquet     shards of about ``shard_mb`` MB

Media are embedded (``Image()`` / ``Audio()``: the file's bytes and its
name), arrays are ``Array2D`` columns; the features are in the card's
``dataset_info`` and in each file's ``huggingface`` schema metadata, as
``datasets`` writes them. ``datasets.load_dataset(OUT)`` loads it, and so
does the Hub after ``push``.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from synesthesia.datasets import io as dio
from synesthesia.stages.publish import card as C
from synesthesia.stages.publish.examples import READ_THREADS, arrow_schema, example_batches, features
from synesthesia.stages.publish.spec import Config, Publication

#: Target size of one Parquet shard (the Hub's viewer and `datasets` handle ~500 MB files well).
DEFAULT_SHARD_MB = 500
#: Rows per Parquet row group (media rows are large: small groups keep random access cheap).
ROW_GROUP_ROWS = 64

USAGE = """## Loading

```python
import datasets, io, soundfile
ds = datasets.load_dataset("{where}"{config})
row = ds["train"][0]
{image}{audio}```

Audio is stored as the original file's bytes; `datasets` decodes it with `torchcodec` when that is installed, or read
the bytes yourself after `ds = ds.cast_column("{audio_column}", datasets.Audio(decode=False))`."""


def check_out(pub: Publication, out: Path) -> None:
    if out.resolve() == pub.folder.resolve():
        raise ValueError(f"{out}: export into a new folder, not the dataset folder itself")


def export_hf(pub: Publication, out: str | Path, embed_media: bool = True, shard_mb: float = DEFAULT_SHARD_MB,
              license: str | None = None, log=print, repo_id: str | None = None) -> dict:
    """Write the export; returns ``{"out", "configs": {name: {split: rows}}, "files", "bytes"}``.
    ``repo_id``: where it will be pushed (the card's loading example names it)."""
    out = Path(out)
    check_out(pub, out)
    out.mkdir(parents=True, exist_ok=True)
    infos, data_files, files = {}, {}, []
    with ThreadPoolExecutor(READ_THREADS) as pool:
        for config in pub.configs:
            splits = config.splits()
            if not splits:
                log(f"{config.name}: no rows, left out")
                continue
            tmp = out / f".{config.name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            info = {"features": features(config), "splits": {}, "download_size": 0}
            for split, rows in splits.items():
                written = _write_split(config, rows, tmp, split, embed_media, int(shard_mb * 1e6), pool)
                info["splits"][split] = {"num_examples": rows.num_rows, "num_bytes": written["num_bytes"]}
                info["download_size"] += sum(p.stat().st_size for p in written["files"])
                log(f"{config.name}/{split}: {rows.num_rows} rows in {len(written['files'])} file(s)")
            shutil.rmtree(out / config.name, ignore_errors=True)
            tmp.rename(out / config.name)
            files += sorted((out / config.name).glob("*.parquet"))
            infos[config.name] = info
            data_files[config.name] = {split: f"{config.name}/{split}-*.parquet" for split in splits}
    _remove_stale_configs(out, set(infos))
    where = repo_id or f"path/to/{out.name}"
    text = C.card_text(pub, infos, license=license, data_files=data_files, embed_media=embed_media, usage=usage(pub, where))
    dio.write_text(text, out / "README.md")
    return {"out": str(out), "configs": {n: {s: v["num_examples"] for s, v in i["splits"].items()} for n, i in infos.items()},
            "files": [str(f.relative_to(out)) for f in files], "bytes": sum(f.stat().st_size for f in files)}


def _remove_stale_configs(out: Path, keep: set[str]) -> None:
    """Config folders an earlier export wrote that this one does not (the card no longer names them; a push would upload them)."""
    for folder in out.iterdir():
        parts = list(folder.glob("*.parquet")) if folder.is_dir() and not folder.name.startswith(".") else []
        if folder.name not in keep and parts and all("-of-" in p.name for p in parts) and len(parts) == len(list(folder.iterdir())):
            shutil.rmtree(folder)


def usage(pub: Publication, where: str) -> str:
    main = pub.configs[0]
    image = next((m.column for m in main.media if m.kind == "image"), None)
    audio = next((m.column for m in main.media if m.kind == "audio"), None)
    return USAGE.format(
        where=where,
        config=f', "{main.name}"' if main.name != "default" else "",
        image=f'row["{image}"]            # a PIL image\n' if image else "",
        audio=(f'ds = ds.cast_column("{audio}", datasets.Audio(decode=False))\n'
               f'samples, rate = soundfile.read(io.BytesIO(ds["train"][0]["{audio}"]["bytes"]))\n') if audio else "",
        audio_column=audio or "audio",
    )


def _write_split(config: Config, rows: pa.Table, folder: Path, split: str, embed_media: bool, shard_bytes: int,
                 pool: ThreadPoolExecutor) -> dict:
    """``folder/<split>-NNNNN-of-MMMMM.parquet``: a new file whenever the open one passes ``shard_bytes``."""
    folder.mkdir(parents=True, exist_ok=True)
    schema = arrow_schema(config).with_metadata({"huggingface": json.dumps({"info": {"features": features(config)}})})
    media = {m.column for m in config.media}
    compression = {f.name: ("none" if f.name in media else "zstd") for f in schema}
    parts: list[Path] = []
    writer, size, total = None, 0, 0
    try:
        for batch in example_batches(config, rows, embed_media, ROW_GROUP_ROWS, pool):
            if writer is None or size >= shard_bytes:
                if writer is not None:
                    writer.close()
                parts.append(folder / f".{split}-{len(parts):05d}.parquet")
                writer, size = pq.ParquetWriter(parts[-1], schema, compression=compression), 0
            writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
            size += batch.nbytes
            total += batch.nbytes
    finally:
        if writer is not None:
            writer.close()
    named = []
    for k, part in enumerate(parts):
        named.append(part.rename(folder / f"{split}-{k:05d}-of-{len(parts):05d}.parquet"))
    return {"files": named, "num_bytes": total}
