"""The real `build_mpd` Prefect flow on the tiny corpus: local runner, Dask
runner, re-run safety, and a SIGKILLed CLI run that resumes."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes.mpd import MPDConfig
from synesthesia.flows.runner import RunnerConfig
from synesthesia.flows.mpd import build_mpd
from synesthesia.stages.audio import read_mels

from support.crash import sigkill_when  # noqa: E402

TABLES = ["paintings", "tracks", "clips", "pairs", "quarantine"]
CONFIG = MPDConfig(n_pairs=300, seed=3)


def _snapshot(out: Path) -> dict:
    snap = {name: pq.read_table(out / f"{name}.parquet") for name in TABLES}
    ids, mels = read_mels(out / "mels")
    snap["mel_ids"] = ids
    snap["mels"] = mels
    return snap


def _assert_same(a: dict, b: dict):
    for name in TABLES:
        assert a[name].equals(b[name]), name
    assert a["mel_ids"] == b["mel_ids"]
    assert (a["mels"] == b["mels"]).all()


@pytest.fixture(scope="module")
def local_build(prefect_api, tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("mpd-local")
    summary = build_mpd(tiny_corpus["paintings"], tiny_corpus["music"], out, CONFIG, shard_size=5, runner=RunnerConfig("local", 2))
    return out, summary


def test_flow_outputs(local_build, tiny_corpus):
    out, summary = local_build
    for name in TABLES + ["report", "dataset"]:
        assert any(out.glob(f"{name}.*")), name
    paintings = dio.read_table(out / "paintings.parquet")
    tracks = dio.read_table(out / "tracks.parquet")
    clips = dio.read_table(out / "clips.parquet")
    pairs = dio.read_table(out / "pairs.parquet")
    quarantine = dio.read_table(out / "quarantine.parquet")
    assert paintings.schema.names == S.MPD_PAINTINGS.names
    assert paintings.num_rows == tiny_corpus["n_paintings"]
    assert tracks.num_rows == tiny_corpus["n_tracks"]
    assert quarantine.num_rows == len(tiny_corpus["broken"])
    # clips: floor(duration / 15) per track, split inherited from the track
    expected = sum(int(d * 16_000) // 240_000 for d in tracks["duration_s"].to_pylist())
    assert clips.num_rows == expected == summary["mels"]
    t_split = dict(zip(tracks["track_id"].to_pylist(), tracks["split"].to_pylist()))
    assert all(t_split[t] == s for t, s in zip(clips["track_id"].to_pylist(), clips["split"].to_pylist()))
    ids, mels = read_mels(out / "mels")
    assert sorted(ids) == sorted(clips["clip_id"].to_pylist()) and mels.shape[1:] == (128, 469)
    # pairs: unique, leak-free, balanced within each split
    assert len(set(pairs["pair_id"].to_pylist())) == pairs.num_rows > 0
    p_split = dict(zip(paintings["painting_id"].to_pylist(), paintings["split"].to_pylist()))
    c_split = dict(zip(clips["clip_id"].to_pylist(), clips["split"].to_pylist()))
    for row in pairs.to_pylist():
        assert p_split[row["painting_id"]] == c_split[row["clip_id"]] == row["split"]
    # the audio pass: few tracks still spread over both processes of the local runner
    assert summary["audio_pass"]["shards"] >= 2 and summary["audio_pass"]["workers"] == 2
    copies = dio.read_table(out / "clip_files.parquet")
    assert sorted(copies["clip_id"].to_pylist()) == sorted(set(pairs["clip_id"].to_pylist()))
    # raters see a painting with transparency as the model does: its composite, served from the folder
    import json

    from PIL import Image

    from synesthesia.datasets.media import open_rgb
    from synesthesia.recipes.mpd import SERVED_MEDIA, media_files, storage_folders

    alpha = paintings.filter(paintings["has_alpha"])
    assert alpha.num_rows == 3  # the generated corpus's two RGBA cut-outs and one palette PNG with a transparent colour
    served, _ = media_files(out)
    tasks = json.loads((out / "labelstudio" / "ratings.tasks.json").read_text())
    links = {t["data"]["painting_id"]: t["data"]["image"] for t in tasks}
    for pid, path in zip(alpha["painting_id"].to_pylist(), alpha["path"].to_pylist()):
        copy = served[pid]
        assert copy.is_relative_to(storage_folders(out)[0]) and copy.parent == (out / SERVED_MEDIA / "paintings" / path).parent and copy.suffix == ".png"
        assert np.array_equal(np.asarray(Image.open(copy)), np.asarray(open_rgb(Path(tiny_corpus["paintings"]) / path)))
        assert pid not in links or links[pid].endswith(f"{copy.parent.name}/{copy.name}")
    assert any(pid in links for pid in alpha["painting_id"].to_pylist())
    report = (out / "report.md").read_text()
    assert "| valid paintings (after dedup) |" in report and "| paintings with transparent pixels (composited onto white) | 3 |" in report
    assert "## Media" in report and "decodes each track once" in report
    assert "## Quarantine" in report and "truncated WAV" in report and "## Random pairs" in report
    assert dio.read_manifest(out)["media_roots"]["music"] == str(Path(tiny_corpus["music"]).resolve())


def test_rerun_into_the_same_folder_reuses_shards_and_changes_nothing(local_build, tiny_corpus):
    out, _ = local_build
    before = _snapshot(out)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "mels").glob("part-*.parquet")}
    build_mpd(tiny_corpus["paintings"], tiny_corpus["music"], out, CONFIG, shard_size=5, runner=RunnerConfig("threads", 2))
    _assert_same(before, _snapshot(out))
    assert {p: p.stat().st_mtime_ns for p in (out / "mels").glob("part-*.parquet")} == mtimes


def test_dask_runner_gives_the_same_output(local_build, tiny_corpus, tmp_path):
    out, _ = local_build
    build_mpd(tiny_corpus["paintings"], tiny_corpus["music"], tmp_path, CONFIG, shard_size=5, runner=RunnerConfig("dask", 2))
    _assert_same(_snapshot(out), _snapshot(tmp_path))


def test_changed_config_replaces_stale_shards(local_build, tiny_corpus, tmp_path):
    out, _ = local_build
    build_mpd(tiny_corpus["paintings"], tiny_corpus["music"], tmp_path, CONFIG, shard_size=1, runner=RunnerConfig("threads", 2))
    n_parts = len(list((tmp_path / "mels").glob("part-*")))
    build_mpd(tiny_corpus["paintings"], tiny_corpus["music"], tmp_path, CONFIG, shard_size=5, runner=RunnerConfig("threads", 2))
    assert len(list((tmp_path / "mels").glob("part-*"))) != n_parts
    _assert_same(_snapshot(out), _snapshot(tmp_path))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "synesthesia", *args]


@pytest.mark.faults
def test_sigkill_mid_run_then_resume_equals_a_clean_run(local_build, tiny_corpus, tmp_path):
    clean, _ = local_build
    out = tmp_path / "killed"
    args = _cli(
        "build", "mpd", "--paintings", str(tiny_corpus["paintings"]), "--music", str(tiny_corpus["music"]),
        "--out", str(out), "--pairs", str(CONFIG.n_pairs), "--seed", str(CONFIG.seed),
        "--shard-size", "1", "--workers", "1", "--runner", "threads",
    )
    sigkill_when(args, lambda: len(list((out / "mels").glob("part-*.parquet"))) >= 2)
    n_tracks = pq.read_metadata(clean / "tracks.parquet").num_rows
    done = len(list((out / "mels").glob("part-*.parquet")))
    assert 2 <= done < n_tracks, "the kill must land mid-way through the mel stage"
    assert not (out / "dataset.json").exists()
    result = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "reused from an earlier run" in result.stderr + result.stdout  # finished shards were reused
    _assert_same(_snapshot(clean), _snapshot(out))
    assert not list(out.rglob("*.tmp"))


def test_cli_help_explains_every_command():
    out = subprocess.run(_cli("--help"), capture_output=True, text=True, check=True).stdout
    assert "build" in out and "demo" in out
    out = subprocess.run(_cli("build", "mpd", "--help"), capture_output=True, text=True, check=True).stdout
    for option in ["--paintings", "--music", "--out", "--pairs", "--seed", "--shard-size", "--workers", "--runner", "--dask-address", "--split-mode"]:
        assert option in out
