"""One MPJudge training process, or the process group ``torchrun`` describes
(RANK, WORLD_SIZE, LOCAL_RANK): NCCL on GPUs, Gloo on CPU, and a final check
that every replica holds the same weights."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from synesthesia.models.devices import resolve_device
from synesthesia.models.mpjudge.config import TrainConfig
from synesthesia.models.mpjudge.model import MPJudge

# --- processes ----------------------------------------------------------------------------

@dataclass
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            tensor = tensor.clone()
            dist.all_reduce(tensor)
        return tensor


def init_distributed(cfg: TrainConfig) -> DistContext:
    """One process, or the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(cfg.device, local)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    owns = False
    if world > 1 and not dist.is_initialized():
        # Long timeout: rank 0 may spend a while building the media caches.
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(hours=2))
        owns = True
    return DistContext(rank, world, local, device, owns)


def check_replicas_in_sync(model: MPJudge, ctx: DistContext) -> None:
    checksum = torch.tensor([float(p.detach().double().sum()) for p in model.parameters()], dtype=torch.float64, device=ctx.device)
    gathered = [torch.zeros_like(checksum) for _ in range(ctx.world)]
    dist.all_gather(gathered, checksum)
    for other in gathered[1:]:
        if not torch.allclose(gathered[0], other, rtol=1e-6, atol=1e-9):
            raise RuntimeError("DDP replicas diverged: their weights differ at the end of training")
