"""Run configuration as data: a model section (``MPJudgeConfig``) and a
training section (``TrainConfig``), read from YAML/JSON files or named presets
(``configs/<name>.yaml`` in this package: ``paper``, ``tiny``).

A config file holds either section or both; missing keys keep their
defaults, unknown keys are an error::

    model:
      fusion: man          # man | concat | cross-attention | none
    train:
      epochs: 200
      dpo_beta: 10.0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path


from synesthesia.models.mpjudge.losses import DPO_BETA, LAMBDA_DPO, LAMBDA_REG
from synesthesia.models.configs import ConfigData, dump_yaml, preset_names, read_config_file, run_sections
from synesthesia.models.mpjudge.model import MPJudgeConfig

CONFIG_DIR = Path(__file__).with_name("configs")
OPTIMIZERS = ("adam", "adamw")
LR_SCHEDULES = ("cosine", "constant")
AMP_MODES = ("auto", "bf16", "off")

#: Paper, Training Details.
PAPER_BATCH_SIZE = 1024
PAPER_LR = 1e-5
PAPER_WEIGHT_DECAY = 0.05
#: Accuracy: prediction and ground truth each binarised at this score
#: ("match" iff ≥ 0.5) and compared. The paper says only "with a fixed
#: threshold"; its Table 2 (MAE 0.21 with ACC 0.72 for L3-Net) fits a
#: match/mismatch decision, not a tolerance on the error.
ACCURACY_THRESHOLD = 0.5


@dataclass(frozen=True)
class TrainConfig(ConfigData):
    """How to train. Paper numbers are the defaults where the paper gives them."""

    #: Paper silent; the authors' public train.py runs 200 epochs.
    epochs: int = 200
    #: Global batch of scored pairs per optimizer step (paper: 1024), split
    #: evenly over the processes. Each step also takes a proportional share
    #: of the preference items, so both sets are used once per epoch.
    batch_size: int = PAPER_BATCH_SIZE
    #: Paper: "the Adam optimizer ... with a weight decay of 0.05".
    #: "adam" (default): torch.optim.Adam, weight decay as the L2 term added
    #: to the gradient; "adamw": Adam with decoupled weight decay. Either way
    #: only weight matrices and conv kernels decay, not biases, norm
    #: parameters, other 1-D parameters or the position embedding
    #: (``optim.decay_groups``).
    optimizer: str = "adam"
    lr: float = PAPER_LR
    weight_decay: float = PAPER_WEIGHT_DECAY
    adam_betas: tuple[float, float] = (0.9, 0.999)
    #: Paper silent; the authors' code anneals with a cosine. Per step, to 0.
    lr_schedule: str = "cosine"
    warmup_steps: int = 0
    lambda_reg: float = LAMBDA_REG
    lambda_dpo: float = LAMBDA_DPO
    dpo_beta: float = DPO_BETA
    #: The DPO reference model f_ref is a frozen copy of the model's weights
    #: (and batch-norm statistics) at the start of this epoch, normalising as
    #: the policy does in each step (``train.frozen_copy``,
    #: ``train.reference_scores``); before it, training is regression only
    #: (the usual "fine-tune, then DPO against the fine-tuned model" recipe;
    #: a reference at random initialisation would anchor Eq. 6 on noise).
    #: 0 makes the initial weights the reference. Saved in every checkpoint.
    dpo_start_epoch: int = 20
    #: Micro-batches per optimizer step: each process's batch is cut into this
    #: many forward/backward passes whose gradients add up to the whole
    #: batch's (same loss; batch norm sees the smaller batches). For the
    #: paper's batch of 1024 on fewer GPUs than the paper's eight.
    grad_accum_steps: int = 1
    grad_clip_norm: float = 0.0  # 0 = no clipping (paper silent)
    accuracy_threshold: float = ACCURACY_THRESHOLD
    eval_split: str = "val"  # evaluated after every epoch; "" = none
    eval_batch_size: int = 256
    seed: int = 0
    num_workers: int = -1  # DataLoader workers; -1 = 4 on GPU, 0 on CPU
    checkpoint_every_steps: int = 0  # besides the end of every epoch; 0 = only there
    keep_checkpoints: int = 2
    max_steps: int | None = None  # stop (with a checkpoint) after this global step
    #: "auto": bf16 autocast on CUDA, fp32 on CPU; "bf16": bf16 autocast on
    #: any device (CPU too); "off": fp32 everywhere.
    amp: str = "auto"
    device: str = "auto"  # auto = cuda:LOCAL_RANK when available, else cpu
    progress: bool = True
    cache_dir: str | None = None  # media caches; None = MPD_DIR/_work/mpjudge-cache
    #: Where the curves go (models/tracking.py): tensorboard, wandb, both ("tensorboard,wandb") or none.
    tracker: str = "tensorboard"

    def __post_init__(self):
        from synesthesia.models.tracking import parse_trackers

        parse_trackers(self.tracker)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {AMP_MODES}")
        if self.batch_size < 1 or self.epochs < 1 or self.grad_accum_steps < 1:
            raise ValueError("batch_size, epochs and grad_accum_steps must be >= 1")
        if self.dpo_beta <= 0:
            raise ValueError("dpo_beta must be > 0 (Eq. 6)")
        object.__setattr__(self, "adam_betas", tuple(float(b) for b in self.adam_betas))



#: Fields that may differ when a run is resumed (they do not change the result).
RESUMABLE_CHANGES = frozenset({"max_steps", "num_workers", "progress", "device", "cache_dir", "eval_batch_size", "checkpoint_every_steps", "keep_checkpoints", "tracker"})


@dataclass(frozen=True)
class RunConfig:
    model: MPJudgeConfig = MPJudgeConfig()
    train: TrainConfig = TrainConfig()

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "train": self.train.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        return cls(*run_sections(values, MPJudgeConfig, TrainConfig))

    def replace(self, **train_overrides) -> "RunConfig":
        overrides = {k: v for k, v in train_overrides.items() if v is not None}
        return RunConfig(self.model, dataclasses.replace(self.train, **overrides)) if overrides else self


def presets() -> list[str]:
    return preset_names(CONFIG_DIR)


def load_config(spec: str | Path | None = None) -> RunConfig:
    """A preset name (``paper``, ``tiny``), a YAML/JSON file, or None (= ``paper``)."""
    return RunConfig.from_dict(read_config_file("paper" if spec is None else spec, CONFIG_DIR))


def dump_config(config: RunConfig) -> str:
    return dump_yaml(config.to_dict())
