"""The CLI's shared option parsing (a merge once left two `_options` that disagreed)."""

import pytest
import typer

from synesthesia import cli
from synesthesia.datasets.artsound import make_config


def test_key_value_options_parse_to_a_dict_with_typed_values():
    assert cli._options(["tensor_parallel_size=2", "dtype=bfloat16", "flag=true", "x=0.5", "none=none"]) == {
        "tensor_parallel_size": 2, "dtype": "bfloat16", "flag": True, "x": 0.5, "none": None,
    }
    with pytest.raises(typer.BadParameter):
        cli._options(["no-equals-sign"])


def test_engine_options_reach_the_captioning_config():
    config = make_config("vllm", engine=cli._options(["tensor_parallel_size=2", "dtype=bfloat16"]))
    assert dict(config.image_captioner.engine) == {"tensor_parallel_size": 2, "dtype": "bfloat16"}


def test_embedder_options_reach_the_pairing_config():
    config = cli.artsound_pairing_config(cli.EmbedderName.clip, cli.PairingMethod.greedy, cli.ApproachName.image_audiocaption, None, ["device=cuda", "batch_size=64"])
    assert dict(config.embedder_options) == {"device": "cuda", "batch_size": 64}
