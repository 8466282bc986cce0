"""What both scorers share."""

from __future__ import annotations


class MissingWeights(RuntimeError):
    """A scorer's model or weights file is not available; the message says
    where to get it and which option skips the score instead."""


_REACHABLE: dict[str, bool] = {}


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection (once per process;
    never when ``HF_HUB_OFFLINE`` is set)."""
    import os
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    if host not in _REACHABLE:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            _REACHABLE[host] = True
        except OSError:
            _REACHABLE[host] = False
    return _REACHABLE[host]


def model_unavailable(name: str) -> str | None:
    """Why a model given by hub name or path cannot be loaded here, or None:
    a local folder, a name in the local Hugging Face cache, or a hub that
    answers (it will be downloaded when its stage starts) are all fine."""
    from pathlib import Path

    if Path(name).exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return None
    except Exception:  # not a valid repo id, or no huggingface_hub: the hub check decides
        pass
    if hub_reachable():
        return None
    return f"{name!r} is neither a local folder nor in the Hugging Face cache, and the hub cannot be reached"
