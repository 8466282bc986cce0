"""Run-config files: `--config run.yaml` (keys = option names, the command
line wins), the resolved options recorded in dataset.json, and
`--config DIR/dataset.json` building the same dataset again."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from support.cli import assert_one_error_line, run_cli

from synesthesia.cli import app
from synesthesia.datasets.compare import compare_folders


def test_a_run_config_file_fills_the_options_and_dataset_json_repeats_the_build(prefect_api, tiny_corpus, tmp_path):
    out = tmp_path / "run" / "mpd"
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(yaml.safe_dump({
        "paintings": str(tiny_corpus["paintings"]), "music": str(tiny_corpus["music"]), "out": str(out),
        "pairs": 40, "seed": 1, "ambiguity-band": [0.3, 0.7], "ratings_per_pair": 3, "shard-size": 6, "runner": "threads",
    }))
    result = CliRunner().invoke(app, ["build", "mpd", "--config", str(run_yaml), "--seed", "9"])
    assert result.exit_code == 0, result.output[-3000:]
    manifest = json.loads((out / "dataset.json").read_text())
    config = manifest["config"]
    assert config["n_pairs"] == 40 and config["seed"] == 9  # from the file; the command line wins
    assert config["annotation"]["aggregation"]["band"] == [0.3, 0.7] and config["annotation"]["raters_per_pair"] == 3
    recorded = manifest["run_config"]["build mpd"]
    assert recorded["pairs"] == 40 and recorded["seed"] == 9 and recorded["shard-size"] == 6 and recorded["runner"] == "threads"
    assert recorded["paintings"] == str(tiny_corpus["paintings"].resolve()) and recorded["out"] == str(out.resolve())
    assert recorded["raters"] == 35  # defaults are recorded too: the file is the whole run

    first = out.rename(tmp_path / "first")  # the rebuild writes the recorded --out (media links are relative to it)
    result = CliRunner().invoke(app, ["build", "mpd", "--config", str(first / "dataset.json")])
    assert result.exit_code == 0, result.output[-3000:]
    assert compare_folders(first, out) == []  # every table, and dataset.json with its run config
    assert json.loads((out / "dataset.json").read_text())["run_config"] == manifest["run_config"]


def test_a_run_config_that_cannot_be_used_is_one_error_line(tmp_path, tiny_corpus):
    (tmp_path / "typo.yaml").write_text("pairs: 10\nshard_sise: 5\n")
    (tmp_path / "list.yaml").write_text("- pairs\n")
    (tmp_path / "bad.yaml").write_text("pairs: [\n")
    built = tmp_path / "built"
    built.mkdir()
    (built / "dataset.json").write_text(json.dumps({"dataset": "mpd", "run_config": {"build mpd": {"pairs": 10}}}))
    old = tmp_path / "old"
    old.mkdir()
    (old / "dataset.json").write_text(json.dumps({"dataset": "mpd", "config": {}}))
    (tmp_path / "annotate.yaml").write_text(yaml.safe_dump({"dataset": str(tmp_path / "not-built"), "shard-size": 10, "runner": "threads"}))
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump({"out": str(tmp_path / "typo.yaml"), "workers": 1}))
    cases = {
        "`build mpd` has no option --shard-sise": ["build", "mpd", "--config", "typo.yaml"],
        "list.yaml: expected a mapping of option names to values": ["build", "mpd", "--config", "list.yaml"],
        "bad.yaml: not valid YAML": ["build", "mpd", "--config", "bad.yaml"],
        "missing.yaml: No such file or directory": ["build", "mpd", "--config", "missing.yaml"],
        "no run config of `build museart` in it (it has: build mpd)": ["build", "museart", "--config", "built"],
        "this folder was built before run configs were recorded": ["build", "mpd", "--config", "old/dataset.json"],
        # annotate run and demo read the file too: the error names the value the file gave
        f"--dataset {tmp_path / 'not-built'}: no such folder": ["annotate", "run", "--config", "annotate.yaml"],
        f"--out {tmp_path / 'typo.yaml'}: is a file, not a folder": ["demo", "--config", "demo.yaml"],
    }
    for (expected, args), result in zip(cases.items(), run_cli(list(cases.values()), cwd=tmp_path)):
        assert_one_error_line(result, expected, args)
