"""Hugging Face dataset cards: ``README.md`` with YAML ``configs`` that point
at a built folder's per-split Parquet shards, so ``datasets.load_dataset(DIR)``
(or the Hub viewer) finds the splits without a loading script; and the
writer of those per-split shards.

    datasets.load_dataset("DIR")                 # the default config
    datasets.load_dataset("DIR", "<config>")     # a named config (e.g. MPD's "preferences")
    datasets.load_dataset("parquet", data_files={"train": "DIR/<root>/train/*.parquet", ...})
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import io as dio
from synesthesia.datasets.markdown import md_table

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

#: What a card says for an item whose reader gave no source or licence.
NOT_GIVEN = "(not given)"


def item_licences(table: pa.Table, prefix: str = "", id_column: str | None = None) -> list[tuple[str | None, str | None]]:
    """``(source, licence)`` per item of a table with provenance columns
    (``source``/``licence``, or ``<prefix>source``/``<prefix>licence``);
    with ``id_column``, once per distinct id (a pairs table names an item
    in several rows)."""
    names = [f"{prefix}source", f"{prefix}licence"]
    if table.num_rows == 0 or any(n not in table.column_names for n in names):
        return []
    rows = zip(*(table.column(n).to_pylist() for n in names))
    if id_column is None:
        return list(rows)
    return list(dict(zip(table.column(id_column).to_pylist(), rows)).values())


def licence_section(groups: Mapping[str, Iterable[tuple[str | None, str | None]]]) -> str:
    """``## Licences``: per group of items (``paintings``, ``tracks``...) how
    many come from each source under each licence, then what that means:
    one licence, several (the dataset *mixes* licences: each item keeps its
    own in its ``licence`` column), or none given."""
    rows, licences, unknown = [], set(), 0
    for group, pairs in groups.items():
        counts = Counter((source or NOT_GIVEN, licence or NOT_GIVEN) for source, licence in pairs)
        for (source, licence), n in sorted(counts.items()):
            rows.append((group, source, licence, n))
            if licence == NOT_GIVEN:
                unknown += n
            else:
                licences.add(licence)
    if not rows:
        return "## Licences\n\nNo items."
    if len(licences) > 1:
        note = (
            f"**This dataset mixes {len(licences)} licences.** Each item keeps its own in the `licence` column "
            "(with `source` and `source_id`); whoever uses or republishes the dataset must meet the terms of every "
            "licence among the items they use."
        )
    elif licences:
        note = f"Every item whose source gives a licence is under: {next(iter(licences))}."
    else:
        note = "No item's source gives a licence."
    if unknown:
        note += (
            f" {unknown} item(s) have no licence from their source (`licence` is empty): check their terms before "
            "republishing them."
        )
    return "## Licences\n\n" + md_table(["items", "source", "licence", "count"], rows) + "\n\n" + note


#: Hugging Face's ``size_categories`` buckets.
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))


def size_category(n: int) -> str:
    """The ``size_categories`` value for a dataset of ``n`` rows."""
    for limit, label in _SIZE_CATEGORIES:
        if n < limit:
            return label
    return "n>10M"
