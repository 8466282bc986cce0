"""The trainers' run tracker: TensorBoard event files read back with
TensorBoard's own reader, a resumed run continuing the same curves, and W&B
(offline) keeping one run id across a resume."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from support.tensorboard import read_events, scalars

from synesthesia.models.tracking import WANDB_ID_FILE, RunTracker, TrackerUnavailable, parse_trackers


def test_scalars_images_and_audio_reach_tensorboard(tmp_path):
    with RunTracker(tmp_path) as tracker:
        tracker.scalars({"loss": 0.5, "lr": 1e-4, "skipped": float("nan"), "none": None}, step=1, prefix="train")
        tracker.scalars({"loss": 0.25}, step=2, prefix="train")
        tracker.images("samples", [Image.new("RGB", (8, 6), (255, 0, 0)), np.zeros((4, 5, 3), np.uint8)], step=2)
        tracker.audio("clips", [np.sin(np.linspace(0, 100, 1600)), np.zeros(800)], sample_rate=16_000, step=2)
    curves = scalars(tmp_path)
    assert curves["train/loss"] == [(1, 0.5), (2, 0.25)]
    assert [s for s, _ in curves["train/lr"]] == [1] and "train/skipped" not in curves and "train/none" not in curves
    events = read_events(tmp_path)
    [image] = events.Images("samples")
    assert image.step == 2 and (image.width, image.height) == (13, 6)  # side by side, padded to the tallest
    audio = {tag: events.Audio(tag) for tag in events.Tags()["audio"]}
    assert sorted(audio) == ["clips/0", "clips/1"] and audio["clips/0"][0].sample_rate == 16_000


def test_a_resumed_run_continues_the_same_curve_without_duplicates(tmp_path):
    with RunTracker(tmp_path) as first:  # logs up to step 10, "crashes" after a checkpoint at step 5
        for step in range(1, 11):
            first.scalars({"loss": 100.0 + step}, step, prefix="train")
    with RunTracker(tmp_path, resume_step=6) as resumed:  # resumes from the checkpoint: steps 6.. again
        for step in range(6, 13):
            resumed.scalars({"loss": 200.0 + step}, step, prefix="train")
    curve = scalars(tmp_path)["train/loss"]
    assert [s for s, _ in curve] == list(range(1, 13))  # one point per step
    assert dict(curve)[5] == 105.0 and dict(curve)[6] == 206.0 and dict(curve)[10] == 210.0


def test_tracker_names_are_checked():
    assert parse_trackers(None) == ("tensorboard",)
    assert parse_trackers("tensorboard, wandb") == ("tensorboard", "wandb")
    assert parse_trackers("none") == ()
    with pytest.raises(ValueError, match="unknown tracker"):
        parse_trackers("mlflow")
    with pytest.raises(ValueError, match="cannot be combined"):
        parse_trackers("none,wandb")


def test_disabled_tracker_writes_nothing(tmp_path):
    with RunTracker(tmp_path, enabled=False) as tracker:  # a non-main DDP rank
        tracker.scalars({"loss": 1.0}, 1)
        assert not tracker.active
    assert not (tmp_path / "tensorboard").exists()


def test_wandb_offline_keeps_one_run_across_a_resume(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="the wandb package is in the dev extra")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    with RunTracker(tmp_path, "wandb", config={"lr": 1e-4}) as tracker:
        tracker.scalars({"loss_first_run": 1.0}, 1, prefix="train")
    run_id = (tmp_path / WANDB_ID_FILE).read_text().strip()
    with RunTracker(tmp_path, "wandb", resume_step=2) as tracker:
        tracker.scalars({"loss_second_run": 0.5}, 2, prefix="train")
    assert (tmp_path / WANDB_ID_FILE).read_text().strip() == run_id
    logs = sorted((tmp_path / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"))
    assert len(logs) == 2  # both sessions wrote under the same run id
    assert b"train/loss_first_run" in logs[0].read_bytes() and b"train/loss_second_run" in logs[1].read_bytes()


def test_missing_tracker_package_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_wandb(name, *args, **kwargs):
        if name == "wandb":
            raise ImportError("no wandb here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    with pytest.raises(TrackerUnavailable, match="pip install wandb"):
        RunTracker(tmp_path, "wandb")
