"""A crafted checkpoint runs nothing: every loader reads weights only and
refuses a file that needs pickle (issue: `torch.load(weights_only=False)`
ran a shell command through `judge`, `eval mpjudge`, `generate musipainter`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from synesthesia.cli import app
from synesthesia.models import checkpoints
from synesthesia.models.mpjudge import checkpoint as mpjudge_checkpoint
from synesthesia.models.musipainter import pipeline as musipainter_pipeline


class Payload:
    """Unpickling this runs ``touch MARKER`` (what an attacker's file would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def crafted(path: Path, marker: Path, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": fmt, "model": Payload(marker)} if fmt else {"step": Payload(marker)}, path)
    return path


def test_the_payload_is_real(tmp_path):
    """Loaded the old way, the crafted file does run its command: the tests below would notice."""
    marker = tmp_path / "pwned"
    path = crafted(tmp_path / "x.pt", marker, mpjudge_checkpoint.FORMAT)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize(
    "load, fmt",
    [
        (mpjudge_checkpoint.load, mpjudge_checkpoint.FORMAT),
        (musipainter_pipeline.load_checkpoint, musipainter_pipeline.FORMAT),
        (checkpoints.load_state, None),  # Art2Mus's train_state.pt on resume
    ],
)
def test_every_loader_refuses_a_file_that_needs_pickle(tmp_path, load, fmt):
    marker = tmp_path / "pwned"
    path = crafted(tmp_path / "ckpt.pt", marker, fmt)
    with pytest.raises(ValueError, match="refused: loading it would need Python's pickle"):
        load(path)
    assert not marker.exists()


def test_no_loader_unpickles_freely():
    src = Path(__file__).resolve().parents[2] / "src"
    offenders = [str(p.relative_to(src)) for p in src.rglob("*.py") if re.search(r"weights_only\s*=\s*False", p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_what_we_write_loads_weights_only(tmp_path):
    state = {"model": {"w": torch.ones(2)}, "history": [{"loss": np.float32(0.5), "epoch": np.int64(1)}], "arr": np.arange(3), "path": tmp_path}
    checkpoints.save_state(state, tmp_path / "s.pt")
    loaded = torch.load(tmp_path / "s.pt", weights_only=True)
    assert loaded["history"] == [{"loss": 0.5, "epoch": 1}] and torch.equal(loaded["arr"], torch.arange(3)) and loaded["path"] == str(tmp_path)


@pytest.mark.parametrize(
    "args",
    [
        ["judge", "--checkpoint", "{ckpt}", "--painting", "{image}", "--music", "{audio}"],
        ["eval", "mpjudge", "--checkpoint", "{ckpt}", "--data", "{tmp}"],
        ["generate", "musipainter", "--checkpoint", "{mp_ckpt}", "--audio", "{audio}", "--out", "{tmp}/grid.png"],
    ],
    # `eval musipainter` and the trainers' resume read their data first, then the
    # same loaders as these (tested above)
    ids=["judge", "eval-mpjudge", "generate-musipainter"],
)
def test_commands_that_load_a_checkpoint_refuse_it_and_run_nothing(tmp_path, args):
    import soundfile as sf
    from PIL import Image

    marker = tmp_path / "pwned"
    paths = {
        "ckpt": crafted(tmp_path / "mpjudge.pt", marker, mpjudge_checkpoint.FORMAT),
        "mp_ckpt": crafted(tmp_path / "musipainter.pt", marker, musipainter_pipeline.FORMAT),
        "image": tmp_path / "p.png",
        "audio": tmp_path / "a.wav",
        "tmp": tmp_path,
    }
    Image.new("RGB", (32, 32)).save(paths["image"])
    sf.write(paths["audio"], np.zeros(16000, np.float32), 16000)
    result = CliRunner().invoke(app, [a.format(**paths) for a in args])
    assert result.exit_code == 2, result.output
    assert "refused: loading it would need Python's pickle" in result.output
    assert not marker.exists()
