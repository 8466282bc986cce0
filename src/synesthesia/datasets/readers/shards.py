"""WebDataset shards written by ``synesthesia export webdataset``: the format,
a streaming reader, and the unpacking that lets the trainers take shards.

Layout of an export folder ``OUT``::

    OUT/index.json                       what is where (below)
    OUT/<config>/<split>-000000.tar      tar shards, samples in key order
    OUT/README.md                        the dataset card (the Hugging Face export's text)

A sample is the tar members sharing a key (the config's id column, e.g.
``pair_id``; ids hold no dots): ``{key}.json`` (every non-media column of the
row, exactly the Hugging Face export's row), ``{key}.jpg|png|…`` (the image
file's bytes, unchanged), ``{key}.flac|wav|…`` (the audio file's bytes) and
``{key}.<array>.npy`` (a fixed-shape array such as MPD's mel). Split names
are the Hub's (``train``, ``validation``, ``test``).

``index.json``: ``{"format": "synesthesia-webdataset", "version": 1,
"dataset": …, "build": {dataset.json's config, categories…}, "configs":
{name: {"key", "media": {column: kind}, "arrays": {column: {shape, dtype}},
"features": the Hugging Face features, "splits": {split: {"samples",
"pattern", "shards": [{"path", "samples", "bytes", "sha256"}]}}}}}``.

The trainers read built folders; :func:`training_folder` turns a shard
export into one (media files and the tables each dataset's reader expects,
unpacked once into ``OUT/_unpacked/<hash>/``, atomically, so concurrent
ranks and re-runs share it). Streaming loaders can read the tars directly
(:func:`iter_samples`, or the ``webdataset`` library).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S

INDEX = "index.json"
FORMAT = "synesthesia-webdataset"
VERSION = 1
UNPACKED = "_unpacked"
IMAGE_EXTENSIONS = ("jpg", "png", "webp", "bmp", "tif", "gif")
AUDIO_EXTENSIONS = ("flac", "wav", "mp3", "ogg", "opus", "m4a", "aiff")
#: Our folder split names ↔ the Hub's.
HUB_SPLITS = {"val": "validation"}
FOLDER_SPLITS = {v: k for k, v in HUB_SPLITS.items()}

# --- the configs each dataset's export has (what the unpacking relies on) ---------------------
MPD_SCORES, MPD_PREFERENCES = "scores", "preferences"
ARTSOUND_PAIRS = MUSEART_PAIRS = "default"


def hub_split(split: str | None) -> str:
    """Our split name as the Hub spells it (``val`` → ``validation``; null → ``unsplit``)."""
    return HUB_SPLITS.get(split, split) if split else "unsplit"


def folder_split(split: str) -> str:
    return FOLDER_SPLITS.get(split, split)


def file_extension(name: str) -> str:
    """The lower-case extension a member gets for a media file (``.jpeg`` → ``jpg``)."""
    ext = Path(name).suffix.lower().lstrip(".")
    return {"jpeg": "jpg", "tiff": "tif", "aif": "aiff"}.get(ext, ext)


def member_kind(suffix: str) -> str:
    """``json``, ``image``, ``audio`` or ``array`` for a member's suffix (the part after the key's dot)."""
    if suffix == "json":
        return "json"
    if suffix.endswith(".npy"):
        return "array"
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    raise ValueError(f"unknown member suffix {suffix!r}")


def is_shard_export(path: str | os.PathLike) -> bool:
    index = Path(path) / INDEX
    if not index.is_file():
        return False
    try:
        return json.loads(index.read_text(encoding="utf-8")).get("format") == FORMAT
    except ValueError:
        return False


def read_index(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not is_shard_export(path):
        raise FileNotFoundError(f"{path}: no {INDEX} of a synesthesia WebDataset export (synesthesia export webdataset)")
    index = json.loads((path / INDEX).read_text(encoding="utf-8"))
    if index.get("version") != VERSION:
        raise ValueError(f"{path / INDEX}: version {index.get('version')}, this synesthesia reads version {VERSION}")
    return index


def iter_samples(path: str | os.PathLike, config: str, split: str | None = None) -> Iterator[tuple[str, str, dict]]:
    """``(split, key, sample)`` for every sample of ``config`` (one split or all, in
    index order), streaming the tars: ``sample`` maps a member's suffix
    (``json``, ``png``, ``mel.npy`` …) to its bytes."""
    path = Path(path)
    index = read_index(path)
    if config not in index["configs"]:
        raise KeyError(f"{path}: no config {config!r} (has {sorted(index['configs'])})")
    splits = index["configs"][config]["splits"]
    for name in [split] if split else list(splits):
        if name not in splits:
            raise KeyError(f"{path}: config {config!r} has no split {name!r} (has {sorted(splits)})")
        for shard in splits[name]["shards"]:
            yield from ((name, key, sample) for key, sample in iter_tar(path / shard["path"]))


def iter_tar(path: str | os.PathLike) -> Iterator[tuple[str, dict]]:
    """``(key, {suffix: bytes})`` per sample of one tar, members grouped by key
    in the order written (a key's members are consecutive)."""
    key, sample = None, {}
    with tarfile.open(path, "r:") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name.rsplit("/", 1)[-1]
            k, _, suffix = name.partition(".")
            if k != key:
                if key is not None:
                    yield key, sample
                key, sample = k, {}
            sample[suffix] = tar.extractfile(member).read()
    if key is not None:
        yield key, sample


def split_sample(sample: dict) -> tuple[dict, dict, dict]:
    """A sample's row (decoded JSON), media ``{kind: (suffix, bytes)}`` and arrays ``{name: ndarray}``."""
    row, media, arrays = None, {}, {}
    for suffix, data in sample.items():
        kind = member_kind(suffix)
        if kind == "json":
            row = json.loads(data)
        elif kind == "array":
            arrays[suffix[: -len(".npy")]] = np.load(io.BytesIO(data), allow_pickle=False)
        else:
            media[kind] = (suffix, data)
    if row is None:
        raise ValueError(f"sample without a .json member (members: {sorted(sample)})")
    return row, media, arrays


# --- unpacking for the trainers ------------------------------------------------------------------

def training_folder(path: str | os.PathLike, dataset: str) -> Path:
    """``path`` itself when it is a built folder; for a shard export of
    ``dataset``, the folder unpacked from it (made once, then reused)."""
    path = Path(path)
    if not is_shard_export(path):
        return path
    index = read_index(path)
    if index.get("dataset") != dataset:
        raise ValueError(f"{path}: shards of a {index.get('dataset')!r} dataset, not {dataset!r}")
    digest = hashlib.sha256(json.dumps(index, sort_keys=True).encode()).hexdigest()[:16]
    target = path / UNPACKED / digest
    if (target / dio.MANIFEST).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest}.", dir=target.parent))
    try:
        UNPACKERS[dataset](path, index, tmp, target)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first: use its copy
            if not (target / dio.MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for stale in target.parent.iterdir():  # unpacked from an earlier export into the same folder
        if stale.is_dir() and stale != target and not stale.name.startswith("."):
            shutil.rmtree(stale, ignore_errors=True)
    return target


# Each unpacker writes into ``out`` (a temp folder renamed to ``final`` when
# done); dataset.json's media roots name the final folders.

def _media_file(root: Path, folder: str, item_id: str, suffix: str, data: bytes, written: dict) -> str:
    """Write one media file once (ids repeat across samples); its path relative to ``root / folder``."""
    rel = f"{item_id}.{suffix}"
    if item_id not in written:
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / rel).write_bytes(data)
        written[item_id] = hashlib.sha256(data).hexdigest()
    return rel


def _unpack_mpd(path: Path, index: dict, out: Path, final: Path) -> None:
    pairs, scores, paintings, clips, mel_ids, mels, written = [], [], {}, {}, [], [], {}
    mel_shape = None
    for split, _key, sample in iter_samples(path, MPD_SCORES):
        row, media, arrays = split_sample(sample)
        split = folder_split(split)
        pairs.append({"pair_id": row["pair_id"], "painting_id": row["painting_id"], "clip_id": row["clip_id"], "split": split})
        scores.append({k: row[k] for k in ("pair_id", "score", "n_ratings", "sigma", "min", "max", "ambiguous")})
        if row["painting_id"] not in paintings:
            rel = _media_file(out, "paintings", row["painting_id"], media["image"][0], media["image"][1], written)
            paintings[row["painting_id"]] = {"painting_id": row["painting_id"], "path": rel, "sha256": written[row["painting_id"]],
                                             "style": row.get("style"), "split": split}
        if row["clip_id"] not in clips:
            clips[row["clip_id"]] = {"clip_id": row["clip_id"], "track_id": row.get("track_id"), "start_s": row.get("start_s"),
                                     "end_s": row.get("end_s"), "split": split}
            mel_ids.append(row["clip_id"])
            mels.append(arrays["mel"])
            mel_shape = arrays["mel"].shape
    dio.write_table(S.from_rows(pairs, S.MPD_PAIRS), out / "pairs.parquet")
    dio.write_table(S.from_rows(scores, S.MPD_SCORES), out / "scores.parquet")
    dio.write_table(S.from_rows(list(paintings.values()), S.MPD_PAINTINGS), out / "paintings.parquet")
    dio.write_table(S.from_rows(list(clips.values()), S.CLIPS), out / "clips.parquet")
    if mels:
        stacked = np.stack(mels).astype(np.float16)
        table = pa.Table.from_arrays([pa.array(mel_ids, pa.string()), dio.numpy_to_fixed_list(stacked, pa.float16())],
                                     schema=S.mels_schema(*mel_shape))
        dio.write_table(table, out / "mels" / "part-00000.parquet")
    if MPD_PREFERENCES in index["configs"]:
        prefs = [dict(split_sample(sample)[0], split=folder_split(split)) for split, _k, sample in iter_samples(path, MPD_PREFERENCES)]
        dio.write_table(S.from_rows(prefs, S.MPD_PREFERENCE_PAIRS), out / "preference_pairs.parquet")
    dio.write_manifest(out, {"dataset": "mpd", "media_roots": {"paintings": str(final / "paintings")}, "config": index.get("build", {}),
                             "unpacked_from": str(path)})


def _unpack_artsound(path: Path, index: dict, out: Path, final: Path) -> None:
    pairs, artworks, tracks, written = [], {}, {}, {}
    for split, _key, sample in iter_samples(path, ARTSOUND_PAIRS):
        row, media, _ = split_sample(sample)
        image_rel = _media_file(out, "artworks", row["image_id"], *media["image"], written)
        audio_rel = _media_file(out, "music", row["audio_id"], *media["audio"], written)
        artworks.setdefault(row["image_id"], {"image_id": row["image_id"], "path": image_rel, "sha256": written[row["image_id"]],
                                               "style": row.get("style")})
        tracks.setdefault(row["audio_id"], {"audio_id": row["audio_id"], "path": audio_rel, "sha256": written[row["audio_id"]],
                                             "genre": row.get("music_genre")})
        pairs.append({"audio_id": row["audio_id"], "image_id": row["image_id"], "similarity": row.get("similarity"),
                      "approach": row.get("approach"), "split": folder_split(split)})
    dio.write_table(S.from_rows(list(artworks.values()), S.IMAGES), out / "artworks.parquet")
    dio.write_table(S.from_rows(list(tracks.values()), S.AUDIO), out / "tracks.parquet")
    dio.write_table(pa.Table.from_pylist(pairs, schema=pa.schema([("audio_id", pa.string()), ("image_id", pa.string()), ("similarity", pa.float64()),
                                                                   ("approach", pa.string()), ("split", pa.string())])), out / "pairs.parquet")
    dio.write_manifest(out, {"dataset": "artsound", "media_roots": {"artworks": str(final / "artworks"), "music": str(final / "music")},
                             "config": index.get("build", {}), "unpacked_from": str(path)})


def _unpack_museart(path: Path, index: dict, out: Path, final: Path) -> None:
    config = index["configs"][MUSEART_PAIRS]
    categories = config["features"]["category"]["names"]
    rows_by_split: dict[str, list] = {}
    written: dict = {}
    for split, _key, sample in iter_samples(path, MUSEART_PAIRS):
        row, media, _ = split_sample(sample)
        split = folder_split(split)
        audio_rel = _media_file(out, "clips", row["audio_id"], *media["audio"], written)
        image_rel = _media_file(out, "images", row["image_id"], *media["image"], written)
        rows_by_split.setdefault(split, []).append({
            "audio_id": row["audio_id"], "image_id": row["image_id"], "category": categories[row["category"]], "split": split,
            "audio_name": row.get("audio_name"), "image_name": row.get("image_name"), "group": row.get("group"),
            "audio_path": f"clips/{audio_rel}", "image_path": image_rel,
        })
    for split, rows in rows_by_split.items():
        dio.write_table(S.from_rows(rows, S.MUSEART_PAIR_ROWS), out / "pairs" / split / "part-00000.parquet")
    dio.write_manifest(out, {"dataset": "museart", "media_roots": {"images": str(final / "images"), "clips": "clips"},
                             "categories": categories, "splits": list(rows_by_split), "config": index.get("build", {}),
                             "unpacked_from": str(path)})


UNPACKERS = {"mpd": _unpack_mpd, "artsound": _unpack_artsound, "museart": _unpack_museart}
