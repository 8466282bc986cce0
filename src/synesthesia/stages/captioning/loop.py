"""The regenerate-below-threshold loop (Art2Mus section 3.2).

Each item is captioned, its caption scored (ICS for artworks, ACS for fused
music captions); while the composite score is below the threshold the item
is captioned again with a refined prompt that names the low scores.

Choices where the paper is open (also in the README):

* **Attempts.** "Regeneration was allowed for up to 3 iterations": 3
  *regenerations* after the first caption, so at most **4 attempts** in total
  (``attempt`` 0..3).
* **Kept caption.** The paper keeps a caption even when none passes but does
  not say which. We keep the **best** attempt (highest composite; the earliest
  on a tie), so regenerating can never make the dataset's caption worse. When
  an attempt passes it is the last one and, every earlier one having failed,
  also the best. ``keep="last"`` is available.
* **Null scores.** A composite that could not be computed (the user skipped a
  score, see ``stages.quality``) cannot fail the threshold: the first
  caption is kept, ``passed`` is null and no regeneration happens.
* **Backend errors.** An attempt that fails in the backend (timeout, HTTP 500
  after retries...) is recorded as a row with ``error`` and no caption; the
  item stops for this run and the next run retries that attempt (error rows
  are dropped and replaced), continuing from the successful attempts already
  stored. The attempt history *is* the loop state, so a resumed run never
  regenerates a finished attempt.
* **Batching.** Attempts run in rounds over a whole shard (all first
  captions in one backend call, then all items still below threshold...), so
  vLLM gets one batched call per round.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND
from synesthesia.datasets.secrets import redact
from synesthesia.stages.captioning import GenerationRequest, TextGenerator
from synesthesia.stages.captioning.prompts import PromptSet, issues_for

#: Art2Mus: "Captions with ICScore or ACScore below the threshold of 0.80 were regenerated".
DEFAULT_THRESHOLD = 0.80
#: Art2Mus: "Regeneration was allowed for up to 3 iterations" -> 4 attempts in total.
DEFAULT_MAX_REGENERATIONS = 3
KEEP_POLICIES = ("best", "last")


@dataclass(frozen=True)
class LoopConfig:
    threshold: float = DEFAULT_THRESHOLD
    max_regenerations: int = DEFAULT_MAX_REGENERATIONS
    keep: str = "best"

    def __post_init__(self):
        if self.max_regenerations < 0:
            raise ValueError("max_regenerations must be >= 0")
        if self.keep not in KEEP_POLICIES:
            raise ValueError(f"keep must be one of {KEEP_POLICIES}")

    @property
    def max_attempts(self) -> int:
        return 1 + self.max_regenerations


@dataclass(frozen=True)
class LoopItem:
    """What the loop captions: an artwork (``image_path``) or a track (its
    ``segments`` captions, which the fusion prompt quotes and ACS scores against)."""

    item_id: str
    image_path: str | None = None
    segments: tuple[str, ...] = ()
    #: transparent pixels are composited onto this colour (``datasets.media.to_rgb``)
    image_background: str = DEFAULT_ALPHA_BACKGROUND


class CaptionScorer(Protocol):
    """Scores captions of items. ``score`` returns, per caption, a dict with
    the table's score columns (the normalised components under the names in
    :data:`COMPONENT_COLUMNS`, which the refine prompt quotes), the composite
    under ``composite`` (None when not computable) and ``score_note`` (why
    something is null, else None)."""

    composite: str  # column name: "ics" | "acs"
    label: str  # "ICS" | "ACS"

    def score(self, items: Sequence[LoopItem], captions: Sequence[str]) -> list[dict]: ...


def attempt_seed(seed: int, item_id: str, attempt: int) -> int:
    digest = hashlib.sha1(f"{seed}:{item_id}:{attempt}".encode()).hexdigest()
    return int(digest[:8], 16)


def successful(rows: Sequence[dict]) -> list[dict]:
    return [r for r in rows if r.get("error") is None and r.get("caption") is not None]


def needs_attempt(rows: Sequence[dict], composite: str, config: LoopConfig) -> bool:
    """Whether an item (its attempt rows so far) gets another attempt."""
    ok = successful(rows)
    if not ok:
        return True
    value = ok[-1].get(composite)
    if value is None or value >= config.threshold:
        return False
    return len(ok) < config.max_attempts


def finished(rows: Sequence[dict], composite: str, config: LoopConfig) -> bool:
    """Done for good: has a caption and needs no further attempt."""
    return bool(successful(rows)) and not needs_attempt(rows, composite, config)


def run_caption_loop(
    items: Sequence[LoopItem],
    history: dict[str, list[dict]],
    prompts: PromptSet,
    generator: TextGenerator,
    scorer: CaptionScorer,
    config: LoopConfig,
    seed: int = 0,
    on_round: Callable[[int, int], None] | None = None,
) -> dict[str, list[dict]]:
    """Run (or continue) the loop for ``items``.

    ``history`` maps item id -> attempt rows of an earlier run (may be empty);
    its error rows are dropped (those attempts are retried). Returns item id
    -> attempt rows (attempt order) with ``kept`` set by :func:`mark_kept`.
    """
    rows = {item.item_id: successful(history.get(item.item_id, [])) for item in items}
    by_id = {item.item_id: item for item in items}
    stopped: set[str] = set()  # failed in the backend this run
    scored: dict[tuple[str, str], dict] = {}  # (item, caption) -> its score columns
    round_no = 0
    while True:
        pending = [i for i in items if i.item_id not in stopped and needs_attempt(rows[i.item_id], scorer.composite, config)]
        if not pending:
            break
        if on_round:
            on_round(round_no, len(pending))
        requests, meta = [], []
        for item in pending:
            ok = rows[item.item_id]
            attempt = len(ok)
            if attempt == 0:
                version, prompt = prompts.first(item.segments)
            else:
                last = ok[-1]
                version, prompt = prompts.refined(
                    previous=last["caption"],
                    issues=issues_for(components_of(last), config.threshold),
                    composite=scorer.label,
                    value=last[scorer.composite],
                    threshold=config.threshold,
                    segments=item.segments,
                )
            requests.append(
                GenerationRequest(
                    key=f"{item.item_id}#{attempt}",
                    prompt=prompt,
                    image_path=item.image_path,
                    image_background=item.image_background,
                    context=item.segments,
                    attempt=attempt,
                    seed=attempt_seed(seed, item.item_id, attempt),
                )
            )
            meta.append((item.item_id, attempt, version, prompt))
        results = generator.generate(requests)
        if len(results) != len(requests):
            raise RuntimeError(f"{generator.name} returned {len(results)} results for {len(requests)} requests")
        bases = [
            {"attempt": attempt, "backend": generator.name, "model": generator.model, "prompt_version": version, "prompt": prompt, "threshold": config.threshold}
            for _, attempt, version, prompt in meta
        ]
        good = [(m, b, r) for m, b, r in zip(meta, bases, results) if r.ok]
        # A caption this run already scored for the item (a deterministic backend
        # repeating itself) keeps its score: the scorers are deterministic too.
        fresh = [g for g in good if (g[0][0], g[2].text) not in scored]
        if fresh:
            for (m, _, r), score in zip(fresh, scorer.score([by_id[m[0]] for m, _, _ in fresh], [r.text for _, _, r in fresh])):
                scored[(m[0], r.text)] = score
        scores = [scored[(m[0], r.text)] for m, _, r in good]
        for (item_id, *_), base, result in zip(meta, bases, results):
            if not result.ok:
                # a server's error body may echo the request, credentials included
                rows[item_id].append({**base, "caption": None, "n_chars": None, "error": redact(result.error or "no text returned")})
                stopped.add(item_id)
        for ((item_id, *_), base, result), score in zip(good, scores):
            value = score.get(scorer.composite)
            row = {
                **base,
                "caption": result.text,
                "n_chars": len(result.text),
                "error": None,
                **score,
                "passed": None if value is None else bool(value >= config.threshold),
            }
            # keep attempt order: a successful attempt goes before any error row
            rows[item_id].insert(len(successful(rows[item_id])), row)
        round_no += 1
    return {item_id: mark_kept(r, scorer.composite, config) for item_id, r in rows.items()}


#: Score column -> the name the refine prompt uses for it.
COMPONENT_COLUMNS = {"clip_norm": "CLIP-Score", "pac_norm": "PAC-Score", "rouge1": "ROUGE-1", "bertscore": "BERTScore"}


def components_of(row: dict) -> dict[str, float | None]:
    """The normalised component scores of an attempt row, by name."""
    return {label: row.get(col) for col, label in COMPONENT_COLUMNS.items() if col in row}


def mark_kept(rows: list[dict], composite: str, config: LoopConfig) -> list[dict]:
    """Set ``kept`` on exactly one successful row (none if there is none)."""
    ok = [i for i, r in enumerate(rows) if r.get("error") is None and r.get("caption") is not None]
    chosen = None
    if ok:
        if config.keep == "last":
            chosen = ok[-1]
        else:
            best = float("-inf")
            for i in ok:
                value = rows[i].get(composite)
                value = float("-inf") if value is None else value
                if chosen is None or value > best:
                    chosen, best = i, value
    out = []
    for i, r in enumerate(rows):
        r = {**r, "kept": i == chosen}
        out.append(r)
    return out
