"""The real `build_museart` Prefect flow on tiny generated Museart corpora
(published layout with broken files and index problems; plain category
folders through the CLI): outputs, quarantine, pairing guarantees, re-runs
and switching split modes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from synesthesia.datasets import io as dio
from synesthesia.datasets.readers import museart as MR
from synesthesia.recipes import museart as M
from synesthesia.datasets import schema as S
from synesthesia.datasets.card import read_card_configs
from synesthesia.datasets.synthetic_museart import MuseartCorpusSpec, make_museart_corpus
from synesthesia.flows.runner import RunnerConfig
from synesthesia.flows.museart import build_museart
from synesthesia.datasets.keys import SPLITS
from synesthesia.stages.splits import allocate

from support.crash import sigkill_when  # noqa: E402

TABLES = ["images", "audio", "pairs", "quarantine"]
PUBLISHED = MuseartCorpusSpec(categories=3, tracks_per_category=5, min_segments=1, max_segments=2, image_size=64, seed=5)
FOLDERS = MuseartCorpusSpec(categories=2, tracks_per_category=4, min_segments=1, max_segments=2, image_size=64, layout="folders", seed=6)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    return make_museart_corpus(tmp_path_factory.mktemp("museart-corpus"), PUBLISHED)


@pytest.fixture(scope="module")
def built(prefect_api, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("museart-local")
    summary = build_museart(corpus["images"], corpus["audio"], out, M.MuseartConfig(seed=2), corpus["csv_dir"], shard_size=4, runner=RunnerConfig("local", 2))
    return out, summary


def _tables(out: Path) -> dict:
    return {name: pq.read_table(out / f"{name}.parquet") for name in TABLES}


def _clip_mtimes(out: Path) -> dict:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in (out / "clips").glob("*/*")}


def test_flow_outputs_on_the_published_layout(built, corpus):
    out, summary = built
    for name in ["images.parquet", "audio.parquet", "pairs.parquet", "quarantine.parquet", "report.md", "README.md", "dataset.json"]:
        assert (out / name).is_file(), name
    t = _tables(out)
    images, audio, pairs, quarantine = (dio.read_table(out / f"{n}.parquet") for n in TABLES)
    assert images.schema.names == S.MUSEART_IMAGES.names and audio.schema.names == S.MUSEART_AUDIO.names
    # files matched to the published index carry Museart's provenance: its id, no licence (the index gives none)
    assert set(images.column("source").to_pylist()) == set(audio.column("source").to_pylist()) == {"museart"}
    assert images.column("source_id").to_pylist() == images.column("name").to_pylist()
    assert "## Licences" in (out / "README.md").read_text() and "| images | museart | (not given) |" in (out / "README.md").read_text()
    assert t["pairs"].schema.names == ["audio_id", "image_id", "category", "split"]

    # every broken file / index problem is in the quarantine with its reason, nothing else is
    reasons = dict(zip(quarantine.column("path").to_pylist(), quarantine.column("reason").to_pylist()))
    assert quarantine.num_rows == len(corpus["broken"])
    broken_files = {p: what for p, what in corpus["broken"].items() if ".csv:" not in p}
    assert set(broken_files) <= set(reasons)
    by_what = {what: reasons[p] for p, what in broken_files.items()}
    assert "truncated WAV" in by_what["truncated"]
    assert "too short: 5.00 s" in by_what["too short"]
    assert "empty file" in by_what["zero bytes"] and "not a readable image" in by_what["not an image"]
    assert by_what["not listed"] == "not listed in audio.csv"
    missing = [r for p, r in reasons.items() if p.startswith(("audio.csv:", "images.csv:"))]
    assert sorted("missing_track" in r or "missing_painting" in r for r in missing) == [True, True]

    # items: every good image, one 30 s item per good audio file (all are <= 60 s)
    assert images.num_rows == corpus["n_images"] and audio.num_rows == corpus["n_audio"]
    twice = images.filter(pc.equal(images["name"], "twice_listed1"))
    assert twice.num_rows == 2 and len(set(twice.column("category").to_pylist())) == 2
    for row in audio.to_pylist():
        info = sf.info(out / row["clip_path"])
        assert (info.samplerate, info.channels, info.frames) == (16_000, 1, 480_000)
        assert row["end_s"] - row["start_s"] == 30.0
    padded = [s for s in audio.column("signal_s").to_pylist() if s < 30.0]
    assert padded and all(abs(s - 20.0) < 0.01 for s in padded)  # the 20 s last segments, zero-padded

    # splits: grouped, no source track in two splits; published split kept for reference
    assert M.leakage(audio) == {"groups": summary["leakage"]["grouped"]["groups"], "leaked": 0}
    published = {r["id"]: M.published_split(r["set"]) for r in M.read_index(corpus["csv_dir"] / "audio.csv", "audio")[0]}
    assert all(published[n] == s for n, s in zip(audio.column("name").to_pylist(), audio.column("published_split").to_pylist()))
    assert summary["leakage"]["from-csv"]["leaked"] > 0

    # pairs: one per audio item, same category and split, image use balanced per cell
    assert sorted(pairs.column("audio_id").to_pylist()) == sorted(audio.column("audio_id").to_pylist())
    a_cell = {r["audio_id"]: (r["category"], r["split"]) for r in audio.to_pylist()}
    i_cell = {r["image_id"]: (r["category"], r["split"]) for r in images.to_pylist()}
    for row in pairs.to_pylist():
        assert a_cell[row["audio_id"]] == i_cell[row["image_id"]] == (row["category"], row["split"])
    use = Counter(pairs.column("image_id").to_pylist())
    for cell in set(i_cell.values()):
        counts = [use.get(i, 0) for i, c in i_cell.items() if c == cell]
        assert max(counts) - min(counts) <= 1

    # per-split shards, dataset card, report
    shard_rows = sum(pq.read_metadata(p).num_rows for p in (out / "pairs").glob("*/part-*.parquet"))
    assert shard_rows == pairs.num_rows
    configs = read_card_configs(out)
    assert configs[0]["data_files"] == [{"split": s, "path": f"pairs/{s}/*.parquet"} for s in SPLITS]
    report = (out / "report.md").read_text()
    for needle in ["## Splits", "## Source-track leakage", "grouped (this build)", "from-csv", "## Pairing", "truncated WAV"]:
        assert needle in report, needle
    # the card says how many items are zero-padded (not "each 30 s audio item")
    card = (out / "README.md").read_text()
    assert f"{len(padded)} of {audio.num_rows} audio items hold less than 30 s of signal and are zero-padded" in card
    for peak, gain in zip(audio.column("source_peak").to_pylist(), audio.column("gain").to_pylist()):
        assert gain <= 1.0 and (peak <= 1.0 or gain * peak <= 1.0 + 1e-6)  # never written above full scale
    assert dio.read_manifest(out)["media_roots"]["images"] == str(Path(corpus["images"]).resolve())


def test_reader_gives_audio_image_and_category(built):
    out, _ = built
    table = MR.read_pairs(out, "val")
    assert table.num_rows > 0 and set(table.column("split").to_pylist()) == {"val"}
    assert all(Path(p).is_file() for p in table.column("audio_path").to_pylist() + table.column("image_path").to_pylist())
    dataset = MR.MuseartPairs(out, "train")
    assert len(dataset) == Counter(dio.read_table(out / "pairs.parquet").column("split").to_pylist())["train"]
    item = dataset[0]
    assert item["audio"].dtype == np.float32 and item["audio"].shape == (480_000,) and item["sample_rate"] == 16_000
    assert item["image"].mode == "RGB" and item["image"].size == (64, 64)
    assert dataset.categories[item["category_index"]] == item["category"]
    with pytest.raises(ValueError, match="no split"):
        MR.read_pairs(out, "holdout")


def test_rerun_reuses_everything_and_changes_nothing(built, corpus):
    out, _ = built
    before, clips = _tables(out), _clip_mtimes(out)
    build_museart(corpus["images"], corpus["audio"], out, M.MuseartConfig(seed=2), corpus["csv_dir"], shard_size=4, runner=RunnerConfig("threads", 2))
    after = _tables(out)
    assert all(before[n].equals(after[n]) for n in TABLES)
    assert _clip_mtimes(out) == clips


def test_switching_split_mode_reuses_clips_and_switching_back_restores(built, corpus, tmp_path):
    clean, _ = built
    out = tmp_path / "copy"
    shutil.copytree(clean, out)
    original, clips = _tables(out), _clip_mtimes(out)
    lost = sorted(clips)[0]
    lost_bytes = (out / lost).read_bytes()
    (out / lost).unlink()  # a deleted clip file is rebuilt (its shard is redone), not silently missing
    run = lambda split: build_museart(  # noqa: E731
        corpus["images"], corpus["audio"], out, M.MuseartConfig(split=split, seed=2), corpus["csv_dir"], shard_size=4, runner=RunnerConfig("threads", 2)
    )
    summary = run("from-csv")
    audio = dio.read_table(out / "audio.parquet")
    assert audio.column("split").to_pylist() == audio.column("published_split").to_pylist()
    assert M.leakage(audio)["leaked"] == summary["leakage"]["from-csv"]["leaked"] > 0
    assert (out / lost).read_bytes() == lost_bytes
    now = _clip_mtimes(out)
    assert set(now) == set(clips)
    rewritten = {k for k in clips if now[k] != clips[k]}
    assert lost in rewritten and len(rewritten) <= 4  # only the lost file's shard (shard_size=4)
    run("grouped")
    after = _tables(out)
    assert all(original[n].equals(after[n]) for n in TABLES)


def test_from_csv_without_an_index_is_a_clear_error(prefect_api, tmp_path):
    with pytest.raises(ValueError, match="--csv-dir"):
        build_museart(tmp_path, tmp_path, tmp_path / "out", M.MuseartConfig(split="from-csv"), None, runner=RunnerConfig("threads", 1))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "synesthesia", *args]


def test_cli_builds_the_plain_category_folder_layout(prefect_api, tmp_path_factory):
    corpus = make_museart_corpus(tmp_path_factory.mktemp("museart-folders"), FOLDERS)
    out = tmp_path_factory.mktemp("museart-cli")
    args = _cli(
        "build", "museart", "--paintings", str(corpus["images"]), "--music", str(corpus["audio"]), "--out", str(out),
        "--split-mode", "paper", "--seed", "1", "--shard-size", "4", "--workers", "1", "--runner", "threads",
    )
    result = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Museart built in" in result.stdout and "source tracks in more than one split" in result.stdout
    audio, images, pairs = (dio.read_table(out / f"{n}.parquet") for n in ("audio", "images", "pairs"))
    categories = sorted(set(audio.column("category").to_pylist()))
    assert categories == sorted(p.name for p in Path(corpus["audio"]).iterdir() if p.is_dir())
    assert dio.read_manifest(out)["categories"] == categories
    assert audio.num_rows == corpus["n_audio"] and images.num_rows == corpus["n_images"]
    reasons = dict(zip(*(dio.read_table(out / "quarantine.parquet").column(c).to_pylist() for c in ("path", "reason"))))
    assert reasons["no_category.wav"] == "not inside a category folder"
    assert len(reasons) == len(corpus["broken"])
    # paper mode: every category split by largest remainder, exactly
    for category in categories:
        splits = [s for c, s in zip(audio.column("category").to_pylist(), audio.column("split").to_pylist()) if c == category]
        assert Counter(splits) == {k: v for k, v in allocate(len(splits), dict(M.MuseartConfig().fractions)).items() if v}
    assert pairs.num_rows == audio.num_rows


@pytest.mark.faults
def test_sigkill_mid_clip_stage_then_resume_equals_a_clean_run(built, corpus, tmp_path):
    """A run killed while it writes clip files resumes: finished shards are
    reused, the half-written one is redone, and the result equals a clean
    build (same tables, same clip bytes, no stray temporary files)."""
    clean, _ = built
    out = tmp_path / "killed"
    args = _cli(
        "build", "museart", "--paintings", str(corpus["images"]), "--music", str(corpus["audio"]), "--out", str(out),
        "--csv-dir", str(corpus["csv_dir"]), "--seed", "2", "--shard-size", "1", "--workers", "1", "--runner", "threads",
    )
    parts = lambda: list((out / "_work" / "clip-files").glob("part-*.parquet"))  # noqa: E731
    sigkill_when(args, lambda: len(parts()) >= 2)
    done = len(parts())
    assert 2 <= done < corpus["n_audio"], "the kill must land mid-way through the clip stage"
    assert not (out / "pairs.parquet").exists()
    result = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "reused from an earlier run" in result.stderr + result.stdout  # finished shards were reused
    before, after = _tables(clean), _tables(out)
    assert all(before[n].equals(after[n]) for n in TABLES)
    clips = sorted(p.relative_to(clean).as_posix() for p in (clean / "clips").glob("*/*"))
    assert clips == sorted(p.relative_to(out).as_posix() for p in (out / "clips").glob("*/*"))
    assert all((clean / c).read_bytes() == (out / c).read_bytes() for c in clips)
    assert not list(out.rglob("*.tmp"))


def test_cli_help_lists_the_museart_options():
    env = {**os.environ, "COLUMNS": "250"}  # one line per option, so defaults are not wrapped
    text = subprocess.run(_cli("build", "museart", "--help"), capture_output=True, text=True, check=True, env=env).stdout
    for option in ["--paintings", "--music", "--csv-dir", "--out", "--split-mode", "--seed", "--group-pattern", "--short-audio", "--runner"]:
        assert option in text
    for mode in M.SPLIT_MODES:
        assert mode in text
    # the CLI's defaults are the library's named defaults
    assert M.DEFAULT_GROUP_PATTERN in text and f"default: {M.DEFAULT_MIN_AUDIO_SECONDS}" in text
