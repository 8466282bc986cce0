"""The CLI's shared option parsing (a merge once left two `_options` that disagreed)."""

import pyarrow as pa
import pytest
import typer

from synesthesia.cli import app, build_artsound, checks
from synesthesia.cli.common import ML_INSTALL, TRACEBACK_ENV, options
from synesthesia.recipes.artsound import make_config


def test_key_value_options_parse_to_a_dict_with_typed_values():
    assert options(["tensor_parallel_size=2", "dtype=bfloat16", "flag=true", "x=0.5", "none=none"]) == {
        "tensor_parallel_size": 2, "dtype": "bfloat16", "flag": True, "x": 0.5, "none": None,
    }
    with pytest.raises(typer.BadParameter):
        options(["no-equals-sign"])


def test_engine_options_reach_the_captioning_config():
    config = make_config("vllm", engine=options(["tensor_parallel_size=2", "dtype=bfloat16"]))
    assert dict(config.image_captioner.engine) == {"tensor_parallel_size": 2, "dtype": "bfloat16"}


def test_embedder_options_reach_the_pairing_config():
    config = build_artsound.artsound_pairing_config(build_artsound.EmbedderName.clip, build_artsound.PairingMethod.greedy, build_artsound.ApproachName.image_audiocaption, None, ["device=cuda", "batch_size=64"])
    assert dict(config.embedder_options) == {"device": "cuda", "batch_size": 64}


def test_per_model_engine_options_and_endpoints_override_the_shared_ones():
    config = make_config(
        "openai",
        engine={"dtype": "bfloat16", "gpu_memory_utilization": 0.9},
        runtime={"base_url": "http://shared/v1", "concurrency": 8},
        image_engine=options(["gpu_memory_utilization=0.35"]),
        fusion_engine=options(["gpu_memory_utilization=0.55"]),
        image_runtime={"base_url": "http://llava:8001/v1"},
    )
    image, fusion = config.image_captioner, config.fusion
    assert dict(image.engine) == {"dtype": "bfloat16", "gpu_memory_utilization": 0.35}
    assert dict(fusion.engine) == {"dtype": "bfloat16", "gpu_memory_utilization": 0.55}
    assert dict(image.runtime) == {"base_url": "http://llava:8001/v1", "concurrency": 8}
    assert dict(fusion.runtime) == {"base_url": "http://shared/v1", "concurrency": 8}  # no override: the shared endpoint
    from synesthesia.stages.captioning.openai_backend import OpenAIGenerator

    assert OpenAIGenerator(image).base_url == "http://llava:8001/v1" and OpenAIGenerator(fusion).base_url == "http://shared/v1"


@pytest.mark.parametrize(
    "args, missing",
    [
        (["train", "mpjudge", "--data", "x", "--out", "y"], "torch"),
        (["eval", "mpjudge", "--checkpoint", "x", "--data", "y"], "torch"),
        (["judge", "--checkpoint", "x", "--painting", "p.png", "--music", "m.wav"], "torch"),
        (["train", "art2mus", "--data", "x", "--out", "y"], "diffusers"),
        (["train", "musipainter", "--data", "x", "--out", "y"], "diffusers"),
    ],
)
def test_model_commands_say_what_to_install_when_a_dependency_is_missing(monkeypatch, args, missing):
    import importlib.util

    from typer.testing import CliRunner

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name == missing else real(name, *a, **k))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"needs {missing}" in result.output and ML_INSTALL in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_model_commands_report_bad_input_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    runner = CliRunner()
    missing_ckpt = runner.invoke(app, ["eval", "mpjudge", "--checkpoint", str(tmp_path / "nope"), "--data", str(tmp_path)])
    assert missing_ckpt.exit_code == 2 and "error: no checkpoint at" in missing_ckpt.output and "Traceback" not in missing_ckpt.output
    (tmp_path / "empty").mkdir()
    no_data = runner.invoke(app, ["train", "mpjudge", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run"), "--config", "tiny"])
    assert no_data.exit_code == 2 and "error:" in no_data.output and "build the MPD folder first" in no_data.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  learning_rate_typo: 0.1\n")
    bad_config = runner.invoke(app, ["train", "mpjudge", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run"), "--config", str(bad)])
    assert bad_config.exit_code == 2 and "learning_rate_typo" in bad_config.output
    monkeypatch.setenv(TRACEBACK_ENV, "1")  # for debugging: the exception itself
    raised = runner.invoke(app, ["eval", "mpjudge", "--checkpoint", str(tmp_path / "nope"), "--data", str(tmp_path)])
    assert isinstance(raised.exception, FileNotFoundError)


def test_every_build_command_names_its_inputs_alike_and_hides_the_old_spellings():
    """`--paintings`, `--music`, `--out`, `--shard-size` and the runner options
    in every build command; the old spellings are accepted but not shown."""
    import click

    group = typer.main.get_command(app).commands["build"]
    for name in ("mpd", "artsound", "museart"):
        params = {opt: p for p in group.commands[name].params for opt in p.opts}
        for option in ("--paintings", "--music", "--out", "--shard-size", "--workers", "--runner", "--dask-address"):
            assert option in params and not params[option].hidden, (name, option)
    for name, old in (("mpd", "--artworks"), ("mpd", "--images"), ("mpd", "--audio"), ("artsound", "--artworks"), ("artsound", "--audio"),
                      ("museart", "--images"), ("museart", "--audio"), ("museart", "--split"), ("artsound-pairs", "--dataset")):
        params = {opt: p for p in group.commands[name].params for opt in p.opts}
        assert params[old].hidden, (name, old)
        help_text = group.commands[name].get_help(click.Context(group.commands[name]))
        assert f"{old} " not in help_text, (name, old)


def test_an_old_spelling_reaches_the_command_and_two_spellings_are_refused(tmp_path):
    from typer.testing import CliRunner

    runner = CliRunner()
    # artsound-pairs checks its folder before any work: the old --dataset got through
    old = runner.invoke(app, ["build", "artsound-pairs", "--dataset", str(tmp_path / "absent"), "--embedder", "minilm-text", "--approach", "caption-caption"])
    assert old.exit_code == 2 and "absent: no such folder" in old.output, old.output
    both = runner.invoke(app, ["build", "artsound-pairs", "--out", str(tmp_path), "--dataset", str(tmp_path)])
    assert both.exit_code == 2 and "--out and --dataset name the same option" in both.output
    missing = runner.invoke(app, ["build", "mpd", "--music", str(tmp_path), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "missing option --paintings" in missing.output


def test_version():
    from typer.testing import CliRunner

    from synesthesia import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"synesthesia {__version__}"


def test_every_command_has_a_worked_example_in_its_help():
    def commands(group, path=()):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from commands(cmd, path + (name,))
            else:
                yield path + (name,), cmd

    found = list(commands(typer.main.get_command(app)))
    assert len(found) >= 20
    for path, cmd in found:
        assert f"Example: synesthesia {' '.join(path)}" in (cmd.help or "") or "Example: LABEL_STUDIO_URL" in (cmd.help or ""), path


@pytest.mark.parametrize("dataset", ["artsound", "museart", None])
@pytest.mark.parametrize("command", [["annotate", "status"], ["annotate", "export", "--kind", "ratings", "--out", "tasks.json"]])
def test_annotation_commands_on_a_folder_that_is_not_mpd_say_so_in_one_line(tmp_path, monkeypatch, dataset, command):
    """An ArtSound or Museart folder (its dataset.json names it; both have a
    pairs.parquet) or a plain folder: one error line, exit 2, nothing written."""
    from typer.testing import CliRunner

    from synesthesia.datasets import io as dio

    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "folder"
    folder.mkdir()
    if dataset:
        dio.write_manifest(folder, {"dataset": dataset, "media_roots": {}, "config": {}})
        dio.write_table(pa.table({"pair_id": ["p0"]}), folder / "pairs.parquet")
    result = CliRunner().invoke(app, [*command, "--dataset", str(folder)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()  # checked before any work: the error line alone
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in result.output, result.output
    if dataset:
        assert f"holds {'an' if dataset == 'artsound' else 'a'} {checks.DATASET_NAMES[dataset]} dataset; this command works on MPD folders" in lines[0], lines[0]
    else:
        assert "not a dataset folder (no dataset.json" in lines[0], lines[0]
    assert not (tmp_path / "tasks.json").exists() and not (folder / "labelstudio").exists()


@pytest.mark.parametrize("module", ["synesthesia", "synesthesia.cli"])
def test_python_dash_m_runs_the_same_command(module):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", module, "build", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Usage: synesthesia build" in result.stdout and "mpd" in result.stdout and "artsound" in result.stdout
