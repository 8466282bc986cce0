"""Hostile or broken exports: rater ids that are not integers, malformed
timestamps, exports of another project, a folder that is not an MPD folder;
none gives a traceback or moves the dataset on."""

from __future__ import annotations


import pytest
from typer.testing import CliRunner

from synesthesia.annotation.labelstudio import parse as LP
from synesthesia.cli import app
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes import mpd

from support.exports import ann, number, task, write_export


def test_rater_ids_must_be_label_studio_integers(dataset, tmp_path):
    export = write_export(tmp_path / "e.json", [task(1, {"pair_id": "pair-a"},
        ann(11, 1.5, number(0.4)), ann(12, [1, 2], number(0.5)), ann(13, "7a", number(0.5)), ann(14, True, number(0.5)),
        ann(15, 7, number(0.6)), ann(16, "8", number(0.7)), ann(17, {"id": 9, "email": "x@y.z"}, number(0.8)))])
    entry = mpd.import_annotations(dataset, export)
    assert entry["counts"][LP.BAD_RATER] == 4 and entry["counts"]["valid"] == 3
    ratings = dio.read_table(dataset / mpd.RATINGS_FILE, S.MPD_RATINGS)
    assert sorted(ratings.column("rater_id").to_pylist()) == ["ls-user-7", "ls-user-8", "ls-user-9"]
    rejects = dio.read_table(dataset / mpd.REJECTS, S.ANNOTATION_REJECTS)
    assert sum(r["reason"] == LP.BAD_RATER for r in rejects.to_pylist()) == 4


@pytest.mark.parametrize("bad", [["2026-01-01"], {"t": 1}, 12345, "yesterday at noon", "2026-13-45T99:00:00Z"])
def test_a_malformed_timestamp_is_a_counted_reject(dataset, tmp_path, bad):
    export = write_export(tmp_path / "e.json", [task(1, {"pair_id": "pair-a"}, ann(11, 2, number(0.4), updated=bad), ann(12, 3, number(0.5)))])
    entry = mpd.import_annotations(dataset, export)
    assert entry["counts"][LP.BAD_TIME] == 1 and entry["counts"]["valid"] == 1
    ratings = dio.read_table(dataset / mpd.RATINGS_FILE, S.MPD_RATINGS)
    assert ratings.column("annotation_id").to_pylist() == ["ls-12"]
    assert ratings.column("annotated_at")[0].as_py().isoformat().startswith("2026-01-01T10:00:00")


def test_timestamps_with_offsets_and_fractions_parse_to_utc():
    times = LP.parse_timestamps(["2026-03-01T10:00:00.123456Z", "2026-03-01T12:00:00+02:00", None, "not a time"])
    assert [None if t is None or t != t else t.isoformat() for t in times] == ["2026-03-01T10:00:00.123456+00:00", "2026-03-01T10:00:00+00:00", None, None]


def test_an_export_of_another_project_is_refused_and_nothing_changes(dataset, tmp_path):
    good = write_export(tmp_path / "good.json", [task(1, {"pair_id": "pair-a"}, ann(11, 2, number(0.4)))])
    mpd.import_annotations(dataset, good)
    before = {p.name: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    foreign = write_export(tmp_path / "foreign.json", [task(1, {"pair_id": "pair-zzz"}, ann(21, 2, number(0.4))), task(2, {"pair_id": "pair-yyy"})])
    with pytest.raises(LP.ExportFormatError, match="none of its 2 tasks has one of .* pair ids"):
        mpd.import_annotations(dataset, foreign)
    after = {p.name: p.read_bytes() for p in dataset.rglob("*") if p.is_file() and p.name != ".synesthesia.lock"}
    assert after == {k: v for k, v in before.items() if k != ".synesthesia.lock"}
    result = CliRunner().invoke(app, ["annotate", "import", "--dataset", str(dataset), "--export", str(foreign)])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output


def test_importing_into_a_folder_that_is_not_an_mpd_folder_is_one_error_line(tmp_path):
    export = write_export(tmp_path / "e.json", [task(1, {"pair_id": "pair-a"}, ann(11, 2, number(0.4)))])
    result = CliRunner().invoke(app, ["annotate", "import", "--dataset", str(tmp_path / "missing"), "--export", str(export)])
    assert result.exit_code == 2 and "not a built MPD folder" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "missing").exists()


def test_a_deeply_nested_file_is_a_format_error_not_a_recursion_crash(dataset, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    with pytest.raises(LP.ExportFormatError, match="not valid JSON"):
        mpd.import_annotations(dataset, deep)
    result = CliRunner().invoke(app, ["annotate", "import", "--dataset", str(dataset), "--export", str(deep)])
    assert result.exit_code == 2 and "Traceback" not in result.output
