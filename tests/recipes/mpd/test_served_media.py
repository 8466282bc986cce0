"""What Label Studio may serve: exactly the dataset's media folders (the
served paintings and the clips' listening copies), with the dataset folder
as document root; never `/` or the input tree, symlinked corpora included."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from synesthesia.datasets import io as dio
from synesthesia.flows.mpd import build_mpd
from synesthesia.flows.runner import RunnerConfig
from synesthesia.recipes import mpd
from support.mpd_phases import CONFIG

LOCAL = "/data/local-files/?d="


def _task_paths(folder: Path) -> list[str]:
    tasks = json.loads((folder / mpd.LABELSTUDIO / "ratings.tasks.json").read_text())
    return [t["data"][k][len(LOCAL):] for t in tasks for k in ("image", "audio")]


def test_every_link_points_into_the_dataset_media_folders(mpd_annotation_phases, tmp_path):
    out = Path(shutil.copytree(mpd_annotation_phases["phase1"], tmp_path / "mpd"))
    mpd.write_labelstudio_files(out, "ratings")
    assert mpd.default_links(out).document_root == out.resolve()
    assert mpd.media_folders(out) == [out.resolve() / mpd.SERVED_PAINTINGS, out.resolve() / mpd.CLIP_MEDIA_DIR]
    paths = _task_paths(out)
    assert paths and all(p.startswith((mpd.SERVED_PAINTINGS + "/", mpd.CLIP_MEDIA_DIR + "/")) for p in paths)
    assert all((out / p).is_file() for p in paths)
    # every paired painting is served, with the bytes of the ingested file
    root = Path(dio.read_manifest(out)["media_roots"]["paintings"])
    paintings = {r["painting_id"]: r for r in dio.read_table(out / "paintings.parquet").to_pylist()}
    served = mpd.serve_paintings(out)
    paired = set(dio.read_table(out / "pairs.parquet").column("painting_id").to_pylist())
    assert set(served) == paired
    for pid, file in served.items():
        assert file.read_bytes() == (root / paintings[pid]["path"]).read_bytes()


def test_served_files_are_hard_links_kept_up_to_date_and_pruned(mpd_annotation_phases, tmp_path):
    out = Path(shutil.copytree(mpd_annotation_phases["phase1"], tmp_path / "mpd"))
    served = mpd.serve_paintings(out)
    pid, file = sorted(served.items())[0]
    root = Path(dio.read_manifest(out)["media_roots"]["paintings"]).resolve()
    source = root / next(r["path"] for r in dio.read_table(out / "paintings.parquet").to_pylist() if r["painting_id"] == pid)
    file.unlink()
    stray = out / mpd.SERVED_PAINTINGS / "zz" / "img-gone.png"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"x")
    again = mpd.serve_paintings(out)
    assert os.path.samefile(again[pid], source)  # a hard link: no copy on the same file system
    assert not stray.exists()


@pytest.mark.slow
def test_a_symlinked_corpus_is_served_from_inside_the_dataset(prefect_api, tiny_corpus, tmp_path):
    """The paintings folder is a symlink: links still point into the dataset
    folder, and the served files are the real files' content."""
    linked = tmp_path / "paintings-link"
    linked.symlink_to(Path(tiny_corpus["paintings"]).resolve(), target_is_directory=True)
    out = tmp_path / "mpd"
    build_mpd(linked, tiny_corpus["music"], out, CONFIG, shard_size=50, runner=RunnerConfig("threads", 1))
    paths = _task_paths(out)
    assert paths and all(not p.startswith("..") and (out / p).is_file() for p in paths)
    assert all(p.startswith((mpd.SERVED_PAINTINGS + "/", mpd.CLIP_MEDIA_DIR + "/")) for p in paths)
