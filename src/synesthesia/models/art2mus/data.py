"""Art2Mus's image embeddings: read from the ArtSound folder's store when it
has them (:mod:`synesthesia.datasets.readers.artsound`), computed with the
registered embedder otherwise, and cached in the run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND
from synesthesia.datasets.readers.artsound import ArtSoundPairs, find_embedding_folder, load_images, resolve_embeddings


def image_embedder_compute(
    embedder_name: str, path_of: dict[str, Path], batch_size: int = 64, background: str = DEFAULT_ALPHA_BACKGROUND
) -> Callable[[list[str]], np.ndarray]:
    """A ``compute`` for :func:`resolve_embeddings`: embed the images of the
    given ids with the registered embedder (loaded on first use only)."""
    state: dict = {}

    def compute(ids: list[str]) -> np.ndarray:
        from synesthesia.models.embedders import get_embedder

        if "embedder" not in state:
            state["embedder"] = get_embedder(embedder_name)
        out = [state["embedder"].embed_images(load_images([path_of[i] for i in ids[k : k + batch_size]], background))
               for k in range(0, len(ids), batch_size)]
        return np.concatenate(out)

    return compute


def image_embeddings(data_dir: Path, pairs: ArtSoundPairs, encoder: str, dim: int, cache: Path | None,
                     store_folder: Path | None = None) -> np.ndarray:
    """``[len(pairs), dim]`` image embeddings of the pairs' artworks for ``encoder``."""
    store = store_folder or find_embedding_folder(data_dir, "image", encoder, dim)
    path_of = dict(zip(pairs.image_id, pairs.image_path))
    return resolve_embeddings(pairs.image_id, image_embedder_compute(encoder, path_of, background=pairs.alpha_background), model=encoder,
                              stores=[store], cache=cache, dim=dim)
