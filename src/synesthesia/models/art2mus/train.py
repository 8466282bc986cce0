"""The Art2Mus trainer: only the aligner learns; AudioLDM 2 stays frozen.

A run folder holds::

    run.json                      every config + the data it was trained on
    train_log.parquet             one row per optimiser step (ART2MUS_TRAIN_LOG)
    train_log.jsonl               the same, appended as training goes (crash-safe)
    checkpoints/step-0000500/     aligner.safetensors, model_config.json, training.json, train_state.pt
    final/                        the last aligner + configs (what `generate`/`eval` load by default)
    validation/step-…/generated/  the validation clips, items.parquet
    tensorboard/                  curves (loss, MSE, lr, grad norm, examples/s, validation metrics) and
                                  the first validation clips as audio (TrainConfig.tracker; W&B on request)
    validation.parquet            validation metrics per validation (ART2MUS_RESULTS)
    embeddings/image-<encoder>/   image embeddings computed because the ArtSound store lacked them
    quarantine.parquet            tracks that failed to decode during training, with the reason

Resuming: re-running the same command continues from the latest checkpoint.
The order of examples (a seeded permutation per epoch), each micro-batch's
randomness (a generator seeded by the micro-batch index) and the optimiser
and learning-rate states are all restored, so an interrupted run ends with
the same weights as an uninterrupted one (tested on CPU), and the TensorBoard
curves continue from the checkpoint's step.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.models.art2mus.config import Art2MusConfig, FrontEndConfig, TrainConfig, to_dict
from synesthesia.models.checkpoints import load_state, save_state
from synesthesia.datasets.readers.artsound import ArtSoundPairs
from synesthesia.models.art2mus.evaluate import EvalConfig, Scorer, evaluate_model, results_row
from synesthesia.models.art2mus.frontend import track_mel
from synesthesia.models.art2mus.model import Art2Mus
from synesthesia.datasets.keys import stable_hash
from synesthesia.models.devices import resolve_device
from synesthesia.models.tracking import RunTracker

log = logging.getLogger(__name__)


# --- data -----------------------------------------------------------------------------

class PairDataset(torch.utils.data.Dataset):
    """(image embedding, log-mel of the paired track's segment). A track that
    fails to decode yields an error record instead of stopping the run."""

    def __init__(self, audio_paths: list[Path], embeddings: np.ndarray, frontend: FrontEndConfig):
        self.audio_paths, self.embeddings, self.frontend = audio_paths, embeddings, frontend

    def __len__(self) -> int:
        return len(self.audio_paths)

    def __getitem__(self, i: int) -> dict:
        try:
            mel = track_mel(self.audio_paths[i], self.frontend)
        except Exception as exc:  # noqa: BLE001 - any decode failure is quarantined, not fatal
            return {"index": i, "error": f"{type(exc).__name__}: {exc}", "path": str(self.audio_paths[i])}
        return {"index": i, "embedding": torch.from_numpy(self.embeddings[i]), "mel": torch.from_numpy(mel)}


def collate(samples: list[dict]) -> dict:
    good = [s for s in samples if "error" not in s]
    return {
        "embedding": torch.stack([s["embedding"] for s in good]) if good else None,
        "mel": torch.stack([s["mel"] for s in good]) if good else None,
        "errors": [(s["path"], s["error"]) for s in samples if "error" in s],
    }


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, 7, epoch]).permutation(n)


class MicroBatches(torch.utils.data.Sampler):
    """Index lists of consecutive micro-batches over seeded per-epoch
    permutations, starting at micro-batch ``start`` (for resuming)."""

    def __init__(self, n: int, micro: int, seed: int, start: int = 0):
        self.n, self.micro, self.seed, self.start = n, micro, seed, start
        self.per_epoch = math.ceil(n / micro)

    def __iter__(self) -> Iterator[list[int]]:
        index = self.start
        while True:
            epoch, k = divmod(index, self.per_epoch)
            order = epoch_order(self.n, self.seed, epoch)
            yield order[k * self.micro : (k + 1) * self.micro].tolist()
            index += 1


def lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then constant / linear decay / cosine to 0 at ``total_steps``."""
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant":
        return 1.0
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.total_steps - config.warmup_steps))
    if config.lr_schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def micro_generator(seed: int, micro_index: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(stable_hash(seed, "micro", micro_index, length=12), 16))


# --- the trainer ------------------------------------------------------------------------------

class Trainer:
    def __init__(self, model: Art2Mus, data_dir: Path, train: ArtSoundPairs, train_embeddings: np.ndarray,
                 val: ArtSoundPairs, val_embeddings: np.ndarray, run_dir: Path, config: TrainConfig,
                 frontend: FrontEndConfig, eval_config: EvalConfig, train_hours: float = 0.0):
        self.model, self.data_dir, self.run_dir = model, Path(data_dir), Path(run_dir)
        self.train, self.train_embeddings = train, train_embeddings
        self.val, self.val_embeddings = val, val_embeddings
        self.config, self.frontend, self.eval_config = config, frontend, eval_config
        self.train_hours = train_hours
        self.optimizer = torch.optim.AdamW(model.aligner.parameters(), lr=config.learning_rate, betas=config.adam_betas,
                                           eps=config.adam_eps, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, config))
        self.step = 0
        self.quarantine: dict[str, str] = {}
        self.scorer: Scorer | None = None
        self.tracker = RunTracker(self.run_dir, enabled=False)  # fit() opens the run's own

    # -- checkpoints -----------------------------------------------------------------

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def training_info(self) -> dict:
        return {"step": self.step, "train_hours": self.train_hours, "data": str(self.data_dir), "n_train_pairs": len(self.train)}

    def save_checkpoint(self) -> Path:
        final = self.checkpoint_dir / f"step-{self.step:07d}"
        tmp = self.checkpoint_dir / f".step-{self.step:07d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save(tmp)
        save_state({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(), "step": self.step},
                   tmp / "train_state.pt")
        dio.write_text(json.dumps(self.training_info(), indent=2) + "\n", tmp / "training.json")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        kept = sorted(self.checkpoint_dir.glob("step-*"))
        for old in kept[: max(0, len(kept) - self.config.keep_checkpoints)]:
            shutil.rmtree(old, ignore_errors=True)
        self.write_quarantine()
        return final

    def resume(self) -> bool:
        """Load the latest checkpoint of the run, if any."""
        from safetensors.torch import load_file

        candidates = sorted(p for p in self.checkpoint_dir.glob("step-*") if (p / "train_state.pt").exists())
        if not candidates:
            return False
        latest = candidates[-1]
        self.model.aligner.load_state_dict(load_file(str(latest / "aligner.safetensors")))
        state = load_state(latest / "train_state.pt")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        self._truncate_log()
        if (self.run_dir / "quarantine.parquet").exists():
            q = dio.read_table(self.run_dir / "quarantine.parquet", S.QUARANTINE)
            self.quarantine.update(zip(q.column("path").to_pylist(), q.column("reason").to_pylist()))
        log.info("resumed %s at step %d", latest, self.step)
        return True

    # -- logs ----------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.run_dir / "train_log.jsonl"

    def _truncate_log(self) -> None:
        if self.log_path.exists():
            keep = [line for line in self.log_path.read_text().splitlines() if line and json.loads(line)["step"] <= self.step]
            dio.write_text("".join(line + "\n" for line in keep), self.log_path)

    def _append_log(self, row: dict) -> None:
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")

    def write_log_table(self) -> None:
        rows = [json.loads(line) for line in self.log_path.read_text().splitlines() if line] if self.log_path.exists() else []
        dio.write_table(S.from_rows(rows, S.ART2MUS_TRAIN_LOG), self.run_dir / "train_log.parquet")

    def write_quarantine(self) -> None:
        rows = [{"path": p, "kind": "audio", "stage": "art2mus-train", "reason": r} for p, r in sorted(self.quarantine.items())]
        dio.write_table(S.from_rows(rows, S.QUARANTINE), self.run_dir / "quarantine.parquet")

    # -- validation ------------------------------------------------------------------------

    def validate(self) -> dict | None:
        if not len(self.val):
            return None
        if self.scorer is None:
            self.scorer = Scorer(self.eval_config)
        out = self.run_dir / "validation" / f"step-{self.step:07d}"
        self.model.aligner.eval()
        items, summary = evaluate_model(self.model, self.data_dir, self.val, self.val_embeddings, out, self.eval_config,
                                        self.frontend, self.scorer, self.step)
        self.model.aligner.train()
        dio.write_table(items, out / "items.parquet")
        guidance = self.eval_config.guidance_scale or self.model.config.guidance_scale
        row = results_row("Art2Mus", self.model.config, self.train_hours, self.step, summary, self.eval_config, guidance)
        path = self.run_dir / "validation.parquet"
        previous = dio.read_table(path, S.ART2MUS_RESULTS).to_pylist() if path.exists() else []
        rows = [r for r in previous if r["step"] != self.step] + [row]
        dio.write_table(S.from_rows(rows, S.ART2MUS_RESULTS), path)
        log.info("validation at step %d: %s", self.step, {k: summary[k] for k in ("fad", "kl_div", "ibsc_artw_gemus", "ibsc_gtmus_gemus")})
        if self.tracker.active:
            self.tracker.scalars({k: summary.get(k) for k in ("fad", "kl_div", "ibsc_artw_gemus", "ibsc_gtmus_gemus")}, self.step, "val")
            self._log_clips(out, items)
        return summary

    def _log_clips(self, out: Path, items) -> None:
        from synesthesia.datasets.media import load_audio

        paths = items.column("generated_path").to_pylist()[: self.config.sample_clips]
        rate = self.model.sample_rate
        self.tracker.audio("val/generated", [load_audio(out / p, rate) for p in paths], rate, self.step)

    # -- the loop ---------------------------------------------------------------------------

    def fit(self) -> dict:
        cfg = self.config
        resumed = self.resume()
        with RunTracker(self.run_dir, cfg.tracker, resume_step=self.step + 1 if resumed else 0,
                        config={"train": to_dict(cfg), "model": to_dict(self.model.config)}) as self.tracker:
            return self._fit()

    def _fit(self) -> dict:
        cfg = self.config
        accum = cfg.accumulation
        if self.step >= cfg.total_steps:
            log.info("run already finished (%d/%d steps)", self.step, cfg.total_steps)
        # Fail before the first step, not at the first validation, if a metric model is missing.
        if len(self.val) and self.scorer is None:
            self.scorer = Scorer(self.eval_config)
        dataset = PairDataset(self.train.audio_path, self.train_embeddings, self.frontend)
        sampler = MicroBatches(len(dataset), cfg.micro_batch_size, cfg.seed, start=self.step * accum)
        on_cuda = self.model.device.type == "cuda"
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=cfg.num_workers,
                                             pin_memory=on_cuda, persistent_workers=False)
        steps_per_epoch = max(1, math.ceil(sampler.per_epoch / accum))
        validate_every = cfg.validate_every or steps_per_epoch
        params = [p for p in self.model.aligner.parameters() if p.requires_grad]
        self.model.aligner.train()
        batches = iter(loader)
        while self.step < cfg.total_steps:
            started = time.perf_counter()
            self.optimizer.zero_grad(set_to_none=True)
            loss_total = mse_total = 0.0
            examples = 0
            for a in range(accum):
                micro_index = self.step * accum + a
                batch = next(batches)
                for path, reason in batch["errors"]:
                    if path not in self.quarantine:
                        log.warning("quarantined %s: %s", path, reason)
                    self.quarantine[path] = reason
                if batch["embedding"] is None:
                    continue
                loss, info = self.model.training_loss(
                    batch["embedding"], batch["mel"].to(self.model.device, non_blocking=True), micro_generator(cfg.seed, micro_index),
                    min_snr_gamma=cfg.min_snr_gamma, guidance_scale=cfg.train_guidance_scale,
                )
                (loss / accum).backward()
                loss_total += loss.item() / accum
                mse_total += info["mse"] / accum
                examples += batch["embedding"].shape[0]
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)) if examples else 0.0
            lr = self.scheduler.get_last_lr()[0]
            if examples:
                self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            row = {"step": self.step, "epoch": (self.step * accum - 1) // sampler.per_epoch, "loss": loss_total, "mse": mse_total,
                   "lr": lr, "grad_norm": grad_norm, "examples": examples, "seconds": time.perf_counter() - started}
            self._append_log(row)
            self.tracker.scalars({"loss": loss_total, "mse": mse_total, "lr": lr, "grad_norm": grad_norm,
                                  "examples_per_s": examples / row["seconds"]}, self.step, "train")
            if self.step % cfg.log_every == 0 or self.step == 1:
                log.info("step %d/%d loss %.4f mse %.4f lr %.2e", self.step, cfg.total_steps, loss_total, mse_total, lr)
            done = self.step >= cfg.total_steps
            if self.step % cfg.checkpoint_every == 0 or done:
                self.save_checkpoint()
            if self.step % validate_every == 0 or done:
                self.validate()
        self.model.save(self.run_dir / "final")
        dio.write_text(json.dumps(self.training_info(), indent=2) + "\n", self.run_dir / "final" / "training.json")
        self.write_log_table()
        self.write_quarantine()
        return {"step": self.step, "quarantined": len(self.quarantine), "run_dir": str(self.run_dir)}


# --- entry point ---------------------------------------------------------------------------------

def train_art2mus(
    data_dir: str | Path,
    run_dir: str | Path,
    model_config: Art2MusConfig = Art2MusConfig(),
    train_config: TrainConfig = TrainConfig(),
    frontend: FrontEndConfig = FrontEndConfig(),
    eval_config: EvalConfig = EvalConfig(steps=200),
    *,
    image_embeddings: str | Path | None = None,
    device: str | None = None,
    model: Art2Mus | None = None,
) -> dict:
    """Train the aligner on an ArtSound folder's ``train`` pairs (resumable);
    ``data_dir`` may also be its ``synesthesia export webdataset`` shards.

    ``image_embeddings`` names an embeddings folder to read instead of
    searching the store; ``model`` lets a caller pass a ready model (tests).
    """
    from synesthesia.models.art2mus.data import image_embeddings as resolve_images
    from synesthesia.datasets.readers.artsound import read_pairs, validation_pairs
    from synesthesia.datasets.readers.shards import training_folder

    data_dir, run_dir = training_folder(data_dir, "artsound"), Path(run_dir)  # a folder, or `export webdataset` shards
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {"model": to_dict(model_config), "train": to_dict(train_config), "frontend": to_dict(frontend),
              "eval": dataclasses.asdict(eval_config), "data": str(data_dir.resolve())}
    run_json = run_dir / "run.json"
    if run_json.exists():
        before = json.loads(run_json.read_text())
        for key in ("model", "frontend"):
            if before.get(key) != json.loads(json.dumps(record[key])):
                raise ValueError(f"{run_dir} was started with a different {key} config; use a new --out folder "
                                 f"(was {before.get(key)}, now {record[key]})")
    dio.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", run_json)

    pairs = read_pairs(data_dir)
    train = pairs.where_split("train")
    if not len(train):
        raise ValueError(f"{data_dir}: no pairs with split 'train'")
    val = validation_pairs(pairs, train_config.val_artworks, train_config.seed)
    cache = run_dir / "embeddings" / f"image-{model_config.image_encoder}"
    store = Path(image_embeddings) if image_embeddings else None
    train_emb = resolve_images(data_dir, train, model_config.image_encoder, model_config.embedding_dim, cache, store)
    val_emb = resolve_images(data_dir, val, model_config.image_encoder, model_config.embedding_dim, cache, store)
    train_hours = len(set(train.audio_id)) * frontend.segment_seconds / 3600.0

    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    dtype = torch.bfloat16 if (dev.type == "cuda" and train_config.mixed_precision == "bf16") else None
    if model is None:
        model = Art2Mus.load(model_config, dtype=dtype, device=dev)
    else:
        model = model.to(dev)
    model.aligner.reset_parameters(train_config.seed)  # a resumed run then loads its checkpoint over these
    trainer = Trainer(model, data_dir, train, train_emb, val, val_emb, run_dir, train_config, frontend,
                      dataclasses.replace(eval_config, seconds=train_config.val_seconds, steps=train_config.val_steps,
                                          seed=train_config.seed), train_hours)
    return trainer.fit()
