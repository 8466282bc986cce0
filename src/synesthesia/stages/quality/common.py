"""What both scorers share."""

from __future__ import annotations


class MissingWeights(RuntimeError):
    """A scorer's model or weights file is not available; the message says
    where to get it and which option skips the score instead."""
