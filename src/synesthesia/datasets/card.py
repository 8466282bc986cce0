"""Hugging Face dataset cards: ``README.md`` with YAML ``configs`` that point
at a built folder's per-split Parquet shards, so ``datasets.load_dataset(DIR)``
(or the Hub viewer) finds the splits without a loading script."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from synesthesia.datasets import io as dio


def card_header(data_files: Mapping[str, str], pretty_name: str, extra: Mapping[str, object] | None = None) -> str:
    """The YAML front matter: one ``default`` config whose splits map to the
    given glob patterns (relative to the folder)."""
    import yaml

    meta = {
        "pretty_name": pretty_name,
        "configs": [
            {"config_name": "default", "data_files": [{"split": split, "path": pattern} for split, pattern in data_files.items()]}
        ],
    }
    meta.update(extra or {})
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def write_dataset_card(
    folder: str | Path,
    pretty_name: str,
    data_files: Mapping[str, str],
    sections: Sequence[str],
    extra: Mapping[str, object] | None = None,
) -> Path:
    """Write ``folder/README.md``: front matter, a title, then ``sections``
    (Markdown, in order)."""
    text = card_header(data_files, pretty_name, extra) + f"\n# {pretty_name}\n\n" + "\n\n".join(sections) + "\n"
    return dio.write_text(text, Path(folder) / "README.md")


def read_card_configs(folder: str | Path) -> list[dict]:
    """The ``configs`` of a card written by :func:`write_dataset_card`."""
    import yaml

    text = (Path(folder) / "README.md").read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise ValueError(f"{folder}/README.md has no YAML front matter")
    return yaml.safe_load(text[4 : text.index("\n---\n", 4)])["configs"]


#: Hugging Face's ``size_categories`` buckets.
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))


def size_category(n: int) -> str:
    """The ``size_categories`` value for a dataset of ``n`` rows."""
    for limit, label in _SIZE_CATEGORIES:
        if n < limit:
            return label
    return "n>10M"
