"""The embeddings store: ``embeddings/{modality}-{view}/part-*.parquet``.

``modality`` is ``image`` or ``audio``; ``view`` is ``raw`` (the artwork
image / the music track) or ``caption`` (its kept caption, embedded as
text). One shard step embeds a shard of items with the chosen embedder and
writes one part (schema :func:`~synesthesia.datasets.schema.embeddings_schema`:
id, float32 vector, model, dim), L2-normalised. Items that cannot be
embedded (undecodable file, no kept caption, a non-finite or zero vector)
are written to a ``rejected-*.parquet`` part beside it (schema
``QUARANTINE``, stage ``embed``) before the part itself, whose existence
marks the shard done — so a crashed run resumes at the first unfinished
shard and a changed embedder/config/input gives new shard keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, open_rgb
from synesthesia.models.embedders import embedder_class, get_embedder
from synesthesia.stages.shards import Shard, ShardStore, plan_shards, write_once

#: modality -> the Embedder method family a raw item needs.
RAW_MODALITY = {"image": "image", "audio": "audio"}
STORE_PREFIXES = ("part", "rejected")


@dataclass(frozen=True)
class EmbedConfig:
    """Which embedder, with which options (hashable pairs), in what batches."""

    embedder: str
    options: tuple[tuple[str, Any], ...] = ()
    batch_size: int = 16
    #: transparent pixels of raw images are composited onto this colour (datasets.media.to_rgb)
    alpha_background: str = DEFAULT_ALPHA_BACKGROUND

    @property
    def option_dict(self) -> dict:
        return dict(self.options)


def needed_modality(modality: str, view: str) -> str:
    """The embedder modality (image/audio/text) a store needs."""
    if modality not in RAW_MODALITY:
        raise ValueError(f"unknown modality {modality!r} (image or audio)")
    if view not in S.EMBEDDING_VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {S.EMBEDDING_VIEWS}")
    return "text" if view == "caption" else RAW_MODALITY[modality]


def supports(embedder: str, modality: str, view: str) -> bool:
    return needed_modality(modality, view) in embedder_class(embedder).modalities


def store_dir(dataset_dir: str | os.PathLike, modality: str, view: str) -> Path:
    return Path(dataset_dir) / "embeddings" / f"{modality}-{view}"


def _text_fingerprint(text: str | None) -> str:
    return hashlib.sha1((text or "").encode("utf-8")).hexdigest()[:16]


def work_items(ids: list[str], paths: list[str | None] | None = None, fingerprints: list[Any] | None = None, texts: list[str | None] | None = None) -> tuple[list[dict], list]:
    """Shard items for a store (``id`` + ``path`` for raw media, ``id`` +
    ``text`` for captions, ``None`` text = no kept caption) and their
    fingerprints (file hash / caption hash) for the shard keys."""
    items, prints = [], []
    for k, item_id in enumerate(ids):
        if texts is not None:
            items.append({"id": item_id, "text": texts[k]})
            prints.append((item_id, _text_fingerprint(texts[k])))
        else:
            items.append({"id": item_id, "path": paths[k]})
            prints.append((item_id, None if fingerprints is None else fingerprints[k]))
    return items, prints


def plan_store(modality: str, view: str, items: list[dict], fingerprints: list, config: EmbedConfig, shard_size: int) -> list[Shard]:
    # The alpha background changes only what raw images look like.
    key = config if (modality, view) == ("image", "raw") else dataclasses.replace(config, alpha_background=DEFAULT_ALPHA_BACKGROUND)
    return plan_shards(f"embed-{modality}-{view}", items, shard_size, key, fingerprints)


def _cached_embedder(name: str, options: tuple):
    """One model load per worker process, reused by every shard it runs, and
    called by one shard at a time (the thread runner runs shards side by side
    in one process; tokenizers and models are not safe to call concurrently)."""
    from synesthesia.stages.captioning import process_cached

    return process_cached(("embedder", name, options), lambda: get_embedder(name, **dict(options)))


def _load_inputs(
    items: list[dict], modality: str, view: str, root: str | None, image_size: int | None = None, background: str = DEFAULT_ALPHA_BACKGROUND
) -> tuple[list[dict], list[Any], list[dict]]:
    """Decode a shard's inputs; returns (ok items, inputs, rejected rows).
    ``image_size``: the embedder's image input (a JPEG is decoded at reduced
    size, :func:`~synesthesia.datasets.media.open_rgb`); transparent pixels
    are composited onto ``background``."""
    ok, inputs, rejected = [], [], []
    kind = f"{modality}_caption" if view == "caption" else modality
    for item in items:
        if view == "caption":
            text = item.get("text")
            if text is None or not str(text).strip():
                rejected.append({"path": item["id"], "kind": kind, "stage": "embed", "reason": "no kept caption"})
                continue
            ok.append(item)
            inputs.append(str(text))
            continue
        path = Path(root or "") / (item.get("path") or "")
        try:
            if modality == "image":
                inputs.append(open_rgb(path, image_size, background=background))
            else:
                from synesthesia.datasets.media import load_audio

                inputs.append(load_audio(path))
            ok.append(item)
        except Exception as exc:  # any decode failure is the file's, recorded with its reason
            rejected.append({"path": item.get("path") or item["id"], "kind": kind, "stage": "embed", "reason": f"cannot decode: {type(exc).__name__}: {exc}"})
    return ok, inputs, rejected


def embed_items(items: list[dict], modality: str, view: str, config: EmbedConfig, root: str | None = None) -> tuple[pa.Table, pa.Table]:
    """Embed items (see :func:`work_items`): ``(embeddings table, rejected table)``."""
    from synesthesia.datasets.media import TARGET_SAMPLE_RATE

    embedder = _cached_embedder(config.embedder, config.options)
    needed = needed_modality(modality, view)
    if needed not in embedder.modalities:
        raise ValueError(f"embedder {config.embedder!r} cannot embed {needed} (it embeds {sorted(embedder.modalities)})")
    # Decode batch by batch: a shard of full-size artworks or tracks would not fit in memory at once.
    ok, vectors, rejected = [], [], []
    for s in range(0, len(items), config.batch_size):
        batch_ok, batch, bad = _load_inputs(items[s : s + config.batch_size], modality, view, root, embedder.image_size, config.alpha_background)
        rejected.extend(bad)
        if not batch:
            continue
        ok.extend(batch_ok)
        if needed == "text":
            vectors.append(embedder.embed_texts(batch))
        elif needed == "image":
            vectors.append(embedder.embed_images(batch))
        else:
            vectors.append(embedder.embed_audio(batch, TARGET_SAMPLE_RATE))
    dim = int(embedder.dim)
    V = np.concatenate(vectors).astype(np.float32) if vectors else np.zeros((0, dim), np.float32)
    if V.shape != (len(ok), dim):
        raise RuntimeError(f"embedder {config.embedder!r} returned shape {V.shape}, expected {(len(ok), dim)}")
    norms = np.linalg.norm(V, axis=1) if len(V) else np.zeros(0)
    good = np.isfinite(V).all(axis=1) & (norms > 1e-6)
    kind = f"{modality}_caption" if view == "caption" else modality
    for k in np.flatnonzero(~good):
        rejected.append({"path": ok[k].get("path") or ok[k]["id"], "kind": kind, "stage": "embed", "reason": "embedding is not finite or is all zeros"})
    V = V[good] / norms[good, None]
    ids = [ok[k]["id"] for k in np.flatnonzero(good)]
    schema = S.embeddings_schema(dim, {"embedder": config.embedder, "modality": modality, "view": view})
    table = pa.Table.from_arrays(
        [
            pa.array(ids, pa.string()),
            dio.numpy_to_fixed_list(V.astype(np.float32), pa.float32()),
            pa.array([embedder.model_id] * len(ids), pa.string()),
            pa.array([dim] * len(ids), pa.int32()),
        ],
        schema=schema,
    )
    return table, S.from_rows(rejected, S.QUARANTINE)


def embed_shard_step(shard: Shard, modality: str, view: str, config: EmbedConfig, root: str | None, folder: str) -> dict:
    """Embed one shard and write its parts (rejected first, then the part
    whose file marks the shard done)."""
    def produce():
        table, rejected = embed_items(list(shard.items), modality, view, config, root)
        counts = {"items": len(shard.items), "embedded": table.num_rows, "rejected": rejected.num_rows}
        return {"rejected": (rejected, S.QUARANTINE), "part": (table, None)}, counts

    return write_once(shard, folder, produce)


def embed_any_shard_step(shard: Shard, stores: dict, config: EmbedConfig) -> dict:
    """:func:`embed_shard_step` for shards of several stores run together
    (one task-runner map, so small stores run side by side): ``stores`` maps
    a shard's ``stage`` to its ``(modality, view, root, folder)``."""
    modality, view, root, folder = stores[shard.stage]
    return embed_shard_step(shard, modality, view, config, root, folder)


def collect_store(shards: list[Shard], folder: str | os.PathLike) -> pa.Table:
    """Finish a store (drop stale parts, check every shard is done) and
    return its rejected rows."""
    store = ShardStore(folder)
    store.finalize(shards, prefixes=list(STORE_PREFIXES))
    return dio.concat((dio.read_table(store.path(s, "rejected"), S.QUARANTINE) for s in shards), S.QUARANTINE)


def read_embeddings(folder: str | os.PathLike) -> tuple[list[str], np.ndarray, dict]:
    """A store as ``(ids, float32 matrix [n, dim], info)``, rows sorted by id;
    ``info`` has the model names and the schema metadata. Empty store:
    ``([], [0, 0], {})``."""
    import pyarrow.parquet as pq

    files = dio.part_files(folder, "part-")
    ids: list[str] = []
    arrays, models, meta = [], set(), {}
    for f in files:
        table = pq.read_table(f)
        meta = S.schema_meta(table.schema) or meta
        dim = int(meta.get("dim", table.schema.field("vector").type.list_size))
        ids.extend(table.column("id").to_pylist())
        arrays.append(dio.fixed_list_to_numpy(table.column("vector"), (dim,)).astype(np.float32, copy=False))
        models.update(table.column("model").to_pylist())
    if not arrays:
        return [], np.zeros((0, 0), np.float32), {}
    matrix = np.concatenate(arrays)
    del arrays
    # Sorted by id: what the pairing wants (ties are broken by id), so it needs no second copy.
    order = sorted(range(len(ids)), key=ids.__getitem__)
    if order != list(range(len(ids))):
        ids = [ids[k] for k in order]
        matrix = matrix[order]
    return ids, np.ascontiguousarray(matrix), {"models": sorted(models), **meta}
