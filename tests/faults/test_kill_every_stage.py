"""Kill a build at every stage, then let it finish: the folder equals a
clean build's (every Parquet table and JSON file, by content), nothing is
duplicated and no temp file is left. One folder per dataset is killed once
per stage in turn (each re-run resumes from what the kills left), then
finished; the kill lands when the stage's first output file appears."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from support.crash import sigkill_when
from synesthesia.datasets.synthetic_museart import MuseartCorpusSpec, make_museart_corpus

pytestmark = [pytest.mark.faults, pytest.mark.exhaustive, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("compare_outputs", REPO / "scripts" / "compare_outputs.py")
compare_outputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare_outputs)

RUN = ["--shard-size", "2", "--workers", "1", "--runner", "threads"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "synesthesia", *args]


def _finish(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]


def _kill_at_every_stage(args_for, clean: Path, killed: Path, stages: list[str]) -> None:
    _finish(args_for(clean))
    args = args_for(killed)
    for pattern in stages:
        sigkill_when(args, lambda: any(killed.glob(pattern)), timeout_s=600)
        assert any(killed.glob(pattern)), pattern
    _finish(args)
    assert compare_outputs.compare(clean, killed) == []
    assert not [p for p in killed.rglob("*") if p.name.endswith(".tmp")]


def test_mpd(prefect_api, tiny_corpus, tmp_path):
    def args(out: Path) -> list[str]:
        return _cli("build", "mpd", "--paintings", str(tiny_corpus["paintings"]), "--music", str(tiny_corpus["music"]), "--out", str(out),
                    "--pairs", "60", "--seed", "1", *RUN)

    stages = ["_work/ingest-paintings/part-*", "_work/ingest-music/part-*", "mels/part-*", "pairs.parquet",
              "_work/clip-files/part-*", "labelstudio/ratings.tasks.json"]
    _kill_at_every_stage(args, tmp_path / "clean", tmp_path / "killed", stages)


def test_artsound(prefect_api, tiny_corpus, tmp_path):
    def args(out: Path) -> list[str]:
        return _cli("build", "artsound", "--paintings", str(tiny_corpus["paintings"]), "--music", str(tiny_corpus["music"]), "--out", str(out),
                    "--captioner", "features", "--skip-ics", "--bertscore-model", "minilm-packaged", "--embedder", "minilm-text",
                    "--approach", "caption-caption", *RUN)

    stages = ["_work/segment-captions/part-*", "_work/image-captions/part-*", "embeddings/*/part-*"]
    _kill_at_every_stage(args, tmp_path / "clean", tmp_path / "killed", stages)


def test_museart(prefect_api, tmp_path):
    corpus = make_museart_corpus(tmp_path / "corpus", MuseartCorpusSpec(categories=2, tracks_per_category=3, min_segments=1, max_segments=2, image_size=48, seed=3))

    def args(out: Path) -> list[str]:
        return _cli("build", "museart", "--paintings", str(corpus["images"]), "--music", str(corpus["audio"]), "--out", str(out),
                    "--csv-dir", str(corpus["csv_dir"]), *RUN)

    stages = ["_work/ingest-images/part-*", "_work/ingest-audio/part-*", "_work/clip-files/part-*", "pairs/*/part-*"]
    _kill_at_every_stage(args, tmp_path / "clean", tmp_path / "killed", stages)
