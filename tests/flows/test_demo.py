"""`synesthesia demo` end to end on a small corpus: every dataset is built,
MPD goes through all three annotation phases with simulated raters, and a
second run reuses what the first wrote (no duplicate rows)."""

from __future__ import annotations

import pyarrow.parquet as pq

from synesthesia.datasets.synthetic import CorpusSpec
from synesthesia.datasets.synthetic_museart import MuseartCorpusSpec
from synesthesia.flows.runner import RunnerConfig
from synesthesia.flows.demo import DEMO_ARTSOUND_PAIRING, run_demo

SMALL = CorpusSpec(paintings_per_style=3, tracks_per_genre=3, min_seconds=30.0, max_seconds=40.0, image_size=96, seed=3)
SMALL_MUSEART = MuseartCorpusSpec(categories=3, tracks_per_category=4, min_segments=1, max_segments=2, image_size=48, seed=3)


def _rows(path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_demo_builds_every_dataset_and_a_rerun_reuses_it(prefect_api, tmp_path):
    out = tmp_path / "demo"
    runner = RunnerConfig("local", 2)
    results = run_demo(out, runner, SMALL, SMALL_MUSEART)
    assert set(results) == {"corpus", "mpd", "artsound", "museart"}

    # MPD: all three phases with simulated raters, and the report/card say so.
    mpd = out / "mpd"
    status = results["mpd"]["annotation"]["status"]
    assert status["phase"] == "complete", status
    ratings = _rows(mpd / "ratings.parquet")
    votes = _rows(mpd / "preference_votes.parquet")
    assert ratings and votes
    assert {r["source"] for r in ratings} == {"simulated"} == {v["source"] for v in votes}
    scored = {r["pair_id"] for r in _rows(mpd / "scores.parquet")}
    assert scored == {r["pair_id"] for r in ratings}
    assert len(_rows(mpd / "preference_pairs.parquet")) > 0
    assert "simulated" in (mpd / "report.md").read_text().lower()
    assert "simulated" in (mpd / "README.md").read_text().lower()

    # ArtSound: offline captions by the features backend, pairs from the demo's approach.
    artsound = _rows(out / "artsound" / "pairs.parquet")
    assert artsound
    assert {r["approach"] for r in artsound} == {DEMO_ARTSOUND_PAIRING.approach}
    assert {r["image_caption_backend"] for r in artsound} == {"features"}
    assert len({r["image_id"] for r in artsound}) == len(artsound) == len({r["audio_id"] for r in artsound})
    assert {r["split"] for r in artsound} <= {"train", "validation", "test"}
    assert (out / "artsound" / "report.md").exists()

    # Museart: every pair is within one category.
    museart = _rows(out / "museart" / "pairs.parquet")
    assert museart
    images = {r["image_id"]: r["category"] for r in _rows(out / "museart" / "images.parquet")}
    assert all(images[r["image_id"]] == r["category"] for r in museart)

    # A second run reuses everything: the same rows, none duplicated.
    tables = {
        "ratings": mpd / "ratings.parquet",
        "scores": mpd / "scores.parquet",
        "preference_pairs": mpd / "preference_pairs.parquet",
        "artsound": out / "artsound" / "pairs.parquet",
        "museart": out / "museart" / "pairs.parquet",
    }
    before = {name: sorted(map(repr, _rows(path))) for name, path in tables.items()}
    again = run_demo(out, runner, SMALL, SMALL_MUSEART)
    assert again["mpd"]["annotation"]["status"]["phase"] == "complete"
    for name, path in tables.items():
        assert sorted(map(repr, _rows(path))) == before[name], name
