"""Reading a built and annotated MPD folder for model training.

What a model reads (tables from ``datasets/schema.py``):

* ``pairs.parquet`` (MPD_PAIRS) joined on ``pair_id`` with ``scores.parquet``
  (MPD_SCORES): one scored (painting, clip, score) example per rated pair;
  pairs without a score (not rated yet, or too few ratings) are not examples.
* ``preference_pairs.parquet`` (MPD_PREFERENCE_PAIRS): consensus preferences
  ``(query, chosen, rejected)`` of both kinds in PREFERENCE_KINDS.
* the media: every painting resized to ``size × size`` RGB, and every clip's
  log-mel from ``mels/part-*.parquet``.

Media are served from **memory-mapped caches** built once per MPD folder
(``DIR/_work/mpjudge-cache/``, or a folder you choose): ``mels-<key>.npy``
(float16 ``[clips, n_mels, frames]``, streamed part by part and batch by
batch, so the 6,127 × 128 × 469 MPD mels never sit in memory at once) and
``paintings-<size>-<key>.npy`` (uint8 ``[paintings, size, size, 3]``, each
painting decoded and resized once). The key hashes the inputs (part files
and their sizes; painting ids, sha256 and size), so a rebuilt dataset gets a
new cache; a cache is written to a temp file and renamed, so a crash never
leaves a half cache. Readers open the caches lazily, so a ``MPDMedia`` can be
handed to DataLoader worker processes.

Images are resized with PIL (bicubic) to a square, ignoring the aspect ratio
(as the authors' ``Resize((256, 256))``); no crop, no augmentation.

Inconsistent tables stop with a message naming the file and the problem (a
score for an unknown pair, a duplicate, a score outside [0, 1], a preference
naming an unknown painting/clip or an unknown kind): nothing is dropped
silently.
"""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import stable_hash
from synesthesia.datasets.media import build_alpha_background, load_rgb

CACHE_DIRNAME = "_work/mpjudge-cache"


# --- tables -----------------------------------------------------------------------------

def _need(folder: Path, name: str, hint: str) -> Path:
    path = folder / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {hint}")
    return path


def _examples(ids: list, limit: int = 5) -> str:
    ids = sorted(map(str, ids))
    return ", ".join(ids[:limit]) + (f", … ({len(ids)} in all)" if len(ids) > limit else "")


def read_scored_pairs(folder: str | os.PathLike, split: str | None = None) -> pa.Table:
    """(pair_id, painting_id, clip_id, split, score) for every scored pair,
    sorted by pair_id; only ``split``'s rows when given."""
    folder = Path(folder)
    annotate = "run the MPD annotation phase (ratings → scores) first"
    pairs = dio.read_table(_need(folder, "pairs.parquet", "build the MPD folder with `synesthesia build mpd`"), S.MPD_PAIRS)
    scores = dio.read_table(_need(folder, "scores.parquet", annotate), S.MPD_SCORES)
    score_ids = scores.column("pair_id").to_pylist()
    if len(set(score_ids)) != len(score_ids):
        seen, dup = set(), set()
        for i in score_ids:
            (dup if i in seen else seen).add(i)
        raise ValueError(f"{folder / 'scores.parquet'}: duplicate pair_id rows: {_examples(dup)}")
    unknown = set(score_ids) - set(pairs.column("pair_id").to_pylist())
    if unknown:
        raise ValueError(f"{folder / 'scores.parquet'}: scores for pairs not in pairs.parquet: {_examples(unknown)}")
    values = scores.column("score").to_numpy(zero_copy_only=False)
    bad = [i for i, v in zip(score_ids, values) if v is None or not (0.0 <= float(v) <= 1.0)]
    if bad:
        raise ValueError(f"{folder / 'scores.parquet'}: missing or out-of-range [0, 1] scores for: {_examples(bad)}")
    table = pairs.join(scores.select(["pair_id", "score"]), "pair_id", join_type="inner")
    if split is not None:
        table = table.filter(pc.equal(table.column("split"), split))
    return table.select(["pair_id", "painting_id", "clip_id", "split", "score"]).sort_by("pair_id")


def read_preference_pairs(folder: str | os.PathLike, split: str | None = None) -> pa.Table:
    """The consensus preference pairs (MPD_PREFERENCE_PAIRS), validated against
    the paintings and clips of the folder; only ``split``'s when given. An MPD
    folder without ``preference_pairs.parquet`` has none (an empty table)."""
    folder = Path(folder)
    path = folder / "preference_pairs.parquet"
    if not path.exists():
        return S.empty(S.MPD_PREFERENCE_PAIRS)
    prefs = dio.read_table(path, S.MPD_PREFERENCE_PAIRS)
    kinds = set(prefs.column("kind").to_pylist()) - set(S.PREFERENCE_KINDS)
    if kinds:
        raise ValueError(f"{path}: unknown preference kinds {sorted(map(str, kinds))} (known: {S.PREFERENCE_KINDS})")
    paintings = set(dio.read_table(folder / "paintings.parquet", columns=["painting_id"]).column("painting_id").to_pylist())
    clips = set(dio.read_table(folder / "clips.parquet", columns=["clip_id"]).column("clip_id").to_pylist())
    unknown = []
    for row in prefs.select(["task_id", "kind", "query_id", "chosen_id", "rejected_id"]).to_pylist():
        query_set, candidate_set = (paintings, clips) if row["kind"] == "clips_given_painting" else (clips, paintings)
        if row["query_id"] not in query_set or row["chosen_id"] not in candidate_set or row["rejected_id"] not in candidate_set:
            unknown.append(row["task_id"])
        elif row["chosen_id"] == row["rejected_id"]:
            raise ValueError(f"{path}: task {row['task_id']} has the same chosen and rejected item")
    if unknown:
        raise ValueError(f"{path}: preference tasks naming paintings/clips not in this MPD folder: {_examples(unknown)}")
    if split is not None:
        prefs = prefs.filter(pc.equal(prefs.column("split"), split))
    return prefs.sort_by("task_id")


# --- memory-mapped media caches -------------------------------------------------------------

def _write_cache(path: Path, ids: list[str], shape: tuple[int, ...], dtype, fill) -> None:
    """Create ``path`` (an .npy of ``[len(ids), *shape]``) by calling
    ``fill(array)``, atomically, with its ids beside it in ``<path>.ids.json``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(len(ids), *shape))
        fill(array)
        array.flush()
        del array
        dio.write_text(json.dumps(ids), path.with_name(path.name + ".ids.json"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_ids(path: Path) -> list[str]:
    return json.loads(path.with_name(path.name + ".ids.json").read_text())


def cache_ids(path: str | os.PathLike) -> list[str]:
    """The ids of the rows of a cache made by :func:`mel_cache` or :func:`painting_cache`."""
    return _read_ids(Path(path))


def mel_cache(folder: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Build (once) and return the float16 memmap of every clip's mel."""
    folder = Path(folder)
    files = dio.part_files(folder / "mels")
    if not files:
        raise FileNotFoundError(f"{folder / 'mels'} has no part files: build the MPD folder first")
    key = stable_hash([(f.name, f.stat().st_size) for f in files])
    path = Path(cache_dir or folder / CACHE_DIRNAME) / f"mels-{key}.npy"
    if path.exists():
        return path
    ids: list[str] = []
    for f in files:
        ids.extend(pq.read_table(f, columns=["clip_id"]).column("clip_id").to_pylist())
    shape = tuple(S.schema_meta(pq.read_schema(f))["shape"])

    def fill(array):
        row = 0
        for f in files:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=64, columns=["mel"]):
                block = dio.fixed_list_to_numpy(batch.column(0), shape)
                array[row : row + len(block)] = block
                row += len(block)

    _write_cache(path, ids, shape, np.float16, fill)
    return path


def painting_cache(folder: str | os.PathLike, size: int, cache_dir: str | os.PathLike | None = None, workers: int = 4) -> Path:
    """Build (once) and return the uint8 memmap of every painting at ``size``
    (transparent pixels composited onto the build's alpha background)."""
    folder = Path(folder)
    paintings = dio.read_table(folder / "paintings.parquet", columns=["painting_id", "path", "sha256"])
    ids = paintings.column("painting_id").to_pylist()
    manifest = dio.read_manifest(folder)
    background = build_alpha_background(manifest)
    # the background in the key also retires caches made before transparency was composited
    key = stable_hash([size, ids, paintings.column("sha256").to_pylist(), background])
    path = Path(cache_dir or folder / CACHE_DIRNAME) / f"paintings-{size}-{key}.npy"
    if path.exists():
        return path
    root = Path(manifest["media_roots"]["paintings"])
    rel = paintings.column("path").to_pylist()

    def load(i):
        try:
            return load_rgb(root / rel[i], size, background)
        except Exception as exc:  # ingest validated it, so the file changed since
            raise RuntimeError(f"painting {ids[i]} ({root / rel[i]}) no longer decodes: {exc}") from exc

    def fill(array):
        with ThreadPoolExecutor(max(1, workers)) as pool:  # PIL releases the GIL while decoding
            for start in range(0, len(ids), 256):
                chunk = range(start, min(len(ids), start + 256))
                array[chunk.start : chunk.stop] = np.stack(list(pool.map(load, chunk)))

    _write_cache(path, ids, (size, size, 3), np.uint8, fill)
    return path


class MPDMedia:
    """Paintings and mels of an MPD folder by row index, from the memmap caches.

    Picklable before first use (the memmaps open lazily in each process)."""

    def __init__(self, mel_path: str | os.PathLike, painting_path: str | os.PathLike):
        self.mel_path, self.painting_path = Path(mel_path), Path(painting_path)
        self.clip_ids = _read_ids(self.mel_path)
        self.painting_ids = _read_ids(self.painting_path)
        self.clip_index = {c: i for i, c in enumerate(self.clip_ids)}
        self.painting_index = {p: i for i, p in enumerate(self.painting_ids)}
        self._mels = self._paintings = None

    @classmethod
    def build(cls, folder: str | os.PathLike, image_size: int, cache_dir: str | os.PathLike | None = None) -> "MPDMedia":
        return cls(mel_cache(folder, cache_dir), painting_cache(folder, image_size, cache_dir))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_mels"] = state["_paintings"] = None
        return state

    def mels(self, rows: np.ndarray) -> np.ndarray:
        """float16 ``[len(rows), n_mels, frames]`` (dB)."""
        if self._mels is None:
            self._mels = np.load(self.mel_path, mmap_mode="r")
        return _gather(self._mels, rows)

    def paintings(self, rows: np.ndarray) -> np.ndarray:
        """uint8 ``[len(rows), size, size, 3]``."""
        if self._paintings is None:
            self._paintings = np.load(self.painting_path, mmap_mode="r")
        return _gather(self._paintings, rows)

    def rows_of(self, painting_ids, clip_ids) -> tuple[np.ndarray, np.ndarray]:
        """Row indices of the given paintings and clips (a clear error for one without media)."""
        missing_p = [p for p in painting_ids if p not in self.painting_index]
        missing_c = [c for c in clip_ids if c not in self.clip_index]
        if missing_p or missing_c:
            raise ValueError(
                f"examples refer to media the MPD folder does not have: paintings {_examples(missing_p) or '-'}; "
                f"clips without a mel {_examples(missing_c) or '-'}"
            )
        return (
            np.array([self.painting_index[p] for p in painting_ids], dtype=np.int64),
            np.array([self.clip_index[c] for c in clip_ids], dtype=np.int64),
        )


def _gather(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``array[rows]`` read in ascending row order (sequential on disk), returned in ``rows``' order."""
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows),) + array.shape[1:], dtype=array.dtype)
    out[order] = array[rows[order]]
    return out
