"""Hugging Face dataset cards: ``README.md`` with YAML ``configs`` that point
at a built folder's per-split Parquet shards, so ``datasets.load_dataset(DIR)``
(or the Hub viewer) finds the splits without a loading script; and the
writer of those per-split shards.

    datasets.load_dataset("DIR")                 # the default config
    datasets.load_dataset("DIR", "<config>")     # a named config (e.g. MPD's "preferences")
    datasets.load_dataset("parquet", data_files={"train": "DIR/<root>/train/*.parquet", ...})
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import io as dio

#: The split of rows whose split is null.
UNSPLIT = "unsplit"


def configs_header(
    configs: Mapping[str, Mapping[str, str]], pretty_name: str, extra: Mapping[str, object] | None = None, default: str | None = None
) -> str:
    """The YAML front matter for several configs (``{config: {split: glob}}``,
    globs relative to the folder); ``default`` (or the first) is the default."""
    import yaml

    default = default or next(iter(configs), None)
    entries = []
    for name, data_files in configs.items():
        entry: dict = {"config_name": name}
        if name == default and len(configs) > 1:
            entry["default"] = True
        entry["data_files"] = [{"split": split, "path": pattern} for split, pattern in data_files.items()]
        entries.append(entry)
    meta = {"pretty_name": pretty_name, "configs": entries}
    meta.update(extra or {})
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def card_header(data_files: Mapping[str, str], pretty_name: str, extra: Mapping[str, object] | None = None) -> str:
    """The YAML front matter: one ``default`` config whose splits map to the
    given glob patterns (relative to the folder)."""
    return configs_header({"default": data_files}, pretty_name, extra)


def write_dataset_card(
    folder: str | Path,
    pretty_name: str,
    data_files: Mapping[str, str] | None,
    sections: Sequence[str],
    extra: Mapping[str, object] | None = None,
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write ``folder/README.md``: front matter, a title, then ``sections``
    (Markdown, in order). ``configs`` (several named configs) replaces
    ``data_files`` (one ``default`` config)."""
    header = configs_header(configs, pretty_name, extra) if configs else card_header(data_files or {}, pretty_name, extra)
    text = header + f"\n# {pretty_name}\n\n" + "\n\n".join(sections) + "\n"
    return dio.write_text(text, Path(folder) / "README.md")


def read_card_configs(folder: str | Path) -> list[dict]:
    """The ``configs`` of a card written by :func:`write_dataset_card`."""
    import yaml

    text = (Path(folder) / "README.md").read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise ValueError(f"{folder}/README.md has no YAML front matter")
    return yaml.safe_load(text[4 : text.index("\n---\n", 4)])["configs"]


def write_split_parts(
    rows: pa.Table, root: str | Path, schema: pa.Schema | None = None, rows_per_part: int = 100_000, split_column: str = "split"
) -> dict[str, list[Path]]:
    """``root/<split>/part-NNNNN.parquet`` for every split of ``rows`` (rows
    with a null split go to ``unsplit``); parts left by an earlier export
    (another split, fewer rows) are removed, and emptied split folders too."""
    root = Path(root)
    splits = pc.fill_null(rows.column(split_column), UNSPLIT) if rows.num_rows else pa.chunked_array([], pa.string())
    written: dict[str, list[Path]] = {}
    for split in dict.fromkeys(splits.to_pylist()):
        sub = rows.filter(pc.equal(splits, split))
        written[split] = [
            dio.write_table(sub.slice(start, rows_per_part), root / split / f"part-{k:05d}.parquet", schema)
            for k, start in enumerate(range(0, sub.num_rows, rows_per_part))
        ]
    keep = {p for paths in written.values() for p in paths}
    if root.is_dir():
        for f in root.glob("*/*.parquet"):
            if f not in keep:
                f.unlink()
        for d in root.iterdir():
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
    return written

#: Hugging Face's ``size_categories`` buckets.
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))


def size_category(n: int) -> str:
    """The ``size_categories`` value for a dataset of ``n`` rows."""
    for limit, label in _SIZE_CATEGORIES:
        if n < limit:
            return label
    return "n>10M"
