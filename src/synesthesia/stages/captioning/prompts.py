"""Prompts as versioned data: every attempt row records the version and the
full text it was generated from.

* ``image-v1``: the art-expert instruction of the Art2Mus paper (Appendix A,
  Table 10), verbatim.
* ``fusion-v1``: ours (the paper only says Qwen3 merged the 10 s LP-MusicCaps
  captions "into a single coherent description"): merge the numbered segment
  captions into one paragraph that keeps their content and wording, adds
  nothing, and does not mention segments.
* ``image-refine-v1`` / ``fusion-refine-v1``: the feedback prompt of the
  regenerate-below-threshold loop. The paper: "a new prompt that explicitly
  informed the LLM/MLLM that the previously generated caption did not meet the
  required quality threshold and contained specific issues". Ours repeats the
  base instruction, quotes the *previous attempt's* caption, names the
  threshold and every component score that fell short (with what a low value
  of that score means), and asks for a new caption that fixes them. Only used
  after a failed attempt, as in the paper.

To change a prompt, add a new version here; never edit a released one (the
version in old attempt rows would then lie).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

#: Art2Mus Appendix A, Table 10 (the instruction given to the image captioners).
IMAGE_PROMPT_V1 = (
    "You are an art expert. Provide a concise description of this artwork, addressing its subject matter, "
    "the mood or emotion it conveys, key artistic techniques and style, and its possible artistic period or school"
)

FUSION_PROMPT_V1 = (
    "You are a music expert. Below are descriptions of consecutive 10-second segments of one music track, "
    "in order. Merge them into one coherent description of the whole track, written as a single paragraph. "
    "Keep their content and, where possible, their wording: instruments, genre, mood, tempo, and how the "
    "music changes between segments. Do not add anything the descriptions do not say, do not mention "
    "segments or timestamps, and do not ask questions.\n\nSegment descriptions:\n{segments}"
)

REFINE_V1 = (
    "{base}\n\nA previous {what} did not meet the required quality threshold of {threshold:.2f} "
    "({composite} = {value:.3f}). Its issues:\n{issues}\n\nPrevious {what}:\n\"\"\"{previous}\"\"\"\n\n"
    "Write a new {what} that fixes these issues."
)


@dataclass(frozen=True)
class PromptSet:
    """The prompts of one captioning task (image or fusion) and their versions."""

    task: str  # "image" | "fusion"
    base_version: str
    base: str
    refine_version: str
    refine: str
    what: str  # how the refine prompt names the thing ("description of this artwork")
    cue: str = ""  # appended after everything (where the answer starts)

    def first(self, segments: Sequence[str] = ()) -> tuple[str, str]:
        """(version, text) of the first attempt's prompt."""
        return self.base_version, self._base(segments) + self.cue

    def refined(self, previous: str, issues: Sequence[str], composite: str, value: float, threshold: float, segments: Sequence[str] = ()) -> tuple[str, str]:
        """(version, text) of a regeneration prompt after a failed attempt."""
        text = self.refine.format(
            base=self._base(segments),
            what=self.what,
            threshold=threshold,
            composite=composite,
            value=value,
            issues="\n".join(f"- {i}" for i in issues) or "- the overall score is too low",
            previous=previous,
        )
        return self.refine_version, text + self.cue

    def _base(self, segments: Sequence[str]) -> str:
        if self.task == "fusion":
            return self.base.format(segments="\n".join(f"{i + 1}. {s.strip()}" for i, s in enumerate(segments)))
        return self.base


IMAGE_PROMPTS = PromptSet("image", "image-v1", IMAGE_PROMPT_V1, "image-refine-v1", REFINE_V1, "description of this artwork")
FUSION_PROMPTS = PromptSet("fusion", "fusion-v1", FUSION_PROMPT_V1, "fusion-refine-v1", REFINE_V1, "merged description", "\n\nMerged description:")

#: What a low component score means, for the refine prompt's issue list.
SCORE_ISSUES = {
    "CLIP-Score": "it does not match the artwork's overall visual content well enough (CLIP-Score {value:.3f})",
    "PAC-Score": "it mentions details that are not visible in the artwork, or misses salient ones (PAC-Score {value:.3f})",
    "ROUGE-1": "it drops or rewords too much of the segment descriptions' content (ROUGE-1 {value:.3f})",
    "BERTScore": "its meaning drifts from what the segment descriptions say (BERTScore {value:.3f})",
}


def issues_for(components: dict[str, float | None], threshold: float) -> list[str]:
    """The issue lines of a refine prompt: every component below the
    threshold; if none is (the weighted mix still is), the lowest one."""
    present = {k: v for k, v in components.items() if v is not None}
    low = [k for k, v in present.items() if v < threshold]
    if not low and present:
        low = [min(present, key=present.get)]
    return [SCORE_ISSUES[k].format(value=present[k]) for k in low]
