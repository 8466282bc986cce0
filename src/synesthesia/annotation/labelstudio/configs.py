"""The Label Studio labeling configs (XML files beside this module), laid
out for a 1366×768 laptop screen: the painting on one side, the player, the
answer and the briefing (the MPD paper's criteria, in a collapsible panel) on
the other, Submit in Label Studio's bar; nothing needs scrolling (checked in
headless Chromium by the Label Studio tests).

* ``ratings``: the painting, the audio clip and a ``<Number slider>`` on
  [0, 1] (step 0.01) named ``coherence``; exports ``{"number": x}``. Its
  ``<Style>`` makes the scale readable: tick marks at quarters, the end
  labels "0 — not coherent at all" / "1 — perfectly coherent", the value
  shown large above it, and **no thumb and "not set" until the rater clicks**
  (an untouched scale cannot pass for 0.5; Label Studio keeps Submit
  disabled until then, and ``required`` refuses an empty answer).
* ``clips_given_painting`` / ``paintings_given_clip``: the query and the two
  candidates, and a required single-choice ``<Choices name="preference">``
  whose choices carry the aliases ``a`` / ``b``; exports
  ``{"choices": ["a"]}``. (Label Studio's ``<Pairwise>`` over two ``<Audio>``
  cannot be answered in the browser and does not enforce ``required``, so a
  submitted task could silently carry no vote; ``<Choices>`` works for both
  kinds and keeps one import path.)

Keys: Shift+Space plays / pauses the clip (Shift+1 / Shift+2 for clip A / B,
Shift+1 for the clip of ``paintings_given_clip``), A and B choose, the arrow
keys move a focused scale by 0.01, Ctrl+Enter submits (Label Studio's own).

Task data fields each config reads: ratings ``$image``, ``$audio``;
clips_given_painting ``$image``, ``$audio_a``, ``$audio_b``;
paintings_given_clip ``$audio``, ``$image_a``, ``$image_b``.
"""

from __future__ import annotations

from importlib import resources

from synesthesia.datasets.schema import PREFERENCE_KINDS

RATINGS = "ratings"
PROJECT_KINDS = (RATINGS, *PREFERENCE_KINDS)
#: Control names the importer reads.
RATING_CONTROL = "coherence"
PREFERENCE_CONTROL = "preference"
#: Choice aliases (and visible values) → our "a" / "b".
CHOICE_VALUES = {"a": "a", "b": "b", "Clip A": "a", "Clip B": "b", "Painting A": "a", "Painting B": "b", "left": "a", "right": "b"}


def label_config(kind: str) -> str:
    """The labeling config XML of a project kind (``ratings`` or a preference kind)."""
    if kind not in PROJECT_KINDS:
        raise ValueError(f"unknown project kind {kind!r}; choose from {PROJECT_KINDS}")
    return resources.files(__package__).joinpath("configs", f"{kind}.xml").read_text(encoding="utf-8")
