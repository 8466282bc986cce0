"""Label Studio exports → ratings / votes: every edge case with hand-written
full-JSON exports, malformed files, re-imports; task JSON and media links;
the labeling configs; the `annotate import/export/config` commands."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from synesthesia.annotation.labelstudio import parse as LP
from synesthesia.annotation.labelstudio.configs import PROJECT_KINDS, label_config
from synesthesia.annotation.labelstudio.tasks import MediaLinks, preference_tasks, rating_tasks
from synesthesia.cli import app
from synesthesia.datasets import io as dio
from synesthesia.recipes import mpd as MA
from synesthesia.datasets import schema as S
from support.exports import ann, choice, number, task, write_export

RATING_EXPORT = [
    task(
        1,
        {"pair_id": "pair-a", "image": "/x.png", "audio": "/x.flac"},
        ann(11, 2, number(0.41)),
        ann(12, 3, number(0.5)),
        ann(13, 4, number(0.62)),
        ann(14, 5, number(0.55)),
        ann(15, 6, number(0.48)),
        ann(16, 7, number(0.9), cancelled=True),  # skipped
        ann(17, 8, []),  # submitted without a value
        ann(18, 9, number(None)),  # empty value
    ),
    task(
        2,
        {"pair_id": "pair-b"},
        ann(21, 2, number(1.3)),  # out of range
        ann(22, 3, number(-0.1)),  # out of range
        ann(23, 4, number("abc")),  # not a number
        ann(24, 5, number(0.3), updated="2026-01-01T09:00:00Z"),  # older ...
        ann(25, 5, number(0.35), updated="2026-01-02T09:00:00Z"),  # ... the latest by the same rater
        ann(26, {"id": 6, "email": "x@example.com"}, number(0.2)),  # completed_by as an object
        ann(27, None, number(0.2)),  # no rater
        ann(28, 7, number(0.25) + number(0.3)),  # two values in one annotation
    ),
    task(3, {"pair_id": "pair-zzz"}, ann(31, 2, number(0.5))),  # not one of our pairs
    task(4, {"image": "/y.png"}, ann(41, 2, number(0.5))),  # no pair_id at all
    task(5, {"pair_id": "pair-c"}),  # no annotations yet
]


def test_import_ratings_handles_and_counts_every_edge_case(dataset, tmp_path):
    entry = MA.import_annotations(dataset, write_export(tmp_path / "ratings.json", RATING_EXPORT))
    ratings = dio.read_table(dataset / MA.RATINGS_FILE, S.MPD_RATINGS)
    got = {(r["pair_id"], r["rater_id"]): r for r in ratings.to_pylist()}
    assert set(got) == {("pair-a", f"ls-user-{u}") for u in (2, 3, 4, 5, 6)} | {("pair-b", "ls-user-5"), ("pair-b", "ls-user-6")}
    assert got[("pair-a", "ls-user-2")]["score"] == 0.41
    assert got[("pair-a", "ls-user-2")]["annotation_id"] == "ls-11" and got[("pair-a", "ls-user-2")]["lead_time_s"] == 12.5
    assert got[("pair-a", "ls-user-2")]["source"] == "labelstudio"
    assert got[("pair-b", "ls-user-5")]["score"] == 0.35  # the latest of the rater's two annotations
    assert str(got[("pair-b", "ls-user-5")]["annotated_at"].date()) == "2026-01-02"
    c = entry["counts"]
    assert (c["tasks"], c["annotations"], c["valid"]) == (5, 18, 8)
    assert c[LP.SKIPPED] == 1 and c[LP.MISSING] == 2 and c[LP.OUT_OF_RANGE] == 2 and c[LP.NOT_NUMBER] == 1
    assert c[LP.REPEATED] == 1 and c[LP.NO_RATER] == 1 and c[LP.SEVERAL] == 1
    assert c[LP.UNKNOWN_PAIR] == 1 and c[LP.NO_ID] == 1
    assert entry["rows_after"] == 7
    rejects = dio.read_table(dataset / MA.REJECTS, S.ANNOTATION_REJECTS).to_pylist()
    by_id = {r["annotation_id"]: r for r in rejects}
    assert len(rejects) == 18 - 7  # every annotation is either used or listed
    assert by_id["ls-16"]["reason"] == LP.SKIPPED and by_id["ls-21"]["reason"] == LP.OUT_OF_RANGE
    assert by_id["ls-24"]["reason"] == LP.REPEATED and by_id["ls-24"]["task_ref"] == "pair-b"
    assert by_id["ls-31"]["reason"] == LP.UNKNOWN_PAIR and by_id["ls-31"]["task_ref"] == "pair-zzz"
    assert by_id["ls-41"]["reason"] == LP.NO_ID and by_id["ls-41"]["task_ref"] == "ls-task-4"
    assert "1.3" in by_id["ls-21"]["value"]
    log = json.loads((dataset / MA.IMPORT_LOG).read_text())
    assert len(log) == 1 and log[0]["counts"] == c


def test_reimport_is_idempotent_and_a_newer_export_replaces_edited_annotations(dataset, tmp_path):
    path = write_export(tmp_path / "ratings.json", RATING_EXPORT)
    MA.import_annotations(dataset, path)
    first = dio.read_table(dataset / MA.RATINGS_FILE)
    first_rejects = dio.read_table(dataset / MA.REJECTS)
    MA.import_annotations(dataset, path)
    assert dio.read_table(dataset / MA.RATINGS_FILE).equals(first)
    assert dio.read_table(dataset / MA.REJECTS).sort_by("annotation_id").equals(first_rejects.sort_by("annotation_id"))
    newer = json.loads(json.dumps(RATING_EXPORT))
    newer[0]["annotations"][0]["result"] = number(0.44)  # rater 2 edited annotation 11
    newer[0]["annotations"][0]["updated_at"] = "2026-01-03T00:00:00Z"
    newer[0]["annotations"][1]["result"] = number(7)  # rater 3 edited annotation 12 into an invalid value
    newer[1]["annotations"].append(ann(29, 9, number(0.6)))  # a new rater on pair-b
    entry = MA.import_annotations(dataset, write_export(tmp_path / "ratings-2.json", newer))
    ratings = {(r["pair_id"], r["rater_id"]): r["score"] for r in dio.read_table(dataset / MA.RATINGS_FILE).to_pylist()}
    assert ratings[("pair-a", "ls-user-2")] == 0.44
    assert ("pair-a", "ls-user-3") not in ratings  # its annotation is now invalid
    assert ratings[("pair-b", "ls-user-9")] == 0.6
    assert entry["rows_after"] == len(ratings) == 7
    reasons = {r["annotation_id"]: r["reason"] for r in dio.read_table(dataset / MA.REJECTS).to_pylist()}
    assert reasons["ls-12"] == LP.OUT_OF_RANGE
    assert len(json.loads((dataset / MA.IMPORT_LOG).read_text())) == 3


MALFORMED = {
    "not json": "[{\"id\": 1, ",
    "an object": json.dumps({"id": 1, "annotations": []}),
    "a number": "42",
    "task not an object": json.dumps([1, 2]),
    "data not an object": json.dumps([{"id": 1, "data": "x", "annotations": []}]),
    "annotations not a list": json.dumps([{"id": 1, "data": {"pair_id": "pair-a"}, "annotations": {"a": 1}}]),
    "annotation not an object": json.dumps([{"id": 1, "data": {"pair_id": "pair-a"}, "annotations": ["x"]}]),
    "result not a list": json.dumps([{"id": 1, "data": {"pair_id": "pair-a"}, "annotations": [{"id": 2, "result": {"number": 1}}]}]),
    "value a string": json.dumps([{"id": 1, "data": {"pair_id": "pair-a"}, "annotations": [{"id": 2, "result": [{"from_name": "coherence", "value": "0.5"}]}]}]),
    "value a list": json.dumps([{"id": 1, "data": {"pair_id": "pair-a"}, "annotations": [{"id": 2, "result": [{"from_name": "coherence", "value": [0.5]}]}]}]),
    "json_min": json.dumps([{"id": 1, "pair_id": "pair-a", "coherence": 0.5, "annotator": 2, "annotation_id": 3}]),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_export_stops_with_the_file_name_and_writes_nothing(dataset, tmp_path, name):
    MA.import_annotations(dataset, write_export(tmp_path / "good.json", RATING_EXPORT))
    before = {p.name: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    bad = tmp_path / "bad-export.json"
    bad.write_text(MALFORMED[name], encoding="utf-8")
    with pytest.raises(LP.ExportFormatError) as err:
        MA.import_annotations(dataset, bad, "ratings")
    assert "bad-export.json" in str(err.value)
    if name == "json_min":
        assert "JSON_MIN" in str(err.value)
    after = {p.name: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    assert after == before


def test_report_lists_every_import_with_its_counts_by_reason(dataset, tmp_path):
    entry = MA.import_annotations(dataset, write_export(tmp_path / "ratings.json", RATING_EXPORT))
    section = next(s for s in MA.annotation_sections(dataset) if s.startswith("## Label Studio imports"))
    lines = [l for l in section.splitlines() if l.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    row = dict(zip(header, (c.strip() for c in lines[2].strip("|").split("|"))))
    assert row["export"] == "ratings.json" and row["kind"] == "ratings"
    reasons = {k: v for k, v in entry["counts"].items() if k not in ("tasks", "annotations", "valid")}
    assert {LP.SKIPPED, LP.MISSING, LP.OUT_OF_RANGE, LP.NOT_NUMBER, LP.UNKNOWN_PAIR, LP.NO_ID, LP.NO_RATER, LP.REPEATED, LP.SEVERAL} <= set(reasons)
    for key in ("tasks", "annotations", "valid", *reasons):
        assert int(row[key]) == entry["counts"][key], key
    assert int(row["valid"]) - int(row[LP.REPEATED]) == dio.read_table(dataset / MA.RATINGS_FILE).num_rows  # the older repeat is dropped


@pytest.mark.parametrize("kind", [None, "ratings", "preferences"])
@pytest.mark.parametrize("tasks", [[], [{"id": 1, "data": {"image": "/x.png"}, "annotations": []}]], ids=["empty", "no ids"])
def test_export_of_unknown_kind_stops_with_the_file_name(dataset, tmp_path, tasks, kind):
    """Also with an explicit --kind: an empty export must not create an empty
    ratings table (that would move the dataset on to phase 2)."""
    bad = write_export(tmp_path / "what-is-this.json", tasks)
    with pytest.raises(LP.ExportFormatError) as err:
        MA.import_annotations(dataset, bad, kind)
    assert "what-is-this.json" in str(err.value)
    assert not (dataset / MA.RATINGS_FILE).exists() and not (dataset / MA.PREFERENCE_VOTES).exists()


def test_explicit_kind_must_match_the_tasks(dataset, tmp_path):
    ratings = write_export(tmp_path / "ratings.json", RATING_EXPORT)
    votes = write_export(tmp_path / "votes.json", [task(1, {"task_id": "pref-1", "kind": "clips_given_painting"}, ann(1, 2, choice("a")))])
    for path, wrong in ((ratings, "preferences"), (votes, "ratings")):
        with pytest.raises(LP.ExportFormatError, match=f"{path.name}.*--kind {wrong}"):
            MA.import_annotations(dataset, path, wrong)
    assert not (dataset / MA.RATINGS_FILE).exists() and not (dataset / MA.PREFERENCE_VOTES).exists()


def test_rater_ids_never_carry_an_email(dataset, tmp_path):
    export = [
        task(
            1,
            {"pair_id": "pair-a"},
            ann(1, {"email": "only-an-email@example.com"}, number(0.5)),  # expanded user without an id
            ann(2, "someone@example.com", number(0.5)),  # a bare email
            ann(3, {"id": 9, "email": "nine@example.com"}, number(0.5)),
        )
    ]
    entry = MA.import_annotations(dataset, write_export(tmp_path / "ratings.json", export))
    ratings = dio.read_table(dataset / MA.RATINGS_FILE).to_pylist()
    assert [r["rater_id"] for r in ratings] == ["ls-user-9"]
    assert entry["counts"][LP.NO_RATER] == 2
    for name in (MA.RATINGS_FILE, MA.REJECTS):
        assert "@" not in dio.read_table(dataset / name).to_pandas().to_csv()


def test_import_votes_maps_choices_to_candidates(dataset, tmp_path):
    export = [
        task(
            1,
            {"task_id": "pref-1", "kind": "clips_given_painting"},
            ann(1, 2, choice("a")),
            ann(2, 3, choice("Clip B")),  # the visible value instead of the alias
            ann(3, 4, [{"from_name": "preference", "type": "pairwise", "value": {"selected": "left"}}]),  # <Pairwise>
            ann(4, 5, choice("c")),  # unknown
            ann(5, 6, choice("a", "b")),  # several
            ann(6, 7, [], cancelled=True),
            ann(7, 8, []),
        ),
        task(2, {"task_id": "pref-2", "kind": "paintings_given_clip"}, ann(8, 2, choice("b"))),
        task(3, {"task_id": "pref-404", "kind": "paintings_given_clip"}, ann(9, 2, choice("b"))),
    ]
    entry = MA.import_annotations(dataset, write_export(tmp_path / "prefs.json", export))
    assert entry["kind"] == "preferences"
    votes = {(r["task_id"], r["rater_id"]): (r["choice"], r["chosen_id"]) for r in dio.read_table(dataset / MA.PREFERENCE_VOTES).to_pylist()}
    assert votes == {
        ("pref-1", "ls-user-2"): ("a", "clip-1"),
        ("pref-1", "ls-user-3"): ("b", "clip-2"),
        ("pref-1", "ls-user-4"): ("a", "clip-1"),
        ("pref-2", "ls-user-2"): ("b", "img-2"),
    }
    c = entry["counts"]
    assert c[LP.UNKNOWN_CHOICE] == 1 and c[LP.SEVERAL] == 1 and c[LP.SKIPPED] == 1 and c[LP.MISSING] == 1 and c[LP.UNKNOWN_TASK] == 1


def test_votes_follow_the_candidates_the_rater_saw(dataset, tmp_path):
    """Label Studio keeps the A/B order a task was pushed with; the export's own
    candidate_a/b decide what a vote means, stored relative to the table's A/B."""
    export = [
        task(
            1,
            # shown in the other order than preference_tasks.parquet has (clip-1, clip-2)
            {"task_id": "pref-1", "kind": "clips_given_painting", "candidate_a": "clip-2", "candidate_b": "clip-1"},
            ann(1, 2, choice("b")),
            ann(2, 3, choice("a"), updated="2026-01-01T09:00:00Z"),  # older ...
            ann(3, 3, choice("b"), updated="2026-01-02T09:00:00Z"),  # ... the same rater's latest vote
        ),
        task(2, {"task_id": "pref-2", "kind": "paintings_given_clip", "candidate_a": "img-1", "candidate_b": "img-9"}, ann(4, 2, choice("a"))),
    ]
    entry = MA.import_annotations(dataset, write_export(tmp_path / "prefs.json", export))
    votes = {(r["task_id"], r["rater_id"]): (r["choice"], r["chosen_id"]) for r in dio.read_table(dataset / MA.PREFERENCE_VOTES).to_pylist()}
    assert votes == {("pref-1", "ls-user-2"): ("a", "clip-1"), ("pref-1", "ls-user-3"): ("a", "clip-1")}
    assert entry["counts"][LP.TASK_CHANGED] == 1 and entry["counts"][LP.REPEATED] == 1
    rejects = dio.read_table(dataset / MA.REJECTS).to_pylist()
    assert {(r["task_ref"], r["reason"]) for r in rejects} >= {("pref-2", LP.TASK_CHANGED), ("pref-1", LP.REPEATED)}


def test_votes_need_preference_tasks(tmp_path, dataset):
    (dataset / MA.PREFERENCE_TASKS_FILE).unlink()
    path = write_export(tmp_path / "p.json", [task(1, {"task_id": "pref-1"}, ann(1, 2, choice("a")))])
    with pytest.raises(LP.ExportFormatError, match="no preference_tasks.parquet"):
        MA.import_annotations(dataset, path)


# --- task JSON, media links, configs ----------------------------------------------------------

def test_media_links_local_files_and_url_prefix(tmp_path):
    root = tmp_path / "root"
    (root / "art" / "sub dir").mkdir(parents=True)
    f = root / "art" / "sub dir" / "a b.png"
    f.write_bytes(b"x")
    assert MediaLinks(root).url(f) == "/data/local-files/?d=art/sub%20dir/a%20b.png"
    assert MediaLinks(root, "http://media.example:8080/m/").url(f) == "http://media.example:8080/m/art/sub%20dir/a%20b.png"
    with pytest.raises(ValueError, match="not under the media document root"):
        MediaLinks(root / "art" / "sub dir" / "deeper").url(f)


def test_rating_and_preference_tasks_carry_our_ids_and_media(tmp_path):
    links = MediaLinks(tmp_path)
    pairs = S.from_rows([{"pair_id": "p1", "painting_id": "i1", "clip_id": "c1", "split": "val"}], S.MPD_PAIRS)
    pf = {f"i{i}": tmp_path / f"i{i}.png" for i in range(3)}
    cf = {f"c{i}": tmp_path / "media" / f"c{i}.flac" for i in range(3)}
    (t,) = rating_tasks(pairs, pf, cf, links, {"p1": ["rater-01", "rater-02"]})
    assert t["data"] == {"pair_id": "p1", "painting_id": "i1", "clip_id": "c1", "split": "val",
                         "image": "/data/local-files/?d=i1.png", "audio": "/data/local-files/?d=media/c1.flac", "raters": "rater-01,rater-02"}
    ptasks = S.from_rows(
        [
            {"task_id": "t1", "kind": "clips_given_painting", "query_id": "i0", "candidate_a": "c1", "candidate_b": "c2", "split": "train"},
            {"task_id": "t2", "kind": "paintings_given_clip", "query_id": "c0", "candidate_a": "i1", "candidate_b": "i2", "split": "train"},
        ],
        S.MPD_PREFERENCE_TASKS,
    )
    (a,) = preference_tasks("clips_given_painting", ptasks, pf, cf, links)
    (b,) = preference_tasks("paintings_given_clip", ptasks, pf, cf, links)
    assert (a["data"]["task_id"], a["data"]["image"], a["data"]["audio_a"], a["data"]["audio_b"]) == (
        "t1", "/data/local-files/?d=i0.png", "/data/local-files/?d=media/c1.flac", "/data/local-files/?d=media/c2.flac")
    assert (b["data"]["task_id"], b["data"]["audio"], b["data"]["image_a"], b["data"]["image_b"]) == (
        "t2", "/data/local-files/?d=media/c0.flac", "/data/local-files/?d=i1.png", "/data/local-files/?d=i2.png")


@pytest.mark.parametrize("kind", PROJECT_KINDS)
def test_label_configs_are_xml_with_the_controls_the_importer_reads(kind):
    root = ET.fromstring(label_config(kind))
    names = {el.get("name"): el for el in root.iter() if el.get("name")}
    variables = {el.get("value") for el in root.iter() if (el.get("value") or "").startswith("$")}
    if kind == "ratings":
        n = names["coherence"]
        assert n.tag == "Number" and (n.get("min"), n.get("max"), n.get("step"), n.get("slider"), n.get("required")) == ("0", "1", "0.01", "true", "true")
        assert variables == {"$image", "$audio"}
    else:
        c = names["preference"]
        assert c.tag == "Choices" and c.get("required") == "true" and c.get("choice") == "single-radio"
        assert {ch.get("alias") for ch in c.iter("Choice")} == {"a", "b"}
        assert variables == ({"$image", "$audio_a", "$audio_b"} if kind == "clips_given_painting" else {"$audio", "$image_a", "$image_b"})
        assert not list(root.iter("Pairwise"))


# --- CLI ---------------------------------------------------------------------------------------

def test_cli_import_reports_counts_and_fails_cleanly_on_a_malformed_file(dataset, tmp_path):
    runner = CliRunner()
    path = write_export(tmp_path / "ratings.json", RATING_EXPORT)
    result = runner.invoke(app, ["annotate", "import", "--dataset", str(dataset), "--export", str(path)])
    assert result.exit_code == 0, result.output
    assert "18 annotations, 8 valid" in result.output and "skipped: 1" in result.output and "repeated: 1" in result.output
    bad = tmp_path / "broken.json"
    bad.write_text("{", encoding="utf-8")
    result = runner.invoke(app, ["annotate", "import", "--dataset", str(dataset), "--export", str(bad)])
    assert result.exit_code == 2 and "broken.json" in result.output and "not valid JSON" in result.output


def test_cli_config_prints_the_labeling_config():
    result = CliRunner().invoke(app, ["annotate", "config", "--kind", "paintings_given_clip"])
    assert result.exit_code == 0 and '<Choices name="preference"' in result.output


def test_parse_export_without_known_kind_is_refused():
    with pytest.raises(ValueError):
        LP.parse_export([], "votes", set(), "x.json")
    with pytest.raises(LP.ExportFormatError):
        LP.detect_kind([{"id": 1, "data": {"image": "x"}}])
    assert pa.types.is_timestamp(S.MPD_RATINGS.field("annotated_at").type)


def test_scoring_ignores_ratings_of_pairs_a_rebuild_dropped(dataset):
    rows = [{"pair_id": p, "rater_id": f"r{i}", "score": 0.1 * (i + 1), "source": "test"} for p in ("pair-a", "pair-gone") for i in range(3)]
    dio.write_table(S.from_rows(rows, S.MPD_RATINGS), dataset / MA.RATINGS_FILE, S.MPD_RATINGS)
    summary = MA.score_ratings(dataset, MA.MPDAnnotationConfig(n_boot=10), 0)
    assert summary["stale_ratings"] == 3 and summary["ratings"] == 3
    assert dio.read_table(dataset / MA.SCORES)["pair_id"].to_pylist() == ["pair-a"]


def test_server_url_and_key_handling_without_a_server(monkeypatch):
    from synesthesia.annotation.labelstudio import client as LC

    monkeypatch.delenv(LC.URL_ENV, raising=False)
    monkeypatch.delenv(LC.KEY_ENV, raising=False)
    with pytest.raises(LC.LabelStudioError, match=f"pass --url or set {LC.URL_ENV}"):
        LC.resolve_url()
    monkeypatch.setenv(LC.URL_ENV, "http://from-env:8080/")
    assert LC.resolve_url() == "http://from-env:8080"
    assert LC.resolve_url("http://from-option:9000/") == "http://from-option:9000"  # the option wins
    with pytest.raises(LC.LabelStudioError, match=f"set {LC.KEY_ENV}"):
        LC.connect()
    key = "k3y" * 13 + "x"
    monkeypatch.setenv(LC.KEY_ENV, key)

    class ApiError(Exception):
        def __init__(self, body):
            super().__init__(f"headers: {{'Authorization': 'Token {key}'}}, body: {body}")
            self.status_code, self.body = 401, body

    bodies = {"Invalid token": {"detail": "Invalid token", "headers": {"Authorization": f"Token {key}"}}, "bad request": f"bad request from Token {key}"}
    for said, body in bodies.items():
        def fail():
            raise ApiError(body)

        with pytest.raises(LC.LabelStudioError) as err:
            LC._call("listing projects", fail)
        message = str(err.value)
        assert key not in message and said in message and "HTTP 401" in message and "listing projects" in message
