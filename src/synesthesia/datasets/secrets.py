"""Secrets never reach a table, a log, a report or an exception message.

API keys are read from the environment only. Whatever text leaves a backend
or a server's error body on its way into a table or a message goes through
:func:`redact` first: every secret value this process knows (the usual key
variables, and any a backend registered with :func:`register`) is replaced,
and so are credentials in header-like text (``Authorization: Bearer …``,
``api_key=…``), since a server may echo the request it got.
"""

from __future__ import annotations

import os
import re
import threading

REDACTED = "[redacted]"
#: Environment variables that hold credentials wherever they are set.
SECRET_ENV = ("OPENAI_API_KEY", "LABEL_STUDIO_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY")
#: Shorter values are not redacted by value (they would hit ordinary words).
MIN_SECRET_LENGTH = 6

_registered: set[str] = set()
_lock = threading.Lock()
_HEADER = re.compile(
    r"""(?ix)
    (\b(?:authorization|proxy-authorization|x-api-key|api[-_]?key|access[-_]?token|token)\b["']?\s*[:=]\s*["']?)
    (?:(bearer|basic|token)\s+)?
    ([^\s"',;}\]]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def register(value: str | None) -> None:
    """Remember a secret this process uses (e.g. a key read from a custom variable)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _registered.add(value)


def known() -> list[str]:
    values = {os.environ.get(name, "") for name in SECRET_ENV} | _registered
    return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def redact(text: str | None, *extra: str) -> str | None:
    """``text`` with every known secret value and header-like credential replaced."""
    if not text:
        return text
    text = _HEADER.sub(lambda m: m.group(1) + (m.group(2) + " " if m.group(2) else "") + REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    for value in [*sorted((e for e in extra if e and len(e) >= MIN_SECRET_LENGTH), key=len, reverse=True), *known()]:
        text = text.replace(value, REDACTED)
    return text
