"""Quality control on a built MPD folder, without a server: gold items checked
against the folder, per-rater queues, check tasks that look like any other
task but are imported apart, the flag rule on simulated raters (a planted
random and a planted drifting rater), and `annotate run --exclude-flagged`
giving exactly the scores and α of a recomputation without them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from synesthesia.annotation.aggregate import aggregate_scores
from synesthesia.annotation.agreement import agreement
from synesthesia.annotation.quality import without_raters
from synesthesia.annotation.simulate import SimulatedRaters
from synesthesia.cli import app
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes import mpd as MA

SHARE = 0.1


def write_gold(ds: Path, path: Path, bad_painting: bool = False) -> Path:
    pairs = dio.read_table(ds / "pairs.parquet").to_pylist()
    lines = ["kind,painting_id,clip_id,score,query_id,better_id,worse_id"]
    for i, p in enumerate(pairs[:8]):
        lines.append(f"ratings,{'no-such-painting' if bad_painting and i == 3 else p['painting_id']},{p['clip_id']},{0.1 * (i + 1):.2f},,,")
    lines.append(f"clips_given_painting,,,,{pairs[0]['painting_id']},{pairs[0]['clip_id']},{pairs[1]['clip_id']}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def campaign(mpd_annotation_phases, tmp_path_factory):
    root = tmp_path_factory.mktemp("qc")
    ds = Path(shutil.copytree(mpd_annotation_phases["phase1"], root / "ds"))
    MA.import_gold(ds, write_gold(ds, root / "gold.csv"))
    plan = MA.plan_campaign(ds, ["ratings"], SHARE, SHARE)
    sim = SimulatedRaters(seed=5, bad_raters=0, random_raters=1, drifting_raters=1)
    queues = dio.read_table(ds / MA.QUEUES, S.MPD_QUEUES)
    checks = dio.read_table(ds / MA.QC_TASKS, S.MPD_QC_TASKS)
    ratings, answers = sim.rate_queue(queues, checks)
    dio.write_table(ratings, ds / MA.RATINGS_FILE, S.MPD_RATINGS)
    dio.write_table(answers, ds / MA.QC_ANSWERS, S.MPD_QC_ANSWERS)
    planted = sim.planted(sorted(set(ratings.column("rater_id").to_pylist())))
    return {"ds": ds, "root": root, "plan": plan, "ratings": ratings, "answers": answers, "planted": planted}


def test_gold_is_checked_against_the_folder(campaign):
    ds, root = campaign["ds"], campaign["root"]
    before = (ds / MA.GOLD).read_bytes()
    with pytest.raises(ValueError, match="names painting 'no-such-painting', which is not a painting of"):
        MA.import_gold(ds, write_gold(ds, root / "bad.csv", bad_painting=True))
    assert (ds / MA.GOLD).read_bytes() == before  # nothing written


def test_check_tasks_look_like_the_others_and_are_imported_apart(campaign, tmp_path):
    ds = Path(shutil.copytree(campaign["ds"], tmp_path / "ds"))
    (ds / MA.RATINGS_FILE).unlink()
    (ds / MA.QC_ANSWERS).unlink()
    tasks = MA.rater_tasks(ds, "ratings")["rater-01"]
    checks = {r["qc_id"]: r for r in dio.read_table(ds / MA.QC_TASKS).to_pylist()}
    mine = [t for t in tasks if t["data"]["pair_id"] in checks]
    assert mine and all(set(t["data"]) == set(tasks[0]["data"]) for t in tasks)  # same fields for every task
    assert all(t["data"]["pair_id"].startswith("pair-") for t in tasks)  # a check's id looks like a pair id
    for t in mine:  # and it shows what the check shows
        c = checks[t["data"]["pair_id"]]
        assert (t["data"]["painting_id"], t["data"]["clip_id"]) == (c["painting_id"], c["clip_id"])
        assert t["data"]["image"].startswith("/data/local-files/?d=paintings/") and t["data"]["audio"].startswith("/data/local-files/?d=clips/")
    export = []
    for i, t in enumerate(tasks):
        value = round(0.01 * (i % 100), 2)
        export.append({"id": 1000 + i, "data": t["data"], "annotations": [
            {"id": 5000 + i, "completed_by": 7, "result": [{"from_name": "coherence", "to_name": "painting", "type": "number", "value": {"number": value}}],
             "lead_time": 12.5, "was_cancelled": False, "updated_at": f"2026-03-01T10:{i // 60:02d}:{i % 60:02d}Z"}]})
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    entry = MA.import_annotations(ds, path)
    assert entry["counts"]["valid"] == len(tasks) - len(mine) and entry["counts"]["checks"] == len(mine)
    ratings = dio.read_table(ds / MA.RATINGS_FILE)
    answers = dio.read_table(ds / MA.QC_ANSWERS)
    assert not set(ratings.column("pair_id").to_pylist()) & set(checks)  # no check answer among the ratings
    assert sorted(answers.column("qc_id").to_pylist()) == sorted(t["data"]["pair_id"] for t in mine)
    assert set(answers.column("rater_id").to_pylist()) == {"ls-user-7"}
    MA.import_annotations(ds, path)  # importing again changes nothing
    assert dio.read_table(ds / MA.QC_ANSWERS).num_rows == answers.num_rows and dio.read_table(ds / MA.RATINGS_FILE).equals(ratings)


def test_flagged_raters_are_found_and_excluding_them_equals_a_recomputation(campaign, prefect_api):
    ds, ratings, planted = campaign["ds"], campaign["ratings"], campaign["planted"]
    cfg, seed = MA.annotation_config(ds)
    summary = MA.score_ratings(ds, cfg, seed)
    stats = dio.read_table(ds / MA.RATER_STATS, S.MPD_RATER_STATS).to_pandas().set_index("rater_id")
    flagged = set(planted["random"]) | set(planted["drifting"])
    assert set(stats.index[stats["flagged"]]) == flagged and not stats["excluded"].any()
    assert stats["n_gold"].sum() == campaign["plan"]["ratings"]["gold"] and stats["n_repeats"].sum() == campaign["plan"]["ratings"]["repeats"]
    assert summary["quality"]["flagged"] == sorted(flagged) and summary["ratings"] == ratings.num_rows
    scores = dio.read_table(ds / MA.SCORES)
    per_pair = ratings.group_by("pair_id").aggregate([("rater_id", "count")])
    counted = dict(zip(per_pair["pair_id"].to_pylist(), per_pair["rater_id_count"].to_pylist()))
    assert all(counted[p] == n for p, n in zip(scores["pair_id"].to_pylist(), scores["n_ratings"].to_pylist()))  # checks never count

    done = CliRunner().invoke(app, ["annotate", "run", "--dataset", str(ds), "--exclude-flagged", "--runner", "threads"])
    assert done.exit_code == 0, done.output
    assert json.loads((ds / "dataset.json").read_text())["config"]["annotation"]["exclude_flagged"] is True
    kept = without_raters(ratings, flagged)
    expected, _ = aggregate_scores(kept, cfg.aggregation)
    assert dio.read_table(ds / MA.SCORES, S.MPD_SCORES).equals(expected)
    info = json.loads((ds / MA.AGREEMENT).read_text())
    assert info["agreement"]["alpha"] == pytest.approx(agreement(kept, 0).alpha, abs=1e-12)
    assert info["quality"]["alpha_everyone"] == pytest.approx(agreement(ratings, 0).alpha, abs=1e-12)
    assert info["quality"]["excluded"] == sorted(flagged) and info["ratings"] == kept.num_rows
    assert set(stats.index) == set(dio.read_table(ds / MA.RATER_STATS).column("rater_id").to_pylist())
    excluded = dio.read_table(ds / MA.RATER_STATS).filter(pc.field("excluded")).column("rater_id").to_pylist()
    assert set(excluded) == flagged
    assert dio.read_table(ds / MA.RATINGS_FILE).num_rows == ratings.num_rows  # kept, only left out
    report = (ds / "report.md").read_text()
    assert "flagged and **excluded**" in report and all(r in report for r in flagged)
    # and back: including them restores the first scores
    done = CliRunner().invoke(app, ["annotate", "run", "--dataset", str(ds), "--include-flagged", "--runner", "threads"])
    assert done.exit_code == 0, done.output
    assert dio.read_table(ds / MA.SCORES, S.MPD_SCORES).equals(scores)
