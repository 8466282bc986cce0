"""The CLI's shared option parsing (a merge once left two `_options` that disagreed)."""

import pytest
import typer

from synesthesia.cli import build_artsound
from synesthesia.cli.common import options
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
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 2, result.output
    assert f"needs {missing}" in result.output and cli.ML_INSTALL in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_model_commands_report_bad_input_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
    runner = CliRunner()
    missing_ckpt = runner.invoke(cli.app, ["eval", "mpjudge", "--checkpoint", str(tmp_path / "nope"), "--data", str(tmp_path)])
    assert missing_ckpt.exit_code == 2 and "error: no checkpoint at" in missing_ckpt.output and "Traceback" not in missing_ckpt.output
    (tmp_path / "empty").mkdir()
    no_data = runner.invoke(cli.app, ["train", "mpjudge", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run"), "--config", "tiny"])
    assert no_data.exit_code == 2 and "error:" in no_data.output and "build the MPD folder first" in no_data.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  learning_rate_typo: 0.1\n")
    bad_config = runner.invoke(cli.app, ["train", "mpjudge", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run"), "--config", str(bad)])
    assert bad_config.exit_code == 2 and "learning_rate_typo" in bad_config.output
    monkeypatch.setenv(cli.TRACEBACK_ENV, "1")  # for debugging: the exception itself
    raised = runner.invoke(cli.app, ["eval", "mpjudge", "--checkpoint", str(tmp_path / "nope"), "--data", str(tmp_path)])
    assert isinstance(raised.exception, FileNotFoundError)
