"""The ArtSound pairing flow on a demo-sized folder (60 artworks, ~20
tracks): the demo's configuration (minilm-text, caption–caption), resume,
all four approaches with raw media, and the CLI."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from synesthesia.datasets import io as dio
from synesthesia.recipes.artsound import ArtSoundPairingConfig
from synesthesia.datasets.card import read_card_configs
from synesthesia.datasets.synthetic import CorpusSpec, make_corpus
from synesthesia.flows.artsound import pair_artsound
from synesthesia.flows.runner import RunnerConfig
from synesthesia.stages import embedding_store as ES
from synesthesia.models.embedders import EMBEDDERS

from support.artsound import make_artsound_folder  # noqa: E402

def md_table_after(text: str, heading: str) -> list[dict[str, str]]:
    """The first Markdown table after ``heading`` in ``text``, as dicts by header."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("| "))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    header, body = table[0], table[2:]
    return [dict(zip(header, row)) for row in body]


def check_report_against_stats(report: str, stats: list[dict], method: str, final: str) -> None:
    """report.md's Table 5 and Figure 2 rows equal pairing_stats.parquet's, value by value."""
    from synesthesia.recipes.artsound import APPROACHES

    main = [r for r in stats if r["method"] == method]
    rows = md_table_after(report, "### Table 5 on this data")
    assert len(rows) == len(main)
    for row, st in zip(rows, main):
        assert row["pairing approach"] == APPROACHES[st["approach"]].label + (" (final)" if st["approach"] == final else "")
        assert int(row["pairs"]) == st["pairs"]
        for col, key in (("min", "min"), ("max", "max"), ("avg", "mean"), ("std dev", "std")):
            assert float(row[col]) == pytest.approx(st[key], abs=5.1e-5), (st["approach"], key)
    compared = [r for r in stats if r["approach"] == final]
    if len(compared) > 1:  # --compare: both methods on the final approach, side by side
        side = md_table_after(report, "### Greedy vs optimal k-NN assignment (final approach)")
        assert [r["method"] for r in side] == [r["method"] for r in compared]
        for row, st in zip(side, compared):
            assert int(row["pairs"]) == st["pairs"]
            for col, key in (("mean", "mean"), ("p10", "p10"), ("bottom-decile mean", "bottom_decile_mean"), ("min", "min")):
                assert float(row[col]) == pytest.approx(st[key], abs=5.1e-5), (st["method"], key)
            assert float(row["total similarity"]) == pytest.approx(st["mean"] * st["pairs"], abs=5.1e-5)
    ranges = md_table_after(report, "### Figure 2: similarity ranges")
    assert [(r["pairing approach"], int(r["low"]), int(r["medium"]), int(r["high"])) for r in ranges] == [
        (APPROACHES[st["approach"]].label, st["low"], st["medium"], st["high"]) for st in main
    ]


def check_figures_against_tables(summary: dict, stats: list[dict], method: str, sbg: list[dict]) -> None:
    """What the figures drew equals the statistics and the style-by-genre table."""
    from synesthesia.recipes.artsound import APPROACHES

    violins = summary["figures"]["similarity_violins"]
    assert violins == {APPROACHES[r["approach"]].label: {k: r[k] for k in ("low", "medium", "high")} for r in stats if r["method"] == method}
    expected: dict = {}
    for r in sbg:
        expected.setdefault(r["music_genre"], {})[r["style"]] = r["pairs"]
    assert summary["figures"]["style_by_genre"] == expected  # every style drawn, none merged


DEMO_SPEC = CorpusSpec(paintings_per_style=10, tracks_per_genre=5, min_seconds=30.0, max_seconds=36.0, image_size=64, seed=11)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def artsound_template(tmp_path_factory):
    root = tmp_path_factory.mktemp("artsound")
    corpus = make_corpus(root / "corpus", DEMO_SPEC)
    return make_artsound_folder(root / "template", corpus)


@pytest.fixture()
def folder(artsound_template, tmp_path):
    return Path(shutil.copytree(artsound_template, tmp_path / "artsound"))


def test_demo_configuration_minilm_caption_caption(prefect_api, folder):
    config = ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption", shard_size=32)
    summary = pair_artsound(folder, config, RunnerConfig("local", 2))
    tracks = pq.read_table(folder / "tracks.parquet")
    pairs = pq.read_table(folder / "pairs.parquet")

    # every track paired once, every artwork at most once, with its caption similarity
    assert pairs.num_rows == tracks.num_rows == summary["pairs"]
    assert sorted(pairs.column("audio_id").to_pylist()) == sorted(tracks.column("audio_id").to_pylist())
    assert len(set(pairs.column("image_id").to_pylist())) == pairs.num_rows
    assert set(pairs.column("approach").to_pylist()) == {"caption-caption"}
    ids_i, Vi, info = ES.read_embeddings(folder / "embeddings" / "image-caption")
    ids_a, Va, _ = ES.read_embeddings(folder / "embeddings" / "audio-caption")
    assert info["dim"] == 384 and info["models"] == ["sentence-transformers/all-MiniLM-L6-v2"]
    cos = [Va[ids_a.index(a)] @ Vi[ids_i.index(i)] for a, i in zip(pairs.column("audio_id").to_pylist(), pairs.column("image_id").to_pylist())]
    np.testing.assert_allclose(pairs.column("similarity").to_numpy(), cos, atol=1e-5)
    # greedy on caption similarity does better than chance
    assert np.mean(cos) > (Va @ Vi.T).mean() + 0.05

    # captions and their scores joined from the kept rows
    row = pairs.slice(0, 1).to_pylist()[0]
    assert row["image_caption"].startswith("This artwork shows") and row["audio_caption"].startswith("This music piece")
    assert row["image_caption_attempt"] == 1 and row["image_caption_ics"] == pytest.approx(0.8)
    assert row["audio_caption_acs"] == pytest.approx(0.8) and row["style"] and row["music_genre"]

    # the artwork with no kept caption: rejected with its reason, never paired
    quarantine = pq.read_table(folder / "quarantine.parquet").to_pylist()
    no_caption = [q for q in quarantine if q["stage"] == "embed"]
    assert len(no_caption) == 1 and no_caption[0]["reason"] == "no kept caption"
    assert no_caption[0]["path"] not in pairs.column("image_id").to_pylist()

    # splits: 90/10 by style, val from test, one file per split for the card
    splits = pairs.column("split").to_pylist()
    n_test_val = round(0.1 * len(splits))
    assert splits.count("val") == n_test_val // 2 and splits.count("test") + splits.count("val") == n_test_val
    for split in ("train", "val", "test"):
        assert pq.read_table(folder / "data" / f"{split}.parquet").num_rows == splits.count(split)
    assert [d["split"] for d in read_card_configs(folder)[0]["data_files"]] == ["train", "val", "test"]
    import datasets

    loaded = datasets.load_dataset(str(folder))
    assert {k: v.num_rows for k, v in loaded.items()} == {s: splits.count(s) for s in ("train", "val", "test")}

    # Table 5 (only what minilm can do), both methods for the final approach, figures, report
    stats = pq.read_table(folder / "pairing_stats.parquet").to_pylist()
    assert [(r["approach"], r["method"]) for r in stats] == [("caption-caption", "greedy"), ("caption-caption", "optimal-knn")]
    assert stats[0]["pairs"] == stats[1]["pairs"] == pairs.num_rows
    for fig in ("similarity_violins.png", "style_by_genre.png"):
        assert (folder / "figures" / fig).read_bytes()[:8] == PNG
    report = (folder / "report.md").read_text()
    assert "### Table 5 on this data" in report and "Image Caption–Audio Caption (final)" in report
    check_report_against_stats(report, stats, "greedy", "caption-caption")
    sbg = pq.read_table(folder / "style_by_genre.parquet").to_pylist()
    check_figures_against_tables(summary, stats, "greedy", sbg)
    assert {s for g in summary["figures"]["style_by_genre"].values() for s in g} == set(pairs.column("style").to_pylist())
    assert {r["embedder"] for r in stats} == {"minilm-text"}  # one embedder per run, every approach and method
    assert "Not computed: Image–Audio (embedder 'minilm-text' does not embed image; embedder 'minilm-text' does not embed audio)" in report
    assert "figures/similarity_violins.png" in report and "Greedy vs optimal k-NN" in report
    manifest = dio.read_manifest(folder)
    assert manifest["pairing"]["config"]["embedder"] == "minilm-text" and "artworks" in manifest["media_roots"]

    # a re-run resumes: every embedding shard and each approach's pairs are reused (files untouched)
    pairings = {p: p.stat().st_mtime_ns for p in (folder / "pairings").rglob("*.parquet")}
    assert len(pairings) == 2
    again = pair_artsound(folder, config, RunnerConfig("threads", 2))
    assert all(v["skipped_shards"] == v["shards"] for v in again["embeddings"].values())
    assert {p: p.stat().st_mtime_ns for p in (folder / "pairings").rglob("*.parquet")} == pairings
    assert pq.read_table(folder / "pairs.parquet").equals(pairs)
    assert report.count("<!-- pairing:start -->") == 1 == (folder / "report.md").read_text().count("<!-- pairing:start -->")


def test_all_four_approaches_with_raw_media_and_a_broken_track(prefect_api, folder, monkeypatch):
    monkeypatch.setitem(EMBEDDERS, "features", "support.artsound:FeatureEmbedder")
    tracks = pq.read_table(folder / "tracks.parquet").to_pylist()
    root = Path(dio.read_manifest(folder)["media_roots"]["music"])
    # a track damaged after captioning: the embedding stage quarantines it
    broken = next(t for t in tracks if t["path"].endswith(".wav"))
    (root / broken["path"]).rename(root / (broken["path"] + ".moved"))
    try:
        summary = pair_artsound(folder, ArtSoundPairingConfig(embedder="features", shard_size=16), RunnerConfig("threads", 2))
    finally:
        (root / (broken["path"] + ".moved")).rename(root / broken["path"])
    assert summary["approaches"] == ["image-audio", "image-audiocaption", "imagecaption-audio", "caption-caption"]
    stats = {(r["approach"], r["method"]): r for r in pq.read_table(folder / "pairing_stats.parquet").to_pylist()}
    assert len(stats) == 5 and ("image-audio", "optimal-knn") in stats
    assert stats[("image-audio", "greedy")]["pairs"] == len(tracks) - 1  # the broken track has no raw embedding
    assert stats[("caption-caption", "greedy")]["pairs"] == len(tracks)
    reasons = {q["path"]: q["reason"] for q in pq.read_table(folder / "quarantine.parquet").to_pylist() if q["stage"] == "embed"}
    assert reasons[broken["path"]].startswith("cannot decode")
    pairs = pq.read_table(folder / "pairs.parquet")
    assert broken["audio_id"] not in pairs.column("audio_id").to_pylist()
    for (approach, method), r in stats.items():
        table = pq.read_table(folder / "pairings" / method / f"{approach}.parquet")
        assert table.num_rows == r["pairs"] and len(set(table.column("image_id").to_pylist())) == r["pairs"]
        assert r["min"] == pytest.approx(table.column("similarity").to_numpy().min())
    sbg = pq.read_table(folder / "style_by_genre.parquet")
    assert sum(sbg.column("pairs").to_pylist()) == pairs.num_rows
    stat_rows = pq.read_table(folder / "pairing_stats.parquet").to_pylist()
    check_report_against_stats((folder / "report.md").read_text(), stat_rows, "greedy", "image-audio")
    check_figures_against_tables(summary, stat_rows, "greedy", sbg.to_pylist())
    assert {r["embedder"] for r in stat_rows} == {"features"}

    # a run killed mid-stage (one shard's part missing) redoes only that shard
    lost = sorted((folder / "embeddings" / "image-raw").glob("part-*.parquet"))[1]
    lost.unlink()
    (root / broken["path"]).rename(root / (broken["path"] + ".moved"))
    try:
        again = pair_artsound(folder, ArtSoundPairingConfig(embedder="features", shard_size=16), RunnerConfig("threads", 2))
    finally:
        (root / (broken["path"] + ".moved")).rename(root / broken["path"])
    image_raw = again["embeddings"]["image-raw"]
    assert image_raw["shards"] - image_raw["skipped_shards"] == 1 and lost.exists()
    assert pq.read_table(folder / "pairs.parquet").equals(pairs)


def test_cli_builds_pairs(prefect_api, folder):
    from typer.testing import CliRunner

    from synesthesia.cli import app

    result = CliRunner().invoke(
        app,
        ["build", "artsound-pairs", "--out", str(folder), "--embedder", "minilm-text", "--approach", "caption-caption",
         "--pairing", "optimal-knn", "--no-compare", "--val-size", "1", "--runner", "threads"],
    )
    assert result.exit_code == 0, result.output
    assert "ArtSound pairs in" in result.output
    pairs = pq.read_table(folder / "pairs.parquet")
    assert set(pairs.column("method").to_pylist()) == {"optimal-knn"}
    assert pairs.column("split").to_pylist().count("val") == 1
    assert not (folder / "pairings" / "greedy").exists()
