"""Reading a built ArtSound folder: pairs, media, embeddings.

What is read (the ArtSound build writes it):

* ``dataset.json`` — ``media_roots``: ``{"artworks": ROOT, "music": ROOT}``
  (relative roots are relative to the folder);
* ``artworks.parquet`` (``image_id, path, style, …``), ``tracks.parquet``
  (``audio_id, path, duration_s, …``);
* ``pairs.parquet`` (``audio_id, image_id, similarity, approach, split``);
* ``embeddings/<name>/part-*.parquet`` (``id, vector, model, dim``,
  L2-normalised) — only these four columns are relied on.

Splits: ``train`` and ``test`` as written. The validation artworks are the
pairs whose split is ``val``/``validation`` when the build marked them;
otherwise ``n_val`` artworks are drawn from the test pairs with a seeded RNG
(the paper samples its 100 validation artworks from the test split).

Embeddings: an image embedding is read from the store when a folder there
holds the encoder's vectors (``--image-embeddings`` names one explicitly;
otherwise ``embeddings/image-<encoder>/`` or any ``embeddings/image*/``
folder whose ``model`` column names the encoder and whose ``dim`` matches),
and computed with the named embedder otherwise; computed vectors are cached
in the run folder in the same layout, so a re-run computes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, open_rgb

VAL_SPLITS = ("val", "validation")


@dataclass
class ArtSoundPairs:
    """One row per (track, artwork) pair with absolute media paths."""

    root: Path
    audio_id: list[str]
    image_id: list[str]
    split: list[str]
    audio_path: list[Path]
    image_path: list[Path]
    similarity: list[float | None]
    #: the build's ``--alpha-background`` (dataset.json): what :func:`load_images` composites transparency onto
    alpha_background: str = DEFAULT_ALPHA_BACKGROUND

    def __len__(self) -> int:
        return len(self.audio_id)

    def select(self, indices: Sequence[int]) -> "ArtSoundPairs":
        pick = lambda xs: [xs[i] for i in indices]  # noqa: E731
        return ArtSoundPairs(self.root, pick(self.audio_id), pick(self.image_id), pick(self.split), pick(self.audio_path),
                             pick(self.image_path), pick(self.similarity), self.alpha_background)

    def where_split(self, *splits: str) -> "ArtSoundPairs":
        return self.select([i for i, s in enumerate(self.split) if s in splits])


def _media_root(folder: Path, roots: dict, key: str) -> Path:
    if key not in roots:
        raise KeyError(f"{folder}/dataset.json: media_roots has no {key!r} entry (found {sorted(roots)})")
    root = Path(roots[key])
    return root if root.is_absolute() else folder / root


def read_pairs(folder: str | Path) -> ArtSoundPairs:
    """All pairs of an ArtSound folder, joined with their media paths."""
    folder = Path(folder)
    manifest = dio.read_manifest(folder)
    roots = manifest.get("media_roots", {})
    art_root, music_root = _media_root(folder, roots, "artworks"), _media_root(folder, roots, "music")
    for name in ("pairs.parquet", "artworks.parquet", "tracks.parquet"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder}: no {name}; build the ArtSound dataset first (synesthesia build artsound)")
    pairs = pq.read_table(folder / "pairs.parquet")
    art = pq.read_table(folder / "artworks.parquet", columns=["image_id", "path"])
    tracks = pq.read_table(folder / "tracks.parquet", columns=["audio_id", "path"])
    art_path = dict(zip(art.column("image_id").to_pylist(), art.column("path").to_pylist()))
    track_path = dict(zip(tracks.column("audio_id").to_pylist(), tracks.column("path").to_pylist()))
    audio_ids = pairs.column("audio_id").to_pylist()
    image_ids = pairs.column("image_id").to_pylist()
    missing = [a for a in audio_ids if a not in track_path] + [i for i in image_ids if i not in art_path]
    if missing:
        raise KeyError(f"{folder}: {len(missing)} pair ids have no row in tracks/artworks.parquet, e.g. {missing[:3]}")
    sims = pairs.column("similarity").to_pylist() if "similarity" in pairs.column_names else [None] * len(audio_ids)
    return ArtSoundPairs(
        root=folder,
        audio_id=audio_ids,
        image_id=image_ids,
        split=[str(s) if s is not None else "" for s in pairs.column("split").to_pylist()],
        audio_path=[music_root / track_path[a] for a in audio_ids],
        image_path=[art_root / art_path[i] for i in image_ids],
        similarity=sims,
        alpha_background=(manifest.get("config") or {}).get("alpha_background") or DEFAULT_ALPHA_BACKGROUND,
    )


def validation_pairs(pairs: ArtSoundPairs, n_val: int, seed: int = 0) -> ArtSoundPairs:
    """The validation set: the build's ``val`` pairs, else ``n_val`` test artworks
    (one pair each, sorted by image id, drawn with a seeded RNG)."""
    marked = pairs.where_split(*VAL_SPLITS)
    if len(marked):
        return marked
    test = pairs.where_split("test")
    first: dict[str, int] = {}
    for i, image_id in enumerate(test.image_id):
        first.setdefault(image_id, i)
    images = sorted(first)
    rng = np.random.default_rng([seed, 9])
    chosen = sorted(rng.choice(len(images), size=min(n_val, len(images)), replace=False).tolist()) if images else []
    return test.select([first[images[k]] for k in chosen])


# --- the embeddings store --------------------------------------------------------------

@dataclass
class EmbeddingSet:
    ids: list[str]
    vectors: np.ndarray  # [n, dim] float32
    model: str
    dim: int

    def lookup(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.ids)}


def read_embedding_folder(folder: str | Path) -> EmbeddingSet:
    """``folder/part-*.parquet`` → ids, ``[n, dim]`` float32 vectors, model, dim."""
    files = dio.part_files(folder)
    if not files:
        raise FileNotFoundError(f"{folder}: no part-*.parquet embedding files")
    ids: list[str] = []
    arrays, models, dims = [], set(), set()
    for f in files:
        t = pq.read_table(f, columns=["id", "vector", "model", "dim"])
        if not t.num_rows:
            continue
        dim = int(t.column("dim")[0].as_py())
        ids.extend(t.column("id").to_pylist())
        arrays.append(dio.fixed_list_to_numpy(t.column("vector"), (dim,)).astype(np.float32))
        models.update(t.column("model").to_pylist())
        dims.add(dim)
    if len(dims) > 1 or len(models) > 1:
        raise ValueError(f"{folder}: mixed models {sorted(models)} / dims {sorted(dims)} in one embeddings folder")
    if not arrays:
        raise ValueError(f"{folder}: embedding files hold no rows")
    return EmbeddingSet(ids, np.concatenate(arrays), models.pop(), dims.pop())


def find_embedding_folder(data_dir: str | Path, modality: str, embedder: str, dim: int | None = None) -> Path | None:
    """The store folder holding ``modality`` vectors of ``embedder`` (see the module docstring), or None."""
    store = Path(data_dir) / "embeddings"
    if not store.is_dir():
        return None
    exact = store / f"{modality}-{embedder}"
    candidates = ([exact] if exact.is_dir() else []) + sorted(p for p in store.glob(f"{modality}*") if p.is_dir() and p != exact)
    for folder in candidates:
        files = dio.part_files(folder)
        if not files:
            continue
        head = pq.read_table(files[0], columns=["model", "dim"]).slice(0, 1).to_pylist()
        if not head:
            continue
        model, folder_dim = str(head[0]["model"]), int(head[0]["dim"])
        named = folder == exact or embedder.lower() in model.lower()
        caption_view = "caption" in folder.name.lower()  # captions are text, not the raw modality
        if named and not caption_view and (dim is None or folder_dim == dim):
            return folder
    return None


def write_embedding_part(folder: str | Path, ids: Sequence[str], vectors: np.ndarray, model: str, name: str = "part-00000.parquet") -> Path:
    """Write vectors in the store's layout (atomic)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    table = pa.Table.from_arrays(
        [pa.array(list(ids), pa.string()), dio.numpy_to_fixed_list(vectors, pa.float32()),
         pa.array([model] * len(ids), pa.string()), pa.array([dim] * len(ids), pa.int32())],
        schema=S.art2mus_embeddings_schema(dim),
    )
    return dio.write_table(table, Path(folder) / name)


def resolve_embeddings(
    ids: Sequence[str],
    compute: Callable[[list[str]], np.ndarray],
    *,
    model: str,
    stores: Sequence[Path | None] = (),
    cache: Path | None = None,
    dim: int | None = None,
) -> np.ndarray:
    """Vectors for ``ids`` (``[n, dim]``, rows in order): from the first store
    folder that has each id, then from ``cache``; the rest from ``compute``
    (which is only called when something is missing), appended to ``cache``."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, np.ndarray] = {}
    folders = [s for s in stores if s is not None] + ([cache] if cache is not None and dio.part_files(cache) else [])
    for folder in folders:
        es = read_embedding_folder(folder)
        if dim is not None and es.dim != dim:
            raise ValueError(f"{folder}: embeddings have dim {es.dim}, the model expects {dim}")
        index = es.lookup()
        for k in wanted:
            if k not in found and k in index:
                found[k] = es.vectors[index[k]]
    missing = [k for k in wanted if k not in found]
    if missing:
        vectors = np.asarray(compute(missing), dtype=np.float32)
        if vectors.shape[0] != len(missing):
            raise ValueError(f"embedder returned {vectors.shape[0]} vectors for {len(missing)} items")
        if dim is not None and vectors.shape[1] != dim:
            raise ValueError(f"embedder returned dim {vectors.shape[1]}, the model expects {dim}")
        found.update(zip(missing, vectors))
        if cache is not None:
            n = len(dio.part_files(cache))
            write_embedding_part(cache, missing, vectors, model, name=f"part-{n:05d}.parquet")
    return np.stack([found[k] for k in ids]).astype(np.float32) if len(ids) else np.zeros((0, dim or 0), np.float32)


def load_images(paths: Sequence[Path], background: str = DEFAULT_ALPHA_BACKGROUND):
    """RGB PIL images (what the embedders' ``embed_images`` take), transparent
    pixels composited onto ``background`` (``ArtSoundPairs.alpha_background``)."""
    return [open_rgb(p, background=background) for p in paths]
