"""One device resolver for every model, scorer and embedder.

``auto`` (or nothing): this process's GPU if there is one, else the CPU. A
bare ``cuda`` means this process's GPU too: under ``torchrun`` each process
has its own ``LOCAL_RANK`` and takes ``cuda:LOCAL_RANK``. Anything else
(``cpu``, ``cuda:1``, ``mps``) is read by torch as it is.
"""

from __future__ import annotations

import os


def local_rank() -> int:
    """This process's rank on its node (``torchrun`` sets ``LOCAL_RANK``)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def resolve_device(name: str | None = "auto", rank: int | None = None):
    """The ``torch.device`` that ``name`` means for this process."""
    import torch

    rank = local_rank() if rank is None else rank
    if not name or name == "auto":
        return torch.device(f"cuda:{rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", rank)
    return device
