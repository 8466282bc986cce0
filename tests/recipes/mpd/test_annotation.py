"""The MPD annotation phases through the real Prefect flows on the tiny corpus:
build → rating tasks (waits for ratings) → simulated ratings → scores,
agreement, preference tasks (waits for votes) → simulated votes → consensus,
Hugging Face shards and card; the report and the CLI status/export."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import soundfile as sf
from typer.testing import CliRunner

from synesthesia.cli import app
from synesthesia.annotation.labelstudio.configs import label_config
from synesthesia.datasets import io as dio
from synesthesia.recipes import mpd as MA
from synesthesia.recipes.mpd.labelstudio import served_painting
from synesthesia.datasets import schema as S

from support.mpd_phases import ANNOTATION, CONFIG, SHORT_PAIRS


@pytest.fixture(scope="module")
def phases(mpd_annotation_phases):
    seen = dict(mpd_annotation_phases)
    seen["tasks_before_votes"] = dio.read_table(seen["phase2"] / MA.PREFERENCE_TASKS_FILE)
    seen["phase2_dir"] = seen["phase2"]
    seen["phase2"], seen["phase3"] = seen["phase2_result"], seen["phase3_result"]
    return seen["out"], seen


def test_phase1_writes_rating_tasks_and_waits_for_ratings(phases, tiny_corpus):
    out, seen = phases
    status = seen["build"]["annotation"]["status"]
    assert status["phase"] == MA.WAITING_FOR_RATINGS and "annotate import" in status["message"]
    assert not (seen["phase1"] / MA.SCORES).exists()
    assert "waiting for ratings" in seen["report1"]
    pairs = dio.read_table(out / "pairs.parquet")
    assignments = dio.read_table(out / MA.ASSIGNMENTS, S.MPD_ASSIGNMENTS)
    assert assignments.num_rows == 5 * pairs.num_rows
    load = Counter(assignments["rater_id"].to_pylist())
    assert len(load) == 12 and max(load.values()) - min(load.values()) <= 1
    # listening copies: one per clip used in a pair, at the track's own rate, 15 s long
    media = dio.read_table(out / MA.CLIP_MEDIA, S.CLIP_FILES)
    assert set(media["clip_id"].to_pylist()) == set(pairs["clip_id"].to_pylist())
    tracks = {t["track_id"]: t for t in dio.read_table(out / "tracks.parquet").to_pylist()}
    clips = {c["clip_id"]: c for c in dio.read_table(out / "clips.parquet").to_pylist()}
    for row in media.to_pylist()[:5]:
        path = out / MA.CLIP_MEDIA_DIR / row["path"]
        info = sf.info(str(path))
        clip = clips[row["clip_id"]]
        track = tracks[clip["track_id"]]
        assert info.samplerate == track["sample_rate"] == row["sample_rate"] and info.channels == track["channels"]
        assert info.duration == pytest.approx(15.0, abs=0.01) and path.suffix == ".flac"
        # the same stretch of music as the clip's mel: compare with the source at the clip's start
        source, sr = sf.read(str(Path(dio.read_manifest(out)["media_roots"]["music"]) / track["path"]), always_2d=True)
        start = int(round(clip["start_s"] * sr))
        mine, _ = sf.read(str(path), always_2d=True)
        assert abs(mine[: sr] - source[start : start + sr]).max() < 1e-3
    # Label Studio task JSON: one task per pair, ids ours, media URLs resolving to real files
    tasks = json.loads((out / MA.LABELSTUDIO / "ratings.tasks.json").read_text())
    assert sorted(t["data"]["pair_id"] for t in tasks) == sorted(pairs["pair_id"].to_pylist())
    root = MA.default_links(out).document_root
    for t in tasks[:5]:
        for field in ("image", "audio"):
            url = t["data"][field]
            assert url.startswith("/data/local-files/?d=")
            assert (root / unquote(url.split("?d=", 1)[1])).is_file()
        assert len(t["data"]["raters"].split(",")) == 5
    assert (out / MA.LABELSTUDIO / "ratings.xml").read_text() == label_config("ratings")
    # the document root holds links to the dataset's paintings and listening copies, and nothing else
    assert root == (out / MA.SERVED_MEDIA).absolute() and sorted(p.name for p in root.iterdir()) == ["clips", "paintings"]
    painting_root = Path(dio.read_manifest(out)["media_roots"]["paintings"])
    links = sorted(p for p in (root / "paintings").rglob("*") if not p.is_dir())
    paintings = dio.read_table(out / "paintings.parquet").to_pylist()
    # each painting at its own path; one with transparent pixels as its composite, <stem>.<key>.png
    served = {p["path"]: served_painting(p["path"], p["has_alpha"], p["sha256"], "white").as_posix() for p in paintings}
    assert [p.relative_to(root / "paintings").as_posix() for p in links] == sorted(served.values())
    assert any(p["has_alpha"] for p in paintings) and all(served[p["path"]] != p["path"] for p in paintings if p["has_alpha"])
    # real files (a hard link or a copy), never a link out of the served folder, with the painting's bytes
    assert not any(p.is_symlink() for p in links)
    assert all((root / "paintings" / served[rel]).read_bytes() == (painting_root / rel).read_bytes() for rel in served if served[rel] == rel)
    assert (root / "clips").is_symlink() and (root / "clips").resolve() == (out / MA.CLIP_MEDIA_DIR).resolve()


def test_phase2_scores_flags_short_pairs_and_builds_preference_tasks(phases):
    out, seen = phases
    st = seen["phase2"]
    assert st["status"]["phase"] == MA.WAITING_FOR_VOTES
    pairs = dio.read_table(out / "pairs.parquet")
    scores = dio.read_table(out / MA.SCORES, S.MPD_SCORES)
    unscored = dio.read_table(out / MA.UNSCORED, S.MPD_UNSCORED)
    assert scores.num_rows == pairs.num_rows - SHORT_PAIRS
    assert sorted(unscored["pair_id"].to_pylist()) == seen["short"] and set(unscored["n_ratings"].to_pylist()) == {2}
    assert set(scores["n_ratings"].to_pylist()) == {5}
    info = json.loads((out / MA.AGREEMENT).read_text())
    a = info["agreement"]
    assert a["ci95"][0] <= a["alpha"] <= a["ci95"][1] and 0.5 < a["alpha"] < 1
    assert info["sources"] == {"simulated": pairs.num_rows * 5 - 3 * SHORT_PAIRS}
    stats = dio.read_table(out / MA.RATER_STATS, S.MPD_RATER_STATS)
    assert stats.num_rows == 12
    tasks = seen["tasks_before_votes"]
    assert 0 < tasks.num_rows <= ANNOTATION.preference_tasks
    amb = set(scores.filter(scores["ambiguous"])["pair_id"].to_pylist())
    assert set(tasks["pair_a"].to_pylist()) | set(tasks["pair_b"].to_pylist()) <= amb
    p_assign = dio.read_table(out / MA.PREFERENCE_ASSIGNMENTS)
    assert p_assign.num_rows == 3 * tasks.num_rows
    for kind in S.PREFERENCE_KINDS:
        lst = json.loads((out / MA.LABELSTUDIO / f"{kind}.tasks.json").read_text())
        assert len(lst) == tasks["kind"].to_pylist().count(kind)


def test_phase3_consensus_hf_export_and_card(phases):
    out, seen = phases
    assert seen["phase3"]["status"]["phase"] == MA.COMPLETE
    tasks = dio.read_table(out / MA.PREFERENCE_TASKS_FILE)
    assert tasks.equals(seen["tasks_before_votes"])  # unchanged by the run that consumed the votes
    prefs = dio.read_table(out / MA.PREFERENCE_PAIRS, S.MPD_PREFERENCE_PAIRS)
    assert prefs.schema.names == S.MPD_PREFERENCE_PAIRS.names
    assert 0 < prefs.num_rows <= tasks.num_rows
    assert all(v >= 2 and t == 3 for v, t in zip(prefs["votes_for"].to_pylist(), prefs["votes_total"].to_pylist()))
    task_split = dict(zip(tasks["task_id"].to_pylist(), tasks["split"].to_pylist()))
    assert all(task_split[t] == s for t, s in zip(prefs["task_id"].to_pylist(), prefs["split"].to_pylist()))

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets

    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "config_name: scores" in card and "simulated" in card
    # raters per pair (the plan) and the ratings the scored pairs really have, not the number of distinct raters
    card_text = " ".join(card.split())
    assert f"each assigned to {ANNOTATION.raters_per_pair} of a pool of {ANNOTATION.rater_pool} raters" in card_text
    assert "scored pairs have 5 ratings each" in card_text and "12 distinct raters took part" in card_text
    # the generated corpus is a plain folder: no source gives a licence, and the card says so
    assert "## Licences" in card and "| paintings | (not given) | (not given) |" in card and "No item's source gives a licence." in card_text
    flagged = sum(dio.read_table(out / MA.RATER_STATS).column("flagged").to_pylist())
    assert "No gold or repeat checks were answered" in card_text
    assert (f"{flagged} rater(s) were flagged by the quality-control rule; their ratings are included" in card_text) if flagged else (
        "No rater was flagged" in card_text)
    scores_ds = datasets.load_dataset(str(out), "scores")
    n_scored = dio.read_table(out / MA.SCORES).num_rows
    assert sum(len(scores_ds[s]) for s in scores_ds) == n_scored
    pairs = dio.read_table(out / "pairs.parquet").to_pandas()
    for split in scores_ds:
        ids = set(scores_ds[split]["pair_id"])
        assert set(pairs[pairs["pair_id"].isin(ids)]["split"]) == {split}
    prefs_ds = datasets.load_dataset(str(out), "preferences")  # through the card's `configs`
    assert sum(len(prefs_ds[s]) for s in prefs_ds) == prefs.num_rows
    assert set(prefs_ds["train"].column_names) == set(S.MPD_PREFERENCE_PAIRS.names)


def report_section(report: str, heading: str) -> str:
    return report.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def table_rows(section: str) -> list[list[str]]:
    """Body rows of the first markdown table in ``section``."""
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_report_has_figures_agreement_raters_and_says_ratings_are_simulated(phases):
    out, _ = phases
    report = (out / "report.md").read_text()
    # one row per rater, matching rater_stats.parquet
    raters = table_rows(report_section(report, "## Per rater"))
    stats = {r["rater_id"]: r for r in dio.read_table(out / MA.RATER_STATS).to_pylist()}
    assert len(raters) == ANNOTATION.rater_pool == len(stats)
    for row in raters:
        assert int(row[1]) == stats[row[0]]["n_ratings"] and float(row[2]) == pytest.approx(stats[row[0]]["bias"], abs=5e-4 + 1e-12)  # shown to 3 decimals
        assert row[-1].startswith("**flagged**") == stats[row[0]]["flagged"]
    flagged = [r for r in raters if stats[r[0]]["flagged"]]
    assert raters[: len(flagged)] == flagged  # flagged raters come first
    # consensus counts per kind agree with the tables
    prefs = dio.read_table(out / MA.PREFERENCE_PAIRS).to_pandas()
    tasks = dio.read_table(out / MA.PREFERENCE_TASKS_FILE).to_pandas()
    consensus_rows = {r[0]: r for r in table_rows(report_section(report, "## Consensus"))}
    assert set(consensus_rows) == set(S.PREFERENCE_KINDS)
    for kind, row in consensus_rows.items():
        assert int(row[1]) == (tasks["kind"] == kind).sum() and int(row[2]) == (prefs["kind"] == kind).sum()
    # the paper's reference column
    agreement_rows = {r[0]: r for r in table_rows(report_section(report, "## Ratings and scores"))}
    assert agreement_rows["mean σ"][2] == "0.078" and agreement_rows["Krippendorff's α (interval)"][2] == "0.86"
    assert agreement_rows["share of pairs with σ < 0.09"][2] == "84.8 %"
    for heading in ["## Annotation status", "## Ratings and scores", "## Per rater", "## Preference tasks", "## Consensus"]:
        assert heading in report
    assert "ratings in this folder are simulated" in report and "votes in this folder are simulated" in report
    assert "Krippendorff's α" in report and "95 % CI" in report and "σ < 0.09" in report
    for png in ["figures/score_histogram.png", "figures/sigma_histogram.png"]:
        assert f"]({png})" in report and (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Random pairs" in report  # the data-path sections are kept


def test_cli_status_and_export(phases, tmp_path):
    out, _ = phases
    runner = CliRunner()
    result = runner.invoke(app, ["annotate", "status", "--dataset", str(out)])
    assert result.exit_code == 0 and result.output.startswith("complete:")
    target = tmp_path / "prefs.json"
    result = runner.invoke(
        app, ["annotate", "export", "--dataset", str(out), "--kind", "preferences", "--out", str(target), "--url-prefix", "http://media.local/m"]
    )
    assert result.exit_code == 0, result.output
    n = 0
    for kind in S.PREFERENCE_KINDS:
        tasks = json.loads((tmp_path / f"prefs.{kind}.json").read_text())
        n += len(tasks)
        assert all(v.startswith("http://media.local/m/") for t in tasks for k, v in t["data"].items() if k.startswith(("image", "audio")))
        assert (tmp_path / f"prefs.{kind}.xml").exists()
    assert n == dio.read_table(out / MA.PREFERENCE_TASKS_FILE).num_rows


def test_status_says_what_is_missing_in_phases_2_and_3(phases, tmp_path):
    _, seen = phases
    # phase 2 with pairs that nobody has rated yet
    two = Path(shutil.copytree(seen["phase2_dir"], tmp_path / "two"))
    ratings = dio.read_table(two / MA.RATINGS_FILE)
    unrated = sorted(set(ratings["pair_id"].to_pylist()) - set(seen["short"]))[:2]
    dio.write_table(ratings.filter(pc.invert(pc.is_in(ratings["pair_id"], pa.array(unrated)))), two / MA.RATINGS_FILE, S.MPD_RATINGS)
    MA.score_ratings(two, ANNOTATION, CONFIG.seed)
    st = MA.status(two)
    assert st["phase"] == MA.WAITING_FOR_VOTES
    assert f"{SHORT_PAIRS} pairs still have too few ratings" in st["message"] and "2 pairs have no rating yet" in st["message"]
    # phase 3 with one task short of votes and one without any
    three = Path(shutil.copytree(seen["out"], tmp_path / "three"))
    votes = dio.read_table(three / MA.PREFERENCE_VOTES)
    short_task, empty_task = sorted(set(votes["task_id"].to_pylist()))[:2]
    keep, dropped_one = [], False
    for task_id in votes["task_id"].to_pylist():
        drop = task_id == empty_task or (task_id == short_task and not dropped_one)
        dropped_one |= task_id == short_task
        keep.append(not drop)
    dio.write_table(votes.filter(pa.array(keep)), three / MA.PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES)
    MA.finish(three, MA.annotation_config(three)[0])
    st = MA.status(three)
    assert st["phase"] == MA.WAITING_FOR_MORE_VOTES
    assert f"1 tasks have fewer than {ANNOTATION.consensus.min_votes} votes and 1 have none" in st["message"]


def test_cli_ambiguity_band_and_bootstrap_reach_scores_and_preference_tasks(phases, tiny_corpus, tmp_path):
    _, seen = phases
    out = Path(shutil.copytree(seen["phase2_dir"], tmp_path / "mpd"))
    result = CliRunner().invoke(app, [
        "build", "mpd", "--paintings", str(tiny_corpus["paintings"]), "--music", str(tiny_corpus["music"]), "--out", str(out),
        "--pairs", str(CONFIG.n_pairs), "--seed", str(CONFIG.seed), "--shard-size", "50", "--runner", "threads",
        "--raters", str(ANNOTATION.rater_pool), "--preference-tasks", str(ANNOTATION.preference_tasks),
        "--ambiguity-band", "0.3", "0.7", "--bootstrap", "50",
    ])
    assert result.exit_code == 0, result.output
    annotation = dio.read_manifest(out)["config"]["annotation"]
    assert annotation["aggregation"]["band"] == [0.3, 0.7] and annotation["n_boot"] == 50
    info = json.loads((out / MA.AGREEMENT).read_text())
    assert info["band"] == [0.3, 0.7] and info["agreement"]["n_boot"] == 50
    scores = dio.read_table(out / MA.SCORES).to_pandas()
    assert (scores["ambiguous"] == scores["score"].between(0.3 - 1e-9, 0.7 + 1e-9)).all()  # inclusive, float-rounding tolerant
    assert scores["ambiguous"].sum() > (scores["score"].between(0.4, 0.6)).sum()  # the wider band takes more pairs
    tasks = dio.read_table(out / MA.PREFERENCE_TASKS_FILE).to_pandas()
    ambiguous = set(scores.loc[scores["ambiguous"], "pair_id"])
    assert set(tasks["pair_a"]) | set(tasks["pair_b"]) <= ambiguous
    assert not set(tasks["pair_a"]) | set(tasks["pair_b"]) <= set(scores.loc[scores["score"].between(0.4, 0.6), "pair_id"])


def test_annotation_config_round_trips_through_dataset_json(phases):
    out, _ = phases
    cfg, seed = MA.annotation_config(out)
    assert cfg == ANNOTATION and seed == CONFIG.seed


def _export(rows: list[dict], key: str, data: dict, result) -> list[dict]:
    """A Label Studio full JSON export: one task per id in ``rows[key]``."""
    users = {r: i + 1 for i, r in enumerate(sorted({r["rater_id"] for r in rows}))}
    tasks: dict[str, dict] = {}
    for n, r in enumerate(rows):
        t = tasks.setdefault(r[key], {"id": len(tasks) + 1, "data": {key: r[key], **data.get(r[key], {})}, "annotations": []})
        t["annotations"].append(
            {"id": n + 1, "completed_by": users[r["rater_id"]], "result": result(r), "was_cancelled": False, "updated_at": "2026-01-01T10:00:00Z"}
        )
    return list(tasks.values())


def test_status_waits_for_annotate_run_after_each_import(phases, tmp_path):
    """An import alone does not score or compute consensus: status says to run
    `annotate run` until it has, for ratings and for preference votes."""
    _, seen = phases
    out = Path(shutil.copytree(seen["phase1"], tmp_path / "mpd"))
    runner = CliRunner()
    ratings = dio.read_table(seen["phase2_dir"] / MA.RATINGS_FILE).to_pylist()
    number = lambda r: [{"from_name": "coherence", "to_name": "painting", "type": "number", "value": {"number": r["score"]}}]
    (tmp_path / "ratings.json").write_text(json.dumps(_export(ratings, "pair_id", {}, number)))
    steps = [
        (["annotate", "import", "--dataset", str(out), "--export", str(tmp_path / "ratings.json")], MA.WAITING_FOR_RUN),
        (["annotate", "run", "--dataset", str(out), "--runner", "threads", "--shard-size", "50"], MA.WAITING_FOR_VOTES),
    ]
    for args, phase in steps:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        st = MA.status(out)
        assert st["phase"] == phase, st
        if phase == MA.WAITING_FOR_RUN:
            assert "annotate run" in st["message"] and not (out / MA.SCORES).exists()
    tasks = {t["task_id"]: t for t in dio.read_table(out / MA.PREFERENCE_TASKS_FILE).to_pylist()}
    votes = [v for v in dio.read_table(seen["out"] / MA.PREFERENCE_VOTES).to_pylist() if v["task_id"] in tasks]
    shown = {t: {"kind": r["kind"], "candidate_a": r["candidate_a"], "candidate_b": r["candidate_b"]} for t, r in tasks.items()}
    choice = lambda v: [{"from_name": "preference", "to_name": "painting", "type": "choices", "value": {"choices": [v["choice"]]}}]
    (tmp_path / "votes.json").write_text(json.dumps(_export(votes, "task_id", shown, choice)))
    result = runner.invoke(app, ["annotate", "import", "--dataset", str(out), "--export", str(tmp_path / "votes.json")])
    assert result.exit_code == 0, result.output
    st = MA.status(out)
    assert st["phase"] == MA.WAITING_FOR_RUN and "consensus" in st["message"]
    result = runner.invoke(app, ["annotate", "run", "--dataset", str(out), "--runner", "threads", "--shard-size", "50"])
    assert result.exit_code == 0, result.output
    assert MA.status(out)["phase"] in (MA.COMPLETE, MA.WAITING_FOR_MORE_VOTES)
    assert (out / MA.PREFERENCE_PAIRS).exists() and (out / "README.md").exists()
