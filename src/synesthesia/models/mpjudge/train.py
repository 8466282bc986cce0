"""The MPJudge trainer (separate from the model, open_clip style).

``train(mpd_dir, run_dir, config)`` trains on an annotated MPD folder:

* **Data.** The train split's scored pairs (``pairs`` ⋈ ``scores``) and its
  consensus preference pairs of both kinds. An epoch is one seeded
  permutation of each (``seed``, epoch), cut into ``ceil(n / batch_size)``
  near-equal steps; each step takes its share of the preference items too,
  so both sets are seen once per epoch. Under DDP each process takes every
  ``world``-th item (padded by wrapping, as DistributedSampler does) and
  ``batch_size / world`` pairs per step.
* **Loss** (Eq. 7). Regression (Eq. 5) on every prediction that has an
  annotated score: the scored pairs, and the two candidate pairs of each
  preference item where those are scored pairs (the paper applies "both
  regression and DPO losses to preference-labeled data"); DPO (Eq. 6) on the
  preference items once the reference exists.
* **Reference model.** At the start of epoch ``dpo_start_epoch`` (before
  its first step) the policy's current weights and batch-norm running
  statistics are copied and frozen (no gradients, never updated:
  ``frozen_copy``); that copy is f_ref for the rest of the run and is stored
  in every checkpoint. ``dpo_start_epoch = 0`` makes the initial weights the
  reference. f_ref normalises as the policy does in the same step
  (``reference_scores``): in training, batch norm uses the micro-batch's
  statistics for both, so f_ref = f_θ at the moment of freezing (Eq. 6's
  loss is log 2 there). Before that epoch the run is regression only.
  ``lambda_dpo = 0`` trains without DPO (Table 3, "w/o DPO Loss").
* **Devices.** CPU, one GPU, or many with ``torchrun --nproc_per_node N``
  (DDP; NCCL on GPUs, Gloo on CPU); bf16 autocast on CUDA. Rank 0 builds the
  media caches, evaluates, logs and writes; a final check compares a
  checksum of every replica's weights.
* **Checkpoints and resume.** A full checkpoint (model, reference,
  optimizer, scheduler, position, running sums, metrics history) after every
  epoch, every ``checkpoint_every_steps`` steps and when ``max_steps`` stops
  the run. Training into a run folder that has checkpoints continues from the
  latest at the same step, with the same batches it would have had (the
  order depends only on seed and epoch); the metrics files are rewritten from
  the checkpoint's history, so a crash never duplicates a row.
* **Metrics.** ``metrics.csv`` and ``metrics.jsonl``: one row per epoch
  with the train losses and the validation SRCC/PLCC/MAE/ACC/preference
  accuracy; a tqdm bar shows the running loss.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from synesthesia.datasets import io as dio
from synesthesia.datasets.readers.mpd import MPDMedia, read_scored_pairs
from synesthesia.datasets.readers.shards import training_folder
from synesthesia.models.mpjudge import checkpoint as ckpt
from synesthesia.models.mpjudge.config import RESUMABLE_CHANGES, RunConfig, TrainConfig, dump_config
from synesthesia.models.mpjudge.distributed import DistContext, check_replicas_in_sync, init_distributed
from synesthesia.models.mpjudge.data import StepBatches, epoch_plan, load_split, steps_per_epoch
from synesthesia.models.mpjudge.evaluate import autocast, evaluate_split, json_safe, to_model_inputs
from synesthesia.models.mpjudge.losses import dpo_loss, regression_loss, total_loss
from synesthesia.models.mpjudge.model import MPJudge
from synesthesia.models.mpjudge.optim import decay_groups, lr_factor, make_optimizer  # noqa: F401 (re-exported)
from synesthesia.models.tracking import RunTracker, grad_norm


# --- one step ---------------------------------------------------------------------------------

#: Running sums of an epoch (summed over ranks at its end).
SUM_KEYS = ("loss", "mse", "n_mse", "dpo", "n_dpo", "pref_correct", "n_scored", "steps")


def _micro_batches(batch: dict, parts: int) -> list[dict]:
    """Cut a step's batch ``[scored | chosen | rejected]`` into ``parts``
    micro-batches, each with its share of scored pairs and preference items."""
    n_s, n_p = int(batch["n_scored"]), int(batch["n_pref"])
    s_cuts = np.linspace(0, n_s, parts + 1).round().astype(int)
    p_cuts = np.linspace(0, n_p, parts + 1).round().astype(int)
    out = []
    for j in range(parts):
        rows = np.r_[s_cuts[j] : s_cuts[j + 1], n_s + p_cuts[j] : n_s + p_cuts[j + 1], n_s + n_p + p_cuts[j] : n_s + n_p + p_cuts[j + 1]]
        if len(rows) == 0:
            continue
        index = torch.as_tensor(rows)
        part = {k: torch.as_tensor(batch[k])[index] for k in ("paintings", "mels", "targets")}
        part.update(n_scored=int(s_cuts[j + 1] - s_cuts[j]), n_pref=int(p_cuts[j + 1] - p_cuts[j]))
        out.append(part)
    return out


def training_step(model, reference: MPJudge | None, batch: dict, cfg: TrainConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward one step's batch (in ``cfg.grad_accum_steps``
    micro-batches whose gradients add up to those of the whole batch's
    loss); return (the batch's loss, its contribution to the running sums).
    Under DDP the gradients are synchronised once, after the last micro-batch."""
    targets_all = torch.as_tensor(batch["targets"])
    n_mse_total = max(1, int((~torch.isnan(targets_all)).sum()))
    n_pref_total = int(batch["n_pref"])
    use_dpo = reference is not None and n_pref_total > 0
    policy_training = getattr(model, "module", model).training  # through a DDP wrapper
    parts = _micro_batches(batch, max(1, cfg.grad_accum_steps))
    sums = torch.zeros(len(SUM_KEYS), device=device, dtype=torch.float64)
    loss_total = torch.zeros((), device=device)
    for j, part in enumerate(parts):
        sync = j == len(parts) - 1 or not hasattr(model, "no_sync")
        with (contextlib.nullcontext() if sync else model.no_sync()):
            images, mels = to_model_inputs(part["paintings"], part["mels"], device)
            targets = part["targets"].to(device)
            n_s, n_p = part["n_scored"], part["n_pref"]
            with autocast(device, cfg.amp):
                predicted = model(images, mels)
            scored = ~torch.isnan(targets)
            # Sums over this micro-batch divided by the whole batch's counts: the
            # micro-batches' losses add up to Eq. 7 on the whole batch.
            n_mse = int(scored.sum())
            se = regression_loss(predicted[scored], targets[scored]) * (n_mse / n_mse_total) if n_mse else predicted.sum() * 0.0
            l_dpo = None
            correct = torch.zeros((), device=device)
            if use_dpo and n_p:
                with autocast(device, cfg.amp):
                    ref = reference_scores(reference, images, mels, n_s, training=policy_training)
                chosen, rejected = predicted[n_s : n_s + n_p], predicted[n_s + n_p :]
                l_dpo = dpo_loss(chosen, rejected, ref[:n_p], ref[n_p:], cfg.dpo_beta).mean() * (n_p / n_pref_total)
                correct = (chosen > rejected).float().sum()
            loss = total_loss(se, l_dpo, cfg.lambda_reg, cfg.lambda_dpo)
            loss.backward()
        loss_total += loss.detach()
        sums += torch.stack(
            [
                torch.zeros((), device=device),  # the loss is added once, below
                se.detach() * n_mse_total,
                torch.tensor(float(n_mse), device=device),
                (l_dpo.detach() * n_pref_total) if l_dpo is not None else torch.zeros((), device=device),
                torch.tensor(float(n_p if l_dpo is not None else 0), device=device),
                correct,
                torch.tensor(float(n_s), device=device),
                torch.zeros((), device=device),
            ]
        ).double()
    sums[SUM_KEYS.index("loss")] = loss_total.double() * int(batch["n_scored"])
    sums[SUM_KEYS.index("steps")] = 1.0
    return loss_total, sums


def frozen_copy(model: MPJudge) -> MPJudge:
    """The DPO reference f_ref: a deep copy of ``model``'s current weights and
    batch-norm running statistics with no gradients, never updated.

    Its batch norm layers stop tracking running statistics
    (``track_running_stats = False``, the copied buffers kept), so the copy
    normalises the way the policy does in the same step (``reference_scores``
    puts it in the policy's mode): in train mode with the micro-batch's own
    statistics (the copied running statistics untouched), in eval mode with
    the copied running statistics. At the moment of freezing f_ref and f_θ
    then give the same scores and Eq. 6's margin is 0 (loss log 2); a copy in
    eval mode against a policy in train mode would differ by the gap between
    running and batch statistics."""
    reference = copy.deepcopy(model)
    for module in reference.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.track_running_stats = False
    for param in reference.parameters():
        param.requires_grad_(False)
    return reference.train(model.training)


@torch.no_grad()
def reference_scores(reference: MPJudge, images: torch.Tensor, mels: torch.Tensor, start: int = 0, training: bool = True) -> torch.Tensor:
    """f_ref of items ``start:`` of a micro-batch (float32, no gradients).

    ``training`` is the policy's mode in this step. The policy's batch norm
    (in the music encoder) normalises over the whole micro-batch
    ``[scored | chosen | rejected]``, so the reference's music encoder runs
    over all of it as well, in the same mode; the painting encoder and head,
    which work per item, run only on the items asked for."""
    reference.train(training)
    tokens, vec = reference.music(mels) if reference.music is not None else (None, None)
    part = slice(start, None)
    return reference.score_music_features(
        images[part], tokens[part] if tokens is not None else None, vec[part] if vec is not None else None
    ).float()


# --- files --------------------------------------------------------------------------------

METRIC_COLUMNS = [
    "epoch", "global_step", "lr", "dpo_active", "train_loss", "train_mse", "train_dpo", "train_pref_acc",
    "n_scored", "n_pref", "val_srcc", "val_plcc", "val_mae", "val_acc", "val_pref_acc", "val_n", "seconds", "pairs_per_s", "world_size",
]


def write_metrics(run_dir: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    dio.write_text(buf.getvalue(), run_dir / "metrics.csv")
    dio.write_text("".join(json.dumps(json_safe(row)) + "\n" for row in history), run_dir / "metrics.jsonl")


def _check_resumable(state: dict, config: RunConfig, path: Path) -> None:
    if state["model_config"] != config.model.to_dict():
        raise ValueError(f"{path}: the run was started with another model config; use a new --out")
    before = {k: v for k, v in state["train_config"].items() if k not in RESUMABLE_CHANGES}
    now = {k: v for k, v in config.train.to_dict().items() if k not in RESUMABLE_CHANGES}
    before["adam_betas"], now["adam_betas"] = list(before["adam_betas"]), list(now["adam_betas"])
    changed = sorted(k for k in now if before.get(k) != now[k])
    if changed:
        raise ValueError(f"{path}: the run was started with other training settings ({', '.join(changed)}); use a new --out or the same config")


# --- the loop -------------------------------------------------------------------------------

def train(mpd_dir: str | os.PathLike, run_dir: str | os.PathLike, config: RunConfig = RunConfig(), log=None) -> dict:
    """Train (or continue training) MPJudge on an annotated MPD folder (or its
    ``synesthesia export webdataset`` shards). Returns a summary."""
    ctx = init_distributed(config.train)
    try:
        return _train(training_folder(mpd_dir, "mpd"), Path(run_dir), config, ctx, log)  # shards: unpacked once
    finally:
        if ctx.owns_group:
            dist.destroy_process_group()


def _train(mpd_dir: Path, run_dir: Path, config: RunConfig, ctx: DistContext, log) -> dict:
    from tqdm import tqdm

    cfg = config.train
    say = (log or (lambda msg: tqdm.write(msg, file=sys.stderr))) if ctx.is_main else (lambda msg: None)
    run_dir.mkdir(parents=True, exist_ok=True)
    resume_from = ckpt.latest(run_dir)
    state = ckpt.load(resume_from) if resume_from else None
    if state is not None:
        _check_resumable(state, config, resume_from)
    ctx.barrier()
    if ctx.is_main:
        dio.write_text(dump_config(config), run_dir / "config.yaml")

    # Media caches: built once by rank 0, then opened by every rank.
    if ctx.is_main:
        media = MPDMedia.build(mpd_dir, config.model.image_size, cfg.cache_dir)
    ctx.barrier()
    if not ctx.is_main:
        media = MPDMedia.build(mpd_dir, config.model.image_size, cfg.cache_dir)
    data = load_split(mpd_dir, "train", media)
    if data.n_scored == 0:
        raise ValueError(f"{mpd_dir}: the train split has no scored pairs")
    eval_split = cfg.eval_split if cfg.eval_split and read_scored_pairs(mpd_dir, cfg.eval_split).num_rows else ""
    manifest = dio.read_manifest(mpd_dir).get("config", {})
    data_config = {"dataset": str(mpd_dir.resolve()), "clip": manifest.get("clip"), "mel": manifest.get("mel")}

    torch.manual_seed(cfg.seed)
    model = MPJudge(config.model).to(ctx.device)
    optimizer = make_optimizer(model, cfg)
    n_steps = steps_per_epoch(data.n_scored, cfg.batch_size, ctx.world)
    total_steps = cfg.epochs * n_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, cfg))
    reference: MPJudge | None = None
    start_epoch = start_step = global_step = 0
    history: list[dict] = []
    best = {"val_srcc": -math.inf, "epoch": None}
    sums = torch.zeros(len(SUM_KEYS), device=ctx.device, dtype=torch.float64)

    if state is not None:
        if state.get("train_counts") != [data.n_scored, data.n_pref]:
            raise ValueError(f"{resume_from}: the run was started on other training data ({state.get('train_counts')} scored/preference pairs, now {[data.n_scored, data.n_pref]}); use a new --out")
        if state["step_in_epoch"] and state["world_size"] != ctx.world:
            raise ValueError(f"{resume_from} stopped mid-epoch with {state['world_size']} processes; resume with as many")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state["reference"] is not None:
            reference = frozen_copy(model)
            reference.load_state_dict(state["reference"])
        start_epoch, start_step, global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        history, best = state["history"], state["best"]
        if ctx.is_main and state["step_in_epoch"]:
            sums = torch.tensor(state["epoch_sums"], device=ctx.device, dtype=torch.float64)
        say(f"resuming from {resume_from.name}: epoch {start_epoch + 1}, step {start_step} of {n_steps}, global step {global_step}")
    if ctx.is_main:
        write_metrics(run_dir, history)

    tracker = RunTracker(run_dir, cfg.tracker, resume_step=global_step + 1 if state is not None else 0,
                         config=config.to_dict(), enabled=ctx.is_main)
    with tracker:
        net = model
        if ctx.world > 1:
            net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        workers = cfg.num_workers if cfg.num_workers >= 0 else (4 if ctx.device.type == "cuda" else 0)
        say(
            f"MPJudge ({config.model.fusion}): {data.n_scored} scored pairs, {data.n_pref} preference pairs in train; "
            f"{n_steps} steps/epoch x {cfg.epochs} epochs; {ctx.world} process(es) on {ctx.device}"
            + (", bf16 autocast" if (ctx.device.type == "cuda" and cfg.amp != "off") or cfg.amp == "bf16" else "")
        )

        def snapshot(epoch: int, step_in_epoch: int, epoch_sums: list[float]) -> dict:
            return {
                "model_config": config.model.to_dict(),
                "train_config": cfg.to_dict(),
                "data_config": data_config,
                "model": model.state_dict(),
                "reference": reference.state_dict() if reference is not None else None,
                "trained_dpo": reference is not None and cfg.lambda_dpo > 0,
                "epoch": epoch,
                "step_in_epoch": step_in_epoch,
                "global_step": global_step,
                "world_size": ctx.world,
                "train_counts": [data.n_scored, data.n_pref],
                "epoch_sums": epoch_sums,
                "history": history,
                "best": best,
            }

        def save_full(epoch: int, step_in_epoch: int) -> None:
            reduced = ctx.sum(sums).tolist() if step_in_epoch else [0.0] * len(SUM_KEYS)
            if ctx.is_main:
                full = snapshot(epoch, step_in_epoch, reduced)
                full.update(optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict())
                ckpt.save(full, run_dir / "checkpoints" / f"step-{global_step:08d}.pt")
                ckpt.prune(run_dir, cfg.keep_checkpoints)
            ctx.barrier()

        stopped = False
        for epoch in range(start_epoch, cfg.epochs):
            if reference is None and cfg.lambda_dpo > 0 and data.n_pref and epoch >= cfg.dpo_start_epoch:
                reference = frozen_copy(model)
                say(f"epoch {epoch + 1}: froze the current weights as the DPO reference model")
            plan = epoch_plan(data.n_scored, data.n_pref if reference is not None else 0, epoch, cfg.seed, cfg.batch_size, ctx.rank, ctx.world)
            skip = start_step if epoch == start_epoch else 0
            loader = torch.utils.data.DataLoader(
                StepBatches(data, media, plan[skip:]), batch_size=None, shuffle=False, num_workers=workers,
                pin_memory=ctx.device.type == "cuda",
            )
            started = time.perf_counter()
            model.train()
            bar = tqdm(total=len(plan), initial=skip, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (cfg.progress and ctx.is_main), file=sys.stderr, dynamic_ncols=True)
            step = skip
            for step, batch in enumerate(loader, start=skip + 1):
                optimizer.zero_grad(set_to_none=True)
                step_started = time.perf_counter()
                loss, contribution = training_step(net, reference, batch, cfg, ctx.device)  # forward + backward
                if cfg.grad_clip_norm > 0:
                    norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip_norm))
                else:
                    norm = grad_norm(model.parameters())
                lr = scheduler.get_last_lr()[0]
                optimizer.step()
                scheduler.step()
                global_step += 1
                tracker.scalars({"loss": loss.item(), "lr": lr, "grad_norm": norm,
                                 "pairs_per_s": int(batch["n_scored"]) * ctx.world / (time.perf_counter() - step_started)},
                                global_step, "train")
                sums += contribution.double()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}", step=global_step)
                stopped = cfg.max_steps is not None and global_step >= cfg.max_steps
                mid_epoch = step < len(plan)
                if mid_epoch and (stopped or (cfg.checkpoint_every_steps and global_step % cfg.checkpoint_every_steps == 0)):
                    save_full(epoch, step)
                if stopped:
                    break
            bar.close()
            if stopped and step < len(plan):
                say(f"stopped at global step {global_step} (max_steps); continue by training into the same --out")
                break

            totals = dict(zip(SUM_KEYS, ctx.sum(sums).tolist()))
            sums.zero_()
            seconds = time.perf_counter() - started
            row = {
                "epoch": epoch + 1,
                "global_step": global_step,
                "lr": scheduler.get_last_lr()[0],
                "dpo_active": reference is not None,
                "train_loss": totals["loss"] / max(1.0, totals["n_scored"]),
                "train_mse": totals["mse"] / max(1.0, totals["n_mse"]),
                "train_dpo": totals["dpo"] / totals["n_dpo"] if totals["n_dpo"] else math.nan,
                "train_pref_acc": totals["pref_correct"] / totals["n_dpo"] if totals["n_dpo"] else math.nan,
                "n_scored": data.n_scored,
                "n_pref": data.n_pref if reference is not None else 0,
                "seconds": round(seconds, 3),
                "pairs_per_s": round(totals["n_scored"] / seconds, 2) if seconds > 0 else None,
                "world_size": ctx.world,
            }
            if eval_split and ctx.is_main:
                metrics, _ = evaluate_split(model, mpd_dir, media, eval_split, cfg.eval_batch_size, cfg.accuracy_threshold, cfg.amp)
                row.update({f"val_{k}": metrics[k] for k in ("srcc", "plcc", "mae", "acc", "pref_acc")})
                row["val_n"] = metrics["n"]
            history.append(row)
            tracker.scalars({k[len("train_"):]: v for k, v in row.items() if k.startswith("train_")}, global_step, "epoch")
            tracker.scalars({k[len("val_"):]: v for k, v in row.items() if k.startswith("val_")}, global_step, "val")
            if ctx.is_main:
                write_metrics(run_dir, history)
                srcc = row.get("val_srcc", math.nan)
                if eval_split and not math.isnan(srcc) and srcc > best["val_srcc"]:
                    best = {"val_srcc": srcc, "epoch": epoch + 1}
                    ckpt.save(snapshot(epoch + 1, 0, []), run_dir / "best.pt")
                say(
                    f"epoch {epoch + 1}: loss {row['train_loss']:.4f} (mse {row['train_mse']:.4f}"
                    + (f", dpo {row['train_dpo']:.4f}" if not math.isnan(row["train_dpo"]) else "")
                    + ")"
                    + (f"; {eval_split} SRCC {row['val_srcc']:.3f} MAE {row['val_mae']:.3f}" if eval_split else "")
                )
            save_full(epoch + 1, 0)
            if stopped:
                break

    finished = not stopped or global_step >= cfg.epochs * n_steps
    if finished and ctx.is_main:
        ckpt.save(snapshot(cfg.epochs, 0, []), run_dir / "model.pt")
    if ctx.world > 1:
        check_replicas_in_sync(model, ctx)
        say("DDP: every replica ends with the same weights")
    return {
        "run_dir": str(run_dir),
        "finished": finished,
        "global_step": global_step,
        "history": history,
        "world_size": ctx.world,
        "resumed_from": str(resume_from) if resume_from else None,
    }
