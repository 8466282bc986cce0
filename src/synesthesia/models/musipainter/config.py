"""Musipainter run configuration as data: a model section
(:class:`~synesthesia.models.musipainter.model.MusipainterConfig`) and a
training section (:class:`TrainConfig`), from YAML/JSON files or the presets
``model1`` and ``model2`` (the paper's two configurations, section 4.1) and
``tiny`` (CPU smoke runs)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from synesthesia.models.configs import ConfigData, dump_yaml, preset_names, read_config_file, run_sections
from synesthesia.models.musipainter.model import MusipainterConfig

CONFIG_DIR = Path(__file__).with_name("configs")
#: What trains. "projection": model 1 (BEATs and SD frozen); adding "beats"
#: and "unet": model 2 ("the projection network, as well as the pre-trained
#: audio encoder network and the pre-trained text-to-image generative
#: network" — we read the latter as the diffusion UNet; the VAE and the text
#: encoder stay frozen, so the label embeddings of Eq. 2 are constants).
TRAINABLE = ("projection", "projection+beats+unet", "projection+beats", "projection+unet")
LR_SCHEDULES = ("cosine", "constant")

#: Section 4.1.1 (model 1) and 4.1.2 (model 2).
MODEL1_EPOCHS, MODEL1_LR = 25, 8e-5
MODEL2_EPOCHS, MODEL2_LR = 50, 1e-5
PAPER_BATCH_SIZE = 8


@dataclass(frozen=True)
class TrainConfig(ConfigData):
    trainable: str = "projection"
    epochs: int = MODEL1_EPOCHS
    lr: float = MODEL1_LR
    batch_size: int = PAPER_BATCH_SIZE
    val_batch_size: int = 1
    lr_schedule: str = "cosine"
    #: Paper silent: AdamW with diffusers' textual-inversion defaults.
    weight_decay: float = 1e-2
    adam_betas: tuple[float, float] = (0.9, 0.999)
    grad_accum_steps: int = 1
    grad_clip_norm: float = 1.0
    val_split: str = "val"
    seed: int = 0
    num_workers: int = 0
    #: "auto": bf16 autocast on CUDA, fp32 on CPU; "off": fp32 everywhere.
    amp: str = "auto"
    device: str = "auto"
    max_steps: int | None = None
    progress: bool = True
    #: Where the curves go (models/tracking.py): tensorboard, wandb, "tensorboard,wandb" or none.
    tracker: str = "tensorboard"
    #: Every ``sample_every`` epochs, ``sample_images`` images generated (``sample_steps``
    #: DDIM steps) from the first validation clips go to the tracker; 0 images: none.
    sample_images: int = 2
    sample_steps: int = 25
    sample_every: int = 1

    def __post_init__(self):
        from synesthesia.models.tracking import parse_trackers

        parse_trackers(self.tracker)
        if self.trainable not in TRAINABLE:
            raise ValueError(f"trainable must be one of {TRAINABLE}, not {self.trainable!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}")
        if min(self.epochs, self.batch_size, self.val_batch_size, self.grad_accum_steps) < 1:
            raise ValueError("epochs, batch sizes and grad_accum_steps must be >= 1")
        object.__setattr__(self, "adam_betas", tuple(float(b) for b in self.adam_betas))

    @property
    def parts(self) -> set[str]:
        return set(self.trainable.split("+"))


#: Fields a resumed run may change (they do not change the result).
RESUMABLE_CHANGES = frozenset({"max_steps", "num_workers", "progress", "device", "tracker", "sample_images", "sample_steps", "sample_every"})


@dataclass(frozen=True)
class RunConfig:
    model: MusipainterConfig = MusipainterConfig()
    train: TrainConfig = TrainConfig()

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "train": self.train.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        return cls(*run_sections(values, MusipainterConfig, TrainConfig))

    def replace(self, model: dict | None = None, **train) -> "RunConfig":
        m = dataclasses.replace(self.model, **{k: v for k, v in (model or {}).items() if v is not None})
        t = dataclasses.replace(self.train, **{k: v for k, v in train.items() if v is not None})
        return RunConfig(m, t)


def presets() -> list[str]:
    return preset_names(CONFIG_DIR)


def load_config(spec: str | Path | None = None) -> RunConfig:
    """A preset name (``model1``, ``model2``, ``tiny``), a YAML/JSON file, or None (= ``model1``)."""
    return RunConfig.from_dict(read_config_file("model1" if spec is None else spec, CONFIG_DIR))


def dump_config(config: RunConfig) -> str:
    return dump_yaml(config.to_dict())
