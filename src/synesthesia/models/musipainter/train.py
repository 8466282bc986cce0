"""Training Musipainter on a built Museart folder (paper, sections 3.4, 4.1).

A run folder (``synesthesia train musipainter --out RUN_DIR``)::

    RUN_DIR/
      config.yaml                 the resolved run config
      checkpoints/epoch-NNN.pt    full state after each epoch (trainable weights,
                                  optimizer, LR schedule, history, best)
      metrics.csv, metrics.jsonl  one row per epoch: train loss and its terms, val loss
      tensorboard/                curves per optimizer step (loss and its terms, lr, grad norm,
                                  examples/s), per epoch (train and val losses), and images
                                  generated from validation clips (train.tracker; W&B on request)
      best.pt                     trainable weights of the epoch with the lowest
                                  validation loss ("validation loss per epoch picks
                                  the checkpoint", as the paper did)
      model.pt                    trainable weights after the last epoch

Per step: the image is encoded by SD's frozen VAE (latents × the VAE's
scaling factor), noised at a uniform random timestep with SD's DDPM
schedule; the UNet, conditioned on "an art image of <*>" with the audio token
in place of ``<*>``, predicts the noise (SD v1-4 is an ε-model); the loss is
Eq. 3. The validation loss uses fixed noise and timesteps per example (seeded
by its index), so epochs are comparable. Re-running into the same RUN_DIR
resumes after the last finished epoch (the curves continue from its step); a
config change that alters the result is refused.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import time
from pathlib import Path

import torch

from synesthesia.datasets.io import write_text
from synesthesia.datasets.readers.shards import training_folder
from synesthesia.models.musipainter.config import RESUMABLE_CHANGES, RunConfig, dump_config
from synesthesia.models.musipainter.data import MusipainterExamples
from synesthesia.models.musipainter.model import add_placeholder, encode_prompt_with_audio, label_embeddings, musipainter_loss, write_token
from synesthesia.models.musipainter.pipeline import (
    build_embedder,
    epoch_checkpoints,
    load_checkpoint,
    load_sd_components,
    save_checkpoint,
)
from synesthesia.models.devices import resolve_device
from synesthesia.models.tracking import RunTracker, grad_norm

METRIC_FIELDS = ("epoch", "step", "lr", "train_loss", "train_ldm", "train_l1", "train_cl", "val_loss", "val_ldm", "val_l1", "val_cl", "best")


class Trainer:
    """Everything one run needs; :meth:`fit` trains (resuming) to the end."""

    def __init__(self, data_dir: str | os.PathLike, out_dir: str | os.PathLike, run: RunConfig):
        from diffusers import DDPMScheduler

        # a built folder, or its `synesthesia export webdataset` shards (unpacked once)
        self.data_dir, self.out_dir, self.run = training_folder(data_dir, "museart"), Path(out_dir), run
        m, t = run.model, run.train
        self.device = resolve_device(t.device)
        torch.manual_seed(t.seed)
        sd = load_sd_components(m.sd_model)
        self.tokenizer, self.text_encoder, self.vae, self.unet = sd.tokenizer, sd.text_encoder, sd.vae, sd.unet
        self.noise = DDPMScheduler.from_config(sd.scheduler_config)
        self.placeholder_id = add_placeholder(self.tokenizer, self.text_encoder, m.placeholder)
        self.embedder = build_embedder(m, self.text_encoder.config.hidden_size)
        self.train_set = MusipainterExamples(self.data_dir, "train", m.image_size, m.clip_seconds)
        self.val_set = MusipainterExamples(self.data_dir, t.val_split, m.image_size, m.clip_seconds) if t.val_split else None
        parts = t.parts
        for module in (self.text_encoder, self.vae, self.unet, self.embedder.beats):
            module.requires_grad_(False).eval()
        self.trainable = {"projection": self.embedder.projection}
        if "beats" in parts:
            self.trainable["beats"] = self.embedder.beats
        if "unet" in parts:
            self.trainable["unet"] = self.unet
        for module in self.trainable.values():
            module.requires_grad_(True)
        for module in (self.text_encoder, self.vae, self.unet, self.embedder):
            module.to(self.device)
        # Eq. 2's l̂ per category: constants (the text encoder is frozen in both configurations).
        self.labels = label_embeddings(self.tokenizer, self.text_encoder, self.train_set.categories, m.label_space)
        params = [p for module in self.trainable.values() for p in module.parameters()]
        self.optimizer = torch.optim.AdamW(params, lr=t.lr, betas=t.adam_betas, weight_decay=t.weight_decay)
        self.steps_per_epoch = math.ceil(len(self.train_set) / (t.batch_size * t.grad_accum_steps))
        total = max(1, self.steps_per_epoch * t.epochs)
        schedule = (lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total))) if t.lr_schedule == "cosine" else (lambda s: 1.0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.epoch, self.step, self.history, self.best = 0, 0, [], None
        self.tracker = RunTracker(self.out_dir, enabled=False)  # fit() opens the run's own

    # --- one batch ----------------------------------------------------------------------

    def _autocast(self):
        use = self.run.train.amp == "auto" and self.device.type == "cuda"
        return torch.autocast("cuda", dtype=torch.bfloat16) if use else contextlib.nullcontext()

    def losses(self, batch: dict, generator: torch.Generator | None = None, timesteps: torch.Tensor | None = None) -> dict:
        m = self.run.model
        fbank = batch["fbank"].to(self.device)
        pixels = batch["pixels"].to(self.device)
        with self._autocast():
            tokens, _ = self.embedder(fbank)
            with torch.no_grad():
                latents = self.vae.encode(pixels).latent_dist.sample(generator) * self.vae.config.scaling_factor
            noise = torch.randn(latents.shape, generator=generator, device="cpu").to(latents)
            if timesteps is None:
                timesteps = torch.randint(0, self.noise.config.num_train_timesteps, (latents.shape[0],), generator=generator)
            timesteps = timesteps.to(self.device)
            noisy = self.noise.add_noise(latents, noise, timesteps)
            states = encode_prompt_with_audio(self.tokenizer, self.text_encoder, self.placeholder_id, tokens, m.prompt)
            pred = self.unet(noisy, timesteps, encoder_hidden_states=states).sample
        target = noise if self.noise.config.prediction_type == "epsilon" else self.noise.get_velocity(latents, noise, timesteps)
        labels = self.labels[batch["category_index"].to(self.device)]
        return musipainter_loss(pred, target, tokens, labels, m.lambda_l1, m.lambda_cl, m.l1_reduction)

    # --- epochs ---------------------------------------------------------------------------

    def _loader(self, dataset, batch_size: int, shuffle_seed: int | None):
        generator = torch.Generator().manual_seed(shuffle_seed) if shuffle_seed is not None else None
        return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle_seed is not None, generator=generator,
                                           num_workers=self.run.train.num_workers, drop_last=False)

    @torch.no_grad()
    def validate(self) -> dict:
        """Mean Eq. 3 loss over the validation split, with per-example fixed
        noise and timestep (seeded by the example's index)."""
        if self.val_set is None or len(self.val_set) == 0:
            return {}
        for module in self.trainable.values():
            module.eval()
        sums, n = {}, 0
        for batch in self._loader(self.val_set, self.run.train.val_batch_size, None):
            for k in range(len(batch["index"])):
                one = {key: value[k : k + 1] for key, value in batch.items()}
                g = torch.Generator().manual_seed(1_000_003 * (self.run.train.seed + 1) + int(batch["index"][k]))
                t = torch.randint(0, self.noise.config.num_train_timesteps, (1,), generator=g)
                for key, value in self.losses(one, g, t).items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                n += 1
        return {f"val_{k}": v / n for k, v in sums.items()}

    def train_epoch(self, progress: bool) -> dict:
        t = self.run.train
        for module in self.trainable.values():
            module.train()
        loader = self._loader(self.train_set, t.batch_size, t.seed * 1_000 + self.epoch)
        sums, n, micro = {}, 0, 0
        window, window_n, started = {}, 0, time.perf_counter()  # the micro-batches of one optimizer step
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(loader), desc=f"epoch {self.epoch + 1}/{t.epochs}", leave=False)
        for batch in loader:
            losses = self.losses(batch)
            (losses["loss"] / t.grad_accum_steps).backward()
            micro += 1
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(batch["index"])
                window[key] = window.get(key, 0.0) + float(value.detach()) * len(batch["index"])
            n += len(batch["index"])
            window_n += len(batch["index"])
            if micro % t.grad_accum_steps == 0 or micro == len(loader):
                params = [p for m in self.trainable.values() for p in m.parameters()]
                norm = float(torch.nn.utils.clip_grad_norm_(params, t.grad_clip_norm)) if t.grad_clip_norm > 0 else grad_norm(params)
                lr = self.scheduler.get_last_lr()[0]
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                self.tracker.scalars({**{k: v / window_n for k, v in window.items()}, "lr": lr, "grad_norm": norm,
                                      "examples_per_s": window_n / (time.perf_counter() - started)}, self.step, "train")
                window, window_n, started = {}, 0, time.perf_counter()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(losses['loss'].detach()):.4f}")
            if t.max_steps is not None and self.step >= t.max_steps:
                break
        if bar is not None:
            bar.close()
        return {f"train_{k}": v / max(n, 1) for k, v in sums.items()}

    # --- state ---------------------------------------------------------------------------

    def weights(self) -> dict:
        return {name: {k: v.detach().cpu() for k, v in module.state_dict().items()} for name, module in self.trainable.items()}

    def _state(self, full: bool) -> dict:
        state = {"config": self.run.to_dict(), "placeholder_id": self.placeholder_id, "epoch": self.epoch, "step": self.step,
                 "categories": self.train_set.categories, "projection": None, "beats": None, "unet": None, **self.weights()}
        if full:
            state.update(optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(), history=self.history, best=self.best)
        return state

    def resume(self) -> bool:
        found = epoch_checkpoints(self.out_dir)
        if not found:
            return False
        state = load_checkpoint(found[-1])
        for name, module in self.trainable.items():
            module.load_state_dict(state[name])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step, self.history, self.best = state["epoch"], state["step"], state["history"], state["best"]
        return True

    def _write_metrics(self) -> None:
        lines = [",".join(METRIC_FIELDS)]
        for row in self.history:
            lines.append(",".join("" if row.get(f) is None else str(row.get(f)) for f in METRIC_FIELDS))
        write_text("\n".join(lines) + "\n", self.out_dir / "metrics.csv")
        write_text("".join(json.dumps(row) + "\n" for row in self.history), self.out_dir / "metrics.jsonl")

    @torch.no_grad()
    def sample_images(self) -> list:
        """Images from the first validation clips with a stock SD pipeline
        (DDIM, seeded per image); the global random state is left as it was."""
        from diffusers import DDIMScheduler, StableDiffusionPipeline

        t, m = self.run.train, self.run.model
        count = min(t.sample_images, len(self.val_set) if self.val_set is not None else 0)
        if not count:
            return []
        pipe = StableDiffusionPipeline(vae=self.vae, text_encoder=self.text_encoder, tokenizer=self.tokenizer, unet=self.unet,
                                       scheduler=DDIMScheduler.from_config(self.noise.config), safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        table = self.text_encoder.get_input_embeddings().weight
        kept = table[self.placeholder_id].clone()
        images = []
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []), self._autocast():
            self.embedder.eval()
            for k in range(count):
                token, _ = self.embedder(self.val_set[k]["fbank"][None].to(self.device))
                write_token(self.text_encoder, self.placeholder_id, token[0])
                images += pipe(m.prompt, num_inference_steps=t.sample_steps, height=m.image_size, width=m.image_size,
                               generator=torch.Generator().manual_seed(k), output_type="pil").images
        table[self.placeholder_id] = kept
        return images

    def fit(self) -> dict:
        resumed = self.resume()
        with RunTracker(self.out_dir, self.run.train.tracker, resume_step=self.step + 1 if resumed else 0,
                        config=self.run.to_dict()) as self.tracker:
            return self._fit()

    def _fit(self) -> dict:
        t = self.run.train
        while self.epoch < t.epochs and not (t.max_steps is not None and self.step >= t.max_steps):
            row = {"epoch": self.epoch + 1, **self.train_epoch(t.progress)}
            row.update(self.validate())
            self.epoch += 1
            row.update(step=self.step, lr=self.scheduler.get_last_lr()[0])
            score = row.get("val_loss", row["train_loss"])  # no validation split: the training loss decides
            row["best"] = self.best is None or score < self.best["score"]
            if row["best"]:
                self.best = {"epoch": self.epoch, "score": score}
                save_checkpoint(self._state(full=False), self.out_dir / "best.pt")
            self.history.append(row)
            self.tracker.scalars({k[len("train_"):]: v for k, v in row.items() if k.startswith("train_")}, self.step, "epoch")
            self.tracker.scalars({k[len("val_"):]: v for k, v in row.items() if k.startswith("val_")}, self.step, "val")
            if self.tracker.active and t.sample_every and self.epoch % t.sample_every == 0:
                self.tracker.images("val/generated", self.sample_images(), self.step)
            save_checkpoint(self._state(full=True), self.out_dir / "checkpoints" / f"epoch-{self.epoch:03d}.pt")
            for old in epoch_checkpoints(self.out_dir)[:-1]:
                old.unlink(missing_ok=True)
            self._write_metrics()
            print(f"epoch {self.epoch}: train loss {row['train_loss']:.4f}" + (f", val loss {row['val_loss']:.4f}" if "val_loss" in row else "")
                  + (" (best)" if row["best"] else ""), flush=True)
        save_checkpoint(self._state(full=False), self.out_dir / "model.pt")
        return {"epochs": self.epoch, "steps": self.step, "best": self.best, "history": self.history}


def check_resume(out_dir: Path, run: RunConfig) -> None:
    """Write config.yaml, or refuse a resumed run whose config would change the result."""
    path = out_dir / "config.yaml"
    if path.exists():
        from synesthesia.models.configs import read_config_file

        old = RunConfig.from_dict(read_config_file(path, out_dir))
        changed = [k for k, v in run.train.to_dict().items() if old.train.to_dict().get(k) != v and k not in RESUMABLE_CHANGES]
        if old.model != run.model or changed:
            raise ValueError(f"{out_dir} holds a run with another config (differs in {changed or 'the model section'}); use a new --out")
    write_text(dump_config(run), path)


def train_musipainter(data_dir: str | os.PathLike, out_dir: str | os.PathLike, run: RunConfig) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    check_resume(out_dir, run)
    return Trainer(data_dir, out_dir, run).fit()
