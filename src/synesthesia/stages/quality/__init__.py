"""Caption quality scores of the Art2Mus paper (section 3.2).

* ``ICS = γ·CLIP-S + (1-γ)·PAC-S`` with γ = 0.35, for an artwork and its
  caption (:mod:`.image`).
* ``ACS = α·ROUGE-1 + (1-α)·BERTScore`` with α = 0.30, for a fused music
  caption against the track's 10 s segment captions (:mod:`.text`).

Both scorers follow the loop's :class:`~synesthesia.stages.captioning.loop.CaptionScorer`
protocol. A scorer whose weights are missing stops with a message that says
what to download, unless the user asked to skip that score: then the score
(and the composite that needs it) is recorded as null with the reason in
``score_note``.
"""

from __future__ import annotations

from synesthesia.stages.quality.common import MissingWeights  # noqa: F401
from synesthesia.stages.quality.image import ICSConfig, ICSScorer  # noqa: F401
from synesthesia.stages.quality.text import ACSConfig, ACSScorer  # noqa: F401
