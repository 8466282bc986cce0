"""MPJudge on a real (tiny) MPD folder: reading the annotation tables, the
media caches, the epoch plan, overfitting a handful of pairs, resuming from a
checkpoint at the same step, two-process DDP on CPU, and the CLI end to end
(train → eval → judge)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from support.mpjudge import write_synthetic_annotations
from support.tensorboard import scalars
from synesthesia.datasets import io as dio
from synesthesia.recipes import mpd as MA
from synesthesia.datasets import schema as S
from synesthesia.recipes.mpd import MPDConfig
from synesthesia.datasets.media import load_rgb
from synesthesia.datasets.readers.mpd import MPDMedia, read_preference_pairs, read_scored_pairs
from synesthesia.flows.runner import RunnerConfig
from synesthesia.flows.demo import demo_mpd
from synesthesia.flows.mpd import build_mpd
from synesthesia.models.mpjudge import checkpoint as ckpt
from synesthesia.models.mpjudge.config import load_config
from synesthesia.models.mpjudge.model import MPJudge
from synesthesia.models.mpjudge.data import epoch_plan
from synesthesia.models.mpjudge.train import train
from synesthesia.stages.audio import read_mels

TINY = load_config("tiny")


def _copy_mpd(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_work"))
    return dst


@pytest.fixture(scope="module")
def built_mpd(prefect_api, tiny_corpus, tmp_path_factory) -> Path:
    """A tiny MPD folder from the real build flow (not annotated)."""
    out = tmp_path_factory.mktemp("mpd")
    build_mpd(tiny_corpus["paintings"], tiny_corpus["music"], out, MPDConfig(n_pairs=80, seed=3), shard_size=6, runner=RunnerConfig("threads", 2))
    return out


#: The demo's MPD at test size: pairs and seed for ``demo_mpd``.
DEMO_TEST_PAIRS, DEMO_TEST_SEED = 120, 5


@pytest.fixture(scope="module")
def annotated_mpd(prefect_api, tiny_corpus, tmp_path_factory) -> Path:
    """The demo's MPD output (``flows.demo.demo_mpd``, what `synesthesia demo`
    writes to OUT/mpd), on the tiny corpus: built, then annotated by the real
    annotation phases with simulated raters (ratings -> trimmed-mean scores,
    votes -> consensus preference pairs)."""
    out = tmp_path_factory.mktemp("demo") / "mpd"
    summary = demo_mpd(tiny_corpus, out, n_pairs=DEMO_TEST_PAIRS, seed=DEMO_TEST_SEED, runner=RunnerConfig("threads", 2))
    assert summary["annotation"]["status"]["phase"] == MA.COMPLETE  # annotated through consensus
    return out


@pytest.fixture(scope="module")
def handful_mpd(built_mpd, tmp_path_factory) -> Path:
    """The MPD folder with only the pairs of one train painting scored (and
    the preferences among them): a handful of examples to overfit."""
    folder = _copy_mpd(built_mpd, tmp_path_factory.mktemp("handful") / "mpd")
    pairs = dio.read_table(folder / "pairs.parquet", S.MPD_PAIRS).to_pylist()
    train_paintings = sorted(p["painting_id"] for p in pairs if p["split"] == "train")
    painting = max(sorted(set(train_paintings)), key=train_paintings.count)  # the one with the most pairs
    counts = write_synthetic_annotations(folder, only_pairs=[p["pair_id"] for p in pairs if p["painting_id"] == painting])
    assert counts["scores"] >= 4 and counts["preferences"] >= 1
    return folder


def _quiet(config, **overrides):
    return config.replace(progress=False, **overrides)


# --- reading the annotated folder -------------------------------------------------------------

def test_reads_scored_pairs_and_preferences_by_split(annotated_mpd):
    pairs = dio.read_table(annotated_mpd / "pairs.parquet", S.MPD_PAIRS)
    scores = dio.read_table(annotated_mpd / "scores.parquet", S.MPD_SCORES)
    prefs = dio.read_table(annotated_mpd / "preference_pairs.parquet", S.MPD_PREFERENCE_PAIRS)
    score_of = dict(zip(scores["pair_id"].to_pylist(), scores["score"].to_pylist()))
    total = 0
    for split in ("train", "val", "test"):
        table = read_scored_pairs(annotated_mpd, split)
        assert set(table["split"].to_pylist()) <= {split}
        expected = [p for p, s in zip(pairs["pair_id"].to_pylist(), pairs["split"].to_pylist()) if s == split and p in score_of]
        assert sorted(table["pair_id"].to_pylist()) == sorted(expected)
        assert all(score_of[p] == s for p, s in zip(table["pair_id"].to_pylist(), table["score"].to_pylist()))
        total += table.num_rows
        assert read_preference_pairs(annotated_mpd, split).num_rows == sum(1 for s in prefs["split"].to_pylist() if s == split)
    assert total == scores.num_rows
    assert read_scored_pairs(annotated_mpd, "train").num_rows > 0 and read_preference_pairs(annotated_mpd, "train").num_rows > 0


def test_inconsistent_annotation_tables_stop_with_a_clear_error(annotated_mpd, tmp_path):
    folder = _copy_mpd(annotated_mpd, tmp_path / "mpd")
    good_scores = dio.read_table(folder / "scores.parquet", S.MPD_SCORES)
    rows = good_scores.to_pylist()

    def with_scores(new_rows):
        dio.write_table(S.from_rows(new_rows, S.MPD_SCORES), folder / "scores.parquet", S.MPD_SCORES)

    with_scores(rows + [{**rows[0], "pair_id": "pair-unknown"}])
    with pytest.raises(ValueError, match="pair-unknown"):
        read_scored_pairs(folder)
    with_scores(rows + [rows[0]])
    with pytest.raises(ValueError, match="duplicate"):
        read_scored_pairs(folder)
    with_scores([{**rows[0], "score": 1.5}] + rows[1:])
    with pytest.raises(ValueError, match="out-of-range"):
        read_scored_pairs(folder)
    (folder / "scores.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="annotation"):
        read_scored_pairs(folder)

    prefs = dio.read_table(folder / "preference_pairs.parquet", S.MPD_PREFERENCE_PAIRS).to_pylist()
    for bad, message in (({"kind": "which_is_louder"}, "unknown preference kinds"), ({"chosen_id": "img-nowhere"}, "not in this MPD folder")):
        dio.write_table(S.from_rows([{**prefs[0], **bad}] + prefs[1:], S.MPD_PREFERENCE_PAIRS), folder / "preference_pairs.parquet", S.MPD_PREFERENCE_PAIRS)
        with pytest.raises(ValueError, match=message):
            read_preference_pairs(folder)


def test_media_caches_hold_every_mel_and_resized_painting(annotated_mpd, tmp_path):
    media = MPDMedia.build(annotated_mpd, 32, cache_dir=tmp_path)
    ids, mels = read_mels(annotated_mpd / "mels")
    assert media.clip_ids == ids
    rows = np.arange(len(ids))[::-1]  # any order comes back in that order
    assert np.array_equal(media.mels(rows), mels[rows].astype(np.float16))
    paintings = dio.read_table(annotated_mpd / "paintings.parquet", S.MPD_PAINTINGS)
    root = Path(dio.read_manifest(annotated_mpd)["media_roots"]["paintings"])
    assert media.painting_ids == paintings["painting_id"].to_pylist()
    for i in (0, len(media.painting_ids) - 1):
        assert np.array_equal(media.paintings(np.array([i]))[0], load_rgb(root / paintings["path"][i].as_py(), 32))
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.npy")}
    assert len(stamps) == 2
    again = MPDMedia.build(annotated_mpd, 32, cache_dir=tmp_path)  # reused, not rebuilt
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.npy")} == stamps
    clone = pickle.loads(pickle.dumps(again))  # what a DataLoader worker gets
    assert np.array_equal(clone.mels(np.array([0])), media.mels(np.array([0])))
    assert not list(tmp_path.glob("*.tmp"))


def test_preference_rows_put_query_and_candidates_on_the_right_side():
    """clips_given_painting: the painting is the query, the clips are chosen /
    rejected; paintings_given_clip: the reverse."""
    from types import SimpleNamespace

    from synesthesia.models.mpjudge.evaluate import preference_rows

    paintings, clips = ["p0", "p1", "p2"], ["c0", "c1", "c2"]
    media = SimpleNamespace(rows_of=lambda ps, cs: (np.array([paintings.index(p) for p in ps]), np.array([clips.index(c) for c in cs])))
    prefs = pa.table({
        "kind": ["clips_given_painting", "paintings_given_clip"],
        "query_id": ["p0", "c0"],
        "chosen_id": ["c1", "p2"],
        "rejected_id": ["c2", "p1"],
    })
    chosen_p, chosen_c, rejected_p, rejected_c = preference_rows(media, prefs)
    assert chosen_p.tolist() == [0, 2] and chosen_c.tolist() == [1, 0]
    assert rejected_p.tolist() == [0, 1] and rejected_c.tolist() == [2, 0]


def test_device_names_resolve_per_process(monkeypatch):
    from synesthesia.models.devices import resolve_device

    assert resolve_device("cuda", 3) == torch.device("cuda", 3)  # a bare "cuda" is this process's GPU under torchrun
    assert resolve_device("cuda:1", 3) == torch.device("cuda", 1)
    assert resolve_device("cpu", 3) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto", 2) == torch.device("cuda", 2)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto", 2) == torch.device("cpu")


def test_epoch_plan_uses_every_item_once_per_epoch_on_every_rank_count():
    for world in (1, 2, 3):
        plans = [epoch_plan(10, 7, epoch=2, seed=0, batch_size=4, rank=r, world=world) for r in range(world)]
        assert len({len(p) for p in plans}) == 1  # same number of steps on every rank (DDP)
        scored = np.concatenate([s for plan in plans for s, _ in plan])
        prefs = np.concatenate([p for plan in plans for _, p in plan])
        assert set(scored.tolist()) == set(range(10)) and len(scored) == math.ceil(10 / world) * world
        assert set(prefs.tolist()) == set(range(7))
        assert all(len(s) <= max(1, 4 // world) for plan in plans for s, _ in plan)
    same = epoch_plan(10, 7, 2, 0, 4)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(same, epoch_plan(10, 7, 2, 0, 4)))
    assert not all(np.array_equal(a, b) for (a, _), (b, _) in zip(same, epoch_plan(10, 7, 3, 0, 4)))


# --- training -----------------------------------------------------------------------------

def _step_batch(cfg, n_scored: int, n_pref: int, seed: int = 0) -> dict:
    g = np.random.default_rng(seed)
    n = n_scored + 2 * n_pref
    targets = g.uniform(0, 1, n).astype(np.float32)
    targets[n_scored + 1 :: 2] = np.nan  # some preference candidates are not scored pairs
    return {
        "paintings": torch.from_numpy(g.integers(0, 256, (n, cfg.image_size, cfg.image_size, 3), dtype=np.uint8)),
        "mels": torch.from_numpy((g.standard_normal((n, cfg.n_mels, cfg.mel_frames)) * 15 - 40).astype(np.float16)),
        "targets": torch.from_numpy(targets),
        "n_scored": n_scored,
        "n_pref": n_pref,
    }


def test_gradient_accumulation_gives_the_gradients_of_the_whole_batch():
    from synesthesia.models.mpjudge.train import frozen_copy, training_step

    torch.manual_seed(0)
    model = MPJudge(TINY.model).eval()  # eval: batch norm uses fixed statistics, so micro-batches are exact
    reference = frozen_copy(model)
    with torch.no_grad():
        for p in model.parameters():  # move away from the reference so DPO has a gradient
            p.add_(torch.randn_like(p) * 0.01)
    batch = _step_batch(TINY.model, n_scored=7, n_pref=5)
    grads, losses = [], []
    for steps in (1, 3):
        model.zero_grad()
        loss, sums = training_step(model, reference, batch, dataclasses.replace(TINY.train, grad_accum_steps=steps), torch.device("cpu"))
        grads.append([p.grad.clone() for p in model.parameters()])
        losses.append((float(loss), sums))
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-5)
    assert torch.allclose(losses[0][1], losses[1][1], rtol=1e-5)
    for whole, accumulated in zip(*grads):
        assert torch.allclose(whole, accumulated, rtol=1e-4, atol=1e-7)
    assert float(losses[0][1][3]) > 0  # the DPO term took part


def test_dpo_reference_frozen_now_scores_like_the_policy_so_eq6_starts_at_log_2():
    from synesthesia.models.mpjudge.train import SUM_KEYS, frozen_copy, reference_scores, training_step
    from synesthesia.models.mpjudge.evaluate import to_model_inputs

    torch.manual_seed(0)
    model = MPJudge(TINY.model).train()
    batch = _step_batch(TINY.model, n_scored=7, n_pref=5, seed=1)
    images, mels = to_model_inputs(batch["paintings"], batch["mels"], torch.device("cpu"))
    with torch.no_grad():
        model(images[:3], mels[:3] + 20.0)  # running statistics that no batch below has (as after earlier epochs)
    reference = frozen_copy(model)
    assert not any(p.requires_grad for p in reference.parameters())
    frozen_state = {k: v.clone() for k, v in reference.state_dict().items()}
    assert all(torch.equal(frozen_state[k], v) for k, v in model.state_dict().items())  # the policy's weights and statistics, now

    # Same batch-norm mode as the policy, same scores: in eval mode (running statistics) ...
    model.eval()
    with torch.no_grad():
        assert torch.allclose(reference_scores(reference, images, mels, 7, training=False), model(images, mels)[7:], atol=1e-6)
    # ... and in train mode, where batch norm normalises over the whole micro-batch [scored | chosen | rejected].
    model.train()
    with torch.no_grad():
        policy = model(images, mels)
    assert torch.allclose(reference_scores(reference, images, mels, 7, training=True), policy[7:], atol=1e-6)
    assert torch.allclose(reference_scores(reference, images, mels, 0, training=True), policy, atol=1e-6)

    # So the trainer's first DPO step after freezing has margin 0: Eq. 6 gives log 2 on every item,
    # also when the step is cut into micro-batches (each is normalised on its own, by both models).
    for steps in (1, 3):
        model.zero_grad()
        _, sums = training_step(model, reference, batch, dataclasses.replace(TINY.train, grad_accum_steps=steps), torch.device("cpu"))
        totals = dict(zip(SUM_KEYS, sums.tolist()))
        assert totals["n_dpo"] == 5
        assert totals["dpo"] / totals["n_dpo"] == pytest.approx(math.log(2), abs=1e-5)
    # Frozen: no gradients, and its weights and running statistics never move (the policy's do).
    assert all(p.grad is None for p in reference.parameters())
    assert all(torch.equal(frozen_state[k], v) for k, v in reference.state_dict().items())
    assert not torch.equal(model.music.convs[1].running_mean, frozen_state["music.convs.1.running_mean"])


def test_bf16_autocast_path_trains_on_cpu(handful_mpd, tmp_path):
    config = _quiet(TINY, epochs=2, batch_size=64, dpo_start_epoch=0, eval_split="", amp="bf16")
    history = train(handful_mpd, tmp_path / "run", config, log=lambda msg: None)["history"]
    assert all(math.isfinite(r["train_loss"]) and math.isfinite(r["train_dpo"]) for r in history)
    state = ckpt.load(tmp_path / "run" / "model.pt")
    assert all(t.dtype == torch.float32 for t in state["model"].values() if t.is_floating_point())  # master weights stay fp32
    model, _ = ckpt.load_model(tmp_path / "run")
    images = torch.rand(2, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        score, maps = model(images, torch.randn(2, 128, 469) * 10 - 40, return_maps=True)
    assert score.dtype == torch.float32 and maps.dtype == torch.float32



#: The overfit test's promise: the total loss (MSE + 0.5 · DPO) of the last
#: epoch is at most this fraction of the first epoch's.
OVERFIT_LOSS_FACTOR = 10.0


def test_tiny_model_overfits_a_handful_of_pairs(handful_mpd, tmp_path):
    # One step per epoch over all of the handful; DPO from the start (the
    # reference is the initial weights).
    config = _quiet(TINY, epochs=20, batch_size=64, lr=2e-3, dpo_start_epoch=0, eval_split="")
    history = train(handful_mpd, tmp_path / "run", config, log=lambda msg: None)["history"]
    first, last = history[0], history[-1]
    print(f"\noverfit: loss {first['train_loss']:.4f} -> {last['train_loss']:.4f} ({first['train_loss'] / last['train_loss']:.0f}x) "
          f"mse {first['train_mse']:.4f} -> {last['train_mse']:.5f}, dpo {first['train_dpo']:.3f} -> {last['train_dpo']:.4f}")
    assert first["dpo_active"] and first["n_pref"] >= 1
    assert first["train_dpo"] == pytest.approx(math.log(2), abs=1e-5)  # f_θ = f_ref at the start (same batch norm)
    assert last["train_loss"] * OVERFIT_LOSS_FACTOR <= first["train_loss"]
    assert last["train_pref_acc"] == 1.0


def test_resume_continues_from_the_same_step(handful_mpd, annotated_mpd, tmp_path):
    # Two pairs per step, DPO (and its frozen reference) from epoch 2; the
    # first run stops one step into epoch 2.
    config = _quiet(TINY, epochs=3, batch_size=2, lr=1e-3, dpo_start_epoch=1, eval_split="")
    n_steps = math.ceil(read_scored_pairs(handful_mpd, "train").num_rows / 2)
    assert n_steps >= 2
    interrupted = tmp_path / "interrupted"
    first = train(handful_mpd, interrupted, config.replace(max_steps=n_steps + 1), log=lambda msg: None)
    assert not first["finished"] and first["global_step"] == n_steps + 1 and len(first["history"]) == 1
    state = ckpt.load(ckpt.latest(interrupted))
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (1, 1, n_steps + 1)
    assert state["reference"] is not None and not (interrupted / "model.pt").exists()
    messages = []
    resumed = train(handful_mpd, interrupted, config, log=messages.append)
    assert any("resuming" in m and f"step 1 of {n_steps}" in m and f"global step {n_steps + 1}" in m for m in messages)
    assert resumed["finished"] and resumed["global_step"] == 3 * n_steps
    straight = train(handful_mpd, tmp_path / "straight", config, log=lambda msg: None)
    a, b = ckpt.load(interrupted / "model.pt"), ckpt.load(tmp_path / "straight" / "model.pt")
    for name, tensor in b["model"].items():
        assert torch.allclose(a["model"][name].float(), tensor.float(), atol=1e-6), name
    for name, tensor in b["reference"].items():
        assert torch.equal(a["reference"][name], tensor), name
    rows = [json.loads(line) for line in (interrupted / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]  # no duplicated epoch after the resume
    for r, s in zip(rows, straight["history"]):
        assert r["train_loss"] == pytest.approx(s["train_loss"], rel=1e-5)
    # TensorBoard: the resumed run continues the same curves, one point per step, equal to the uninterrupted run's
    curves, straight_curves = scalars(interrupted), scalars(tmp_path / "straight")
    assert [s for s, _ in curves["train/loss"]] == list(range(1, 3 * n_steps + 1))
    assert [v for _, v in curves["train/loss"]] == pytest.approx([v for _, v in straight_curves["train/loss"]], rel=1e-5)
    assert [v for _, v in curves["train/lr"]] == pytest.approx([v for _, v in straight_curves["train/lr"]])
    assert all(v > 0 for _, v in curves["train/grad_norm"]) and all(v > 0 for _, v in curves["train/pairs_per_s"])
    assert [s for s, _ in curves["epoch/loss"]] == [n_steps, 2 * n_steps, 3 * n_steps]
    with pytest.raises(ValueError, match="other training settings"):
        train(handful_mpd, interrupted, config.replace(lr=5e-4), log=lambda msg: None)
    with pytest.raises(ValueError, match=r"other training settings \(optimizer\)"):  # e.g. a run from before `adam` became the default
        train(handful_mpd, interrupted, config.replace(optimizer="adamw"), log=lambda msg: None)
    with pytest.raises(ValueError, match="other training data"):
        train(annotated_mpd, interrupted, config, log=lambda msg: None)


def test_the_demo_writes_its_annotated_mpd_with_demo_mpd(tmp_path, monkeypatch):
    # `synesthesia demo --out OUT` (make demo: OUT = demo-output) puts its MPD in OUT/mpd via
    # demo_mpd, the function the annotated_mpd fixture above calls: the MPJudge tests train on
    # the demo's MPD output.
    from synesthesia.flows import demo

    calls = {}
    monkeypatch.setattr(demo, "make_corpus", lambda out, spec: {"paintings": "P", "music": "M"})
    monkeypatch.setattr(demo, "demo_mpd", lambda corpus, out, n_pairs, seed, runner: calls.update(mpd=(corpus, Path(out), n_pairs, seed)) or {})
    monkeypatch.setattr(demo, "build_artsound", lambda *args, **kwargs: {})
    monkeypatch.setattr(demo, "make_museart_corpus", lambda *args, **kwargs: {"images": "", "audio": "", "csv_dir": ""})
    monkeypatch.setattr(demo, "build_museart", lambda *args, **kwargs: {})
    demo.run_demo(tmp_path / "demo-output")
    assert calls["mpd"] == ({"paintings": "P", "music": "M"}, tmp_path / "demo-output" / "mpd", demo.DEMO_PAIRS, demo.CorpusSpec().seed)


# --- processes and the command line ------------------------------------------------------------

def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "synesthesia", *args]


def _run(args: list[str], timeout: int = 400) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def test_ddp_with_two_processes_on_cpu(annotated_mpd, tmp_path):
    run = tmp_path / "ddp"
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "synesthesia",
            "train", "mpjudge", "--data", str(annotated_mpd), "--out", str(run), "--config", "tiny", "--epochs", "2"]
    result = _run(args)
    assert "2 process(es) on cpu" in result.stderr
    assert "every replica ends with the same weights" in result.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and all(r["world_size"] == 2 for r in rows)
    assert (run / "model.pt").exists() and len(ckpt.step_checkpoints(run)) >= 1
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 1  # rank 0 alone logs


def test_cli_trains_evaluates_and_judges_end_to_end(annotated_mpd, tmp_path):
    run = tmp_path / "run"
    _run(_cli("train", "mpjudge", "--data", str(annotated_mpd), "--out", str(run), "--config", "tiny", "--epochs", "2"))
    metrics = (run / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 3 and metrics[0].startswith("epoch,global_step")
    curves = scalars(run)  # TensorBoard by default: validation SRCC/PLCC per epoch, beside the per-step losses
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for name in ("srcc", "plcc", "mae"):
        assert [v for _, v in curves[f"val/{name}"]] == pytest.approx([r[f"val_{name}"] for r in rows]), name
    assert [s for s, _ in curves["val/mae"]] == [r["global_step"] for r in rows]
    assert (run / "model.pt").exists() and (run / "config.yaml").exists()

    result = _run(_cli("eval", "mpjudge", "--checkpoint", str(run), "--data", str(annotated_mpd), "--split", "test"))
    assert "| Method | SRCC | PLCC | MAE | ACC |" in result.stdout
    assert re.search(r"\| Ours \| (-?[\d.]+|–) \| (-?[\d.]+|–) \| [\d.]+ \| [\d.]+ \|", result.stdout)
    report = json.loads((run / "eval-test.json").read_text())
    n_test = read_scored_pairs(annotated_mpd, "test").num_rows
    assert report["n"] == n_test > 0 and 0 <= report["mae"] <= 1 and 0 <= report["acc"] <= 1
    predictions = pq.read_table(run / "predictions-test.parquet")
    assert predictions.schema.names == S.MPJUDGE_PREDICTIONS.names and predictions.num_rows == n_test
    predicted = np.array(predictions["predicted"].to_pylist())
    assert ((predicted >= 0) & (predicted <= 1)).all()
    assert report["mae"] == pytest.approx(float(np.mean(np.abs(predicted - np.array(predictions["score"].to_pylist())))))
    # two checkpoints of one run, evaluated together: one file each, none overwritten
    _run(_cli("eval", "mpjudge", "--checkpoint", str(run / "model.pt"), "--checkpoint", str(run / "best.pt"), "--data", str(annotated_mpd)))
    for name in ("model", "best"):
        assert json.loads((run / f"eval-test-{name}.json").read_text())["checkpoint"] == str((run / f"{name}.pt").resolve())
        assert pq.read_table(run / f"predictions-test-{name}.parquet").num_rows == n_test

    paintings = dio.read_table(annotated_mpd / "paintings.parquet", S.MPD_PAINTINGS)
    tracks = dio.read_table(annotated_mpd / "tracks.parquet", S.MPD_TRACKS)
    roots = dio.read_manifest(annotated_mpd)["media_roots"]
    painting = Path(roots["paintings"]) / paintings["path"][0].as_py()
    music = Path(roots["music"]) / tracks["path"][0].as_py()
    maps = tmp_path / "maps.png"
    result = _run(_cli("judge", "--checkpoint", str(run / "model.pt"), "--painting", str(painting), "--music", str(music), "--maps", str(maps)))
    match = re.search(r"coherence: ([\d.]+)\s+\(mean of (\d+) clip", result.stdout)
    assert match and 0.0 <= float(match.group(1)) <= 1.0
    n_clips = int(tracks["duration_s"][0].as_py() * 16_000) // 240_000
    assert int(match.group(2)) == n_clips and len(re.findall(r"clip at", result.stdout)) == n_clips
    clip_scores = [float(s) for s in re.findall(r"clip at\s+[\d.]+ s: ([\d.]+)", result.stdout)]
    assert float(match.group(1)) == pytest.approx(np.mean(clip_scores), abs=1e-4)  # the mean of the clips
    from PIL import Image

    with Image.open(maps) as png:
        assert png.format == "PNG" and png.width > png.height > 100  # one row: painting + one panel per block
