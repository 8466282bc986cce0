"""What Label Studio may serve: exactly the dataset's served media folder
(`DIR/labelstudio/media`: the paintings as real files inside the dataset and
a link to the clips' listening copies); never `/` or the input tree,
symlinked corpora included."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synesthesia.datasets import io as dio
from synesthesia.datasets.media import open_rgb
from synesthesia.flows.mpd import build_mpd
from synesthesia.flows.runner import RunnerConfig
from synesthesia.recipes import mpd
from support.mpd_phases import CONFIG

LOCAL = "/data/local-files/?d="


def _task_paths(folder: Path) -> list[str]:
    tasks = json.loads((folder / mpd.LABELSTUDIO / "ratings.tasks.json").read_text())
    return [t["data"][k][len(LOCAL):] for t in tasks for k in ("image", "audio")]


def test_every_link_points_into_the_served_media_folder(mpd_annotation_phases, tmp_path):
    out = Path(shutil.copytree(mpd_annotation_phases["phase1"], tmp_path / "mpd"))
    mpd.write_labelstudio_files(out, "ratings")
    root = mpd.served_media(out)
    assert mpd.default_links(out).document_root == Path(os.path.abspath(root))
    assert mpd.storage_folders(out) == [out / mpd.SERVED_MEDIA / "paintings", out / mpd.SERVED_MEDIA / "clips"]
    paths = _task_paths(out)
    assert paths and all(p.startswith(("paintings/", "clips/")) for p in paths)
    assert all((root / p).is_file() for p in paths)
    # every painting is served as a real file inside the dataset, with the ingested file's bytes;
    # one with transparent pixels as its composite, the picture the model's reader gives
    source_root = Path(dio.read_manifest(out)["media_roots"]["paintings"])
    paintings = dio.read_table(out / "paintings.parquet")
    served_files, _ = mpd.media_files(out)
    assert sum(paintings.column("has_alpha").to_pylist()) >= 1
    for pid, rel, alpha in zip(*(paintings.column(c).to_pylist() for c in ("painting_id", "path", "has_alpha"))):
        served = served_files[pid]
        assert not served.is_symlink() and served.is_relative_to(root / "paintings")
        if alpha:
            assert served.suffix == ".png" and served != root / "paintings" / rel
            assert np.array_equal(np.asarray(Image.open(served)), np.asarray(open_rgb(source_root / rel)))
        else:
            assert served == root / "paintings" / rel and served.read_bytes() == (source_root / rel).read_bytes()


def test_served_paintings_are_hard_links_kept_up_to_date_and_pruned(mpd_annotation_phases, tmp_path):
    out = Path(shutil.copytree(mpd_annotation_phases["phase1"], tmp_path / "mpd"))
    root = mpd.served_media(out)
    source_root = Path(dio.read_manifest(out)["media_roots"]["paintings"]).resolve()
    paintings = dio.read_table(out / "paintings.parquet")
    rel = sorted(p for p, alpha in zip(paintings.column("path").to_pylist(), paintings.column("has_alpha").to_pylist()) if not alpha)[0]
    (root / "paintings" / rel).unlink()
    stray = root / "paintings" / "gone" / "img.png"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"x")
    mpd.served_media(out)
    assert os.path.samefile(root / "paintings" / rel, source_root / rel)  # a hard link: no copy on one file system
    assert not stray.exists()


@pytest.mark.slow
def test_a_symlinked_corpus_is_served_from_inside_the_dataset(prefect_api, tiny_corpus, tmp_path):
    """The paintings folder is a symlink: links still point into the served
    media folder, whose paintings are the real files' content."""
    linked = tmp_path / "paintings-link"
    linked.symlink_to(Path(tiny_corpus["paintings"]).resolve(), target_is_directory=True)
    out = tmp_path / "mpd"
    build_mpd(linked, tiny_corpus["music"], out, CONFIG, shard_size=50, runner=RunnerConfig("threads", 1))
    root = out / mpd.SERVED_MEDIA
    paths = _task_paths(out)
    assert paths and all(not p.startswith("..") and (root / p).is_file() for p in paths)
    assert all(not (root / p).is_symlink() for p in paths if p.startswith("paintings/"))
