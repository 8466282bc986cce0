"""Publishing a built folder: pick the recipe from ``dataset.json``, hand its
:class:`Publication` or :class:`Gallery` to the generic writers.

No Prefect here: an export or a site is one sequential pass over a
folder's tables and media (media files are read by a thread pool), with
nothing to shard or resume.

    export_hf(DIR, OUT)            # Hugging Face layout + card; push(OUT, repo)
    export_webdataset(DIR, OUT)    # tar shards + index.json
    build_site([DIR], SITE)        # the static browser
"""

from __future__ import annotations

from pathlib import Path

from synesthesia.datasets import io as dio
from synesthesia.recipes.artsound import publish as artsound
from synesthesia.recipes.mpd import publish as mpd
from synesthesia.recipes.museart import publish as museart
from synesthesia.stages.publish import hf, hub, site, webdataset
from synesthesia.stages.publish.spec import Gallery, Publication

RECIPES = {"mpd": mpd, "artsound": artsound, "museart": museart}


def recipe(folder: str | Path):
    name = dio.read_manifest(folder).get("dataset")
    if name not in RECIPES:
        raise ValueError(f"{folder}: dataset {name!r} has no publishing recipe (known: {', '.join(RECIPES)})")
    return RECIPES[name]


def publication(folder: str | Path) -> Publication:
    return recipe(folder).publication(Path(folder))


def gallery(folder: str | Path) -> Gallery:
    return recipe(folder).gallery(Path(folder))


def dataset_folders(folder: str | Path) -> list[Path]:
    """``folder`` when it is a dataset folder, else its sub-folders that are (e.g. a demo's OUT)."""
    folder = Path(folder)
    if (folder / dio.MANIFEST).is_file():
        return [folder]
    found = sorted(p for p in folder.iterdir() if (p / dio.MANIFEST).is_file()) if folder.is_dir() else []
    if not found:
        raise FileNotFoundError(f"{folder}: no dataset.json here or in its sub-folders; is this a folder built by synesthesia?")
    return found


def export_hf(folder, out, embed_media: bool = True, shard_mb: float = hf.DEFAULT_SHARD_MB, license: str | None = None, log=print,
              repo_id: str | None = None) -> dict:
    return hf.export_hf(publication(folder), out, embed_media, shard_mb, license, log, repo_id)


def export_webdataset(folder, out, shard_mb: float = webdataset.DEFAULT_SHARD_MB, max_samples: int | None = None, log=print) -> dict:
    return webdataset.export_webdataset(publication(folder), out, shard_mb, max_samples, log)


def push(out, repo_id: str, private: bool = False) -> str:
    return hub.push(out, repo_id, private)


def check(out) -> dict:
    return hub.check(out)


def build_site(folder, out, log=print) -> Path:
    """The browser for ``folder`` (one dataset, or every dataset below it) in ``out``; returns the page to open."""
    return site.build_site([gallery(f) for f in dataset_folders(folder)], out, log=log)
