"""Hugging Face dataset cards: ``README.md`` with YAML front matter whose
``configs`` point at the split shards, so ``datasets.load_dataset(DIR)``
loads the splits straight from the folder."""

from __future__ import annotations

from typing import Mapping, Sequence

import yaml

#: Hugging Face's size buckets.
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))


def size_category(n: int) -> str:
    for limit, label in _SIZE_CATEGORIES:
        if n < limit:
            return label
    return "n>10M"


def dataset_card(
    pretty_name: str,
    split_files: Mapping[str, str | Sequence[str]],
    body: str,
    n_rows: int,
    license: str = "other",
    tags: Sequence[str] = (),
    task_categories: Sequence[str] = (),
) -> str:
    """The card's text. ``split_files``: split name → path(s) relative to the
    folder (globs allowed), in the order the splits should be listed."""
    meta = {
        "pretty_name": pretty_name,
        "license": license,
        "size_categories": [size_category(n_rows)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": path if isinstance(path, str) else list(path)} for split, path in split_files.items()],
            }
        ],
    }
    if tags:
        meta["tags"] = list(tags)
    if task_categories:
        meta["task_categories"] = list(task_categories)
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n\n{body.strip()}\n"


def read_card_metadata(text: str) -> dict:
    """The YAML front matter of a card (``{}`` if it has none)."""
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---", 4)
    return yaml.safe_load(text[4:end]) if end > 0 else {}
