"""Label Studio task JSON: one task per pair (ratings) or per preference task.

Task ``data`` carries our ids (``pair_id``; ``task_id`` + ``kind`` for
preferences), so importing an export never depends on Label Studio's task
ids, plus the planned raters (``raters``, for filtering in the Data Manager).

Media are referenced in one of two ways (:class:`MediaLinks`), both relative
to one declared folder, the *document root* (for an MPD folder, the folder of
links to its media that ``recipes.mpd.labelstudio.served_media`` keeps):

* Label Studio local files (default): ``/data/local-files/?d=<path relative
  to the root>``. Start Label Studio with ``LOCAL_FILES_SERVING_ENABLED=true``
  and ``LOCAL_FILES_DOCUMENT_ROOT=<root>``; the project needs a Local Files
  storage on each media folder (``synesthesia annotate push`` adds them).
* URLs under a prefix: ``<prefix>/<path relative to the root>``, for media
  served by any web server (which must send ``Access-Control-Allow-Origin``:
  the labeling page fetches audio with XHR).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import quote

import pyarrow as pa

from synesthesia.annotation.labelstudio.configs import RATINGS
from synesthesia.datasets.schema import PREFERENCE_KINDS

LOCAL_FILES_PATH = "/data/local-files/?d="


@dataclass(frozen=True)
class MediaLinks:
    document_root: Path
    url_prefix: str | None = None

    def relative(self, path: str | os.PathLike) -> str:
        # abspath, not resolve: the served folder holds links, and Label Studio
        # checks its document root and storages lexically, without following them
        root = Path(os.path.abspath(self.document_root))
        full = Path(os.path.abspath(path))
        try:
            return full.relative_to(root).as_posix()
        except ValueError:
            raise ValueError(
                f"{full} is not under the media document root {root}; choose a --document-root that contains every media folder"
            ) from None

    def url(self, path: str | os.PathLike) -> str:
        rel = quote(self.relative(path), safe="/")
        if self.url_prefix:
            return self.url_prefix.rstrip("/") + "/" + rel
        return LOCAL_FILES_PATH + rel

    @property
    def local_files(self) -> bool:
        return not self.url_prefix


def _raters(raters: Mapping[str, Sequence[str]] | None, key: str) -> str:
    return ",".join(raters.get(key, ())) if raters else ""


def rating_tasks(
    pairs: pa.Table,
    painting_files: Mapping[str, Path],
    clip_files: Mapping[str, Path],
    links: MediaLinks,
    raters: Mapping[str, Sequence[str]] | None = None,
) -> list[dict]:
    """One Label Studio task per pair (``ratings`` config)."""
    tasks = []
    for row in pairs.select(["pair_id", "painting_id", "clip_id", "split"]).to_pylist():
        data = dict(row)
        data["image"] = links.url(painting_files[row["painting_id"]])
        data["audio"] = links.url(clip_files[row["clip_id"]])
        data["raters"] = _raters(raters, row["pair_id"])
        tasks.append({"data": data})
    return tasks


def preference_tasks(
    kind: str,
    tasks_table: pa.Table,
    painting_files: Mapping[str, Path],
    clip_files: Mapping[str, Path],
    links: MediaLinks,
    raters: Mapping[str, Sequence[str]] | None = None,
) -> list[dict]:
    """One Label Studio task per preference task of ``kind``."""
    if kind not in PREFERENCE_KINDS:
        raise ValueError(f"unknown preference kind {kind!r}")
    out = []
    cols = ["task_id", "kind", "query_id", "candidate_a", "candidate_b", "split"]
    for row in tasks_table.select(cols).to_pylist():
        if row["kind"] != kind:
            continue
        data = dict(row)
        if kind == PREFERENCE_KINDS[0]:  # clips given a painting
            data["image"] = links.url(painting_files[row["query_id"]])
            data["audio_a"] = links.url(clip_files[row["candidate_a"]])
            data["audio_b"] = links.url(clip_files[row["candidate_b"]])
        else:
            data["audio"] = links.url(clip_files[row["query_id"]])
            data["image_a"] = links.url(painting_files[row["candidate_a"]])
            data["image_b"] = links.url(painting_files[row["candidate_b"]])
        data["raters"] = _raters(raters, row["task_id"])
        out.append({"data": data})
    return out


def task_key(kind: str) -> str:
    """The task-data field that holds our id for a project kind."""
    return "pair_id" if kind == RATINGS else "task_id"
