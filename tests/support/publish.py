"""Test support for publishing: the demo's three folders at test size, and
checks shared by the three recipes' export tests (an export must hold the
source rows, the source media bytes and decodable media)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import soundfile as sf

from synesthesia.datasets.synthetic import CorpusSpec
from synesthesia.datasets.synthetic_museart import MuseartCorpusSpec
from synesthesia.flows.demo import run_demo
from synesthesia.flows.runner import RunnerConfig

#: Small corpora: three splits for MPD, a few pairs for ArtSound and Museart (~90 s on 2 cores).
SPEC = CorpusSpec(paintings_per_style=3, tracks_per_genre=3, min_seconds=30.0, max_seconds=40.0, image_size=96, seed=3)
MUSEART_SPEC = MuseartCorpusSpec(categories=3, tracks_per_category=4, min_segments=1, max_segments=2, image_size=48, seed=3)


def build_demo_folders(root: Path) -> dict:
    run_demo(root, RunnerConfig("threads", 2), SPEC, MUSEART_SPEC)
    return {"root": root, "mpd": root / "mpd", "artsound": root / "artsound", "museart": root / "museart"}


def load_export(out: Path, config: str | None = None):
    """``datasets.load_dataset(out)`` with audio left undecoded (bytes + path:
    decoding needs torchcodec, which the tests do not install), cached beside
    ``out`` (the shared cache can hand back another run's folder of the same name)."""
    import datasets

    cache = str(out.parent / f".cache-{out.name}")
    ds = datasets.load_dataset(str(out), config, cache_dir=cache) if config else datasets.load_dataset(str(out), cache_dir=cache)
    for name, feature in next(iter(ds.values())).features.items():
        if isinstance(feature, datasets.Audio):
            ds = ds.cast_column(name, datasets.Audio(decode=False))
    return ds


def export_rows(out: Path, config: str, arrays: tuple[str, ...] = ()) -> dict:
    """Every row of an export's config by Hub split, read straight from its
    Parquet files (the ``arrays`` columns as float arrays)."""
    rows: dict = {}
    for f in sorted((out / config).glob("*.parquet")):
        table = pq.read_table(f)
        part = table.drop_columns(list(arrays)).to_pylist()
        for name in arrays:
            flat = table.column(name).combine_chunks().flatten().flatten().to_numpy(zero_copy_only=False)
            for row, value in zip(part, flat.reshape(table.num_rows, -1)):
                row[name] = value
        rows.setdefault(f.name.split("-")[0], []).extend(part)
    return rows


def decode(data: bytes) -> tuple[np.ndarray, int]:
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples, rate


def assert_webdataset_round_trip(shards: Path, hf_out: Path, config: str, key: str, arrays: tuple[str, ...] = ()) -> int:
    """Every key of the shards once, each sample equal to the Hugging Face
    export's row (JSON = the data columns, media bytes, arrays); returns the count."""
    from synesthesia.datasets.readers.shards import iter_samples, split_sample

    expected = {split: {r[key]: r for r in rows} for split, rows in export_rows(hf_out, config, arrays).items()}
    seen: dict = {}
    for split, k, sample in iter_samples(shards, config):
        assert k not in seen, f"key {k} twice"
        seen[k] = split
        row, media, values = split_sample(sample)
        want = expected[split][k]
        media_columns = {c: v for c, v in want.items() if isinstance(v, dict) and "bytes" in v}
        assert row == {c: v for c, v in want.items() if c not in media_columns and c not in arrays}
        assert sorted(m[1] for m in media.values()) == sorted(v["bytes"] for v in media_columns.values())
        for name in arrays:
            assert np.array_equal(values[name].reshape(-1), want[name].astype(values[name].dtype))
    assert seen == {k: s for s, rows in expected.items() for k in rows}
    return len(seen)


def export_hf(folder: Path, tmp_path_factory, **options) -> Path:
    """The Hugging Face export of ``folder`` into a new tmp folder (a module fixture's body)."""
    from synesthesia.flows import publish

    out = tmp_path_factory.mktemp(f"{folder.name}-export") / "hf"
    publish.export_hf(folder, out, log=lambda m: None, **options)
    return out
