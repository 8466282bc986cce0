"""Reading a built Museart folder: the pairs of a split with absolute media
paths, and :class:`MuseartPairs`, a map-style dataset over them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import SPLITS
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND

DATASET = "museart"


def read_pairs(folder: str | Path, split: str | None = None) -> pa.Table:
    """The pairs of one split (all splits with ``None``) of a built folder,
    with **absolute** ``audio_path``/``image_path`` and a ``category_index``
    (position in ``dataset.json``'s ``categories``)."""
    folder = Path(folder).resolve()
    manifest = dio.read_manifest(folder)
    if manifest.get("dataset") != DATASET:
        raise ValueError(f"{folder} holds a {manifest.get('dataset')!r} dataset, not {DATASET!r}")
    splits = [split] if split else list(manifest.get("splits") or SPLITS)
    tables = [dio.read_parts(folder / "pairs" / s, S.MUSEART_PAIR_ROWS) for s in splits]
    table = dio.concat(tables, S.MUSEART_PAIR_ROWS)
    if split and table.num_rows == 0 and not (folder / "pairs" / split).is_dir():
        raise ValueError(f"{folder}: no split {split!r} (has {sorted(p.name for p in (folder / 'pairs').iterdir())})")
    images_root = Path(manifest["media_roots"]["images"])
    index = {c: i for i, c in enumerate(manifest["categories"])}
    table = table.set_column(table.schema.get_field_index("audio_path"), "audio_path",
                             pa.array([str(folder / p) for p in table.column("audio_path").to_pylist()], pa.string()))
    table = table.set_column(table.schema.get_field_index("image_path"), "image_path",
                             pa.array([str(images_root / p) for p in table.column("image_path").to_pylist()], pa.string()))
    return table.append_column("category_index", pa.array([index[c] for c in table.column("category").to_pylist()], pa.int32()))


def alpha_background(folder: str | Path) -> str:
    """The colour the build composited transparent pixels onto (``--alpha-background``)."""
    return (dio.read_manifest(folder).get("config") or {}).get("alpha_background") or DEFAULT_ALPHA_BACKGROUND


class MuseartPairs:
    """Map-style dataset over one split of a built folder (works as a
    ``torch.utils.data.Dataset``; no torch needed here).

    ``item = pairs[i]``: ``audio`` (float32, 480,000 samples at 16 kHz, mono),
    ``sample_rate``, ``image`` (PIL image in RGB, transparent pixels
    composited onto the build's alpha background), ``category``,
    ``category_index``, ``audio_id``, ``image_id``."""

    def __init__(self, folder: str | Path, split: str = "train"):
        table = read_pairs(folder, split)
        self.folder = Path(folder)
        self.split = split
        self.rows = table.to_pylist()
        self.categories: list[str] = dio.read_manifest(folder)["categories"]
        self.sample_rate = int(dio.read_manifest(folder)["config"].get("sample_rate", 16_000))
        self.alpha_background = alpha_background(folder)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        from synesthesia.datasets.media import load_clip, open_rgb

        row = self.rows[index]
        image = open_rgb(row["image_path"], background=self.alpha_background)
        return {
            "audio": load_clip(row["audio_path"], self.sample_rate),
            "sample_rate": self.sample_rate,
            "image": image,
            "category": row["category"],
            "category_index": row["category_index"],
            "audio_id": row["audio_id"],
            "image_id": row["image_id"],
        }
