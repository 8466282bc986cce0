"""Each rater's queue: the tasks planned for them (``assignments`` /
``preference_assignments``) in a seeded order, with quality-control checks
mixed in (see :mod:`synesthesia.annotation.quality`).

For a rater with n planned tasks of one project kind:

* the n tasks are shuffled (seeded by the seed, the kind and the rater);
* ``round(repeat_share · n)`` (at most ⌊n/2⌋) of the tasks in the first half
  are shown again, each right after the planned task ⌈n/2⌉ places later (so
  every repeat lands in the second half, far from its original; a
  preference repeat shows A and B swapped);
* ``round(gold_share · n)`` gold items of the kind (at most as many as there
  are; each at most once per rater) are spread evenly over the queue, never
  first.

A check's id (``qc_id``) hashes the kind, the rater, the check and what it
shows, so planning again gives the same ids; it looks like a pair or task id.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pyarrow as pa

from synesthesia.annotation.quality import GOLD, RATINGS, REPEAT
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import rng_for, stable_hash


def qc_id(project_kind: str, rater: str, check: str, of_id: str) -> str:
    """A check's id, shaped like the ids of the tasks around it (``pair-`` /
    ``pref-`` and 16 hex digits), so nothing in a rater's task list marks it."""
    return ("pair-" if project_kind == RATINGS else "pref-") + stable_hash(project_kind, rater, check, of_id, length=16)


def _gold_display(row: dict, project_kind: str, rng: np.random.Generator) -> dict:
    if project_kind == RATINGS:
        return {"painting_id": row["painting_id"], "clip_id": row["clip_id"], "reference_score": row["score"]}
    a, b = (row["better_id"], row["worse_id"]) if rng.random() < 0.5 else (row["worse_id"], row["better_id"])
    return {"query_id": row["query_id"], "candidate_a": a, "candidate_b": b, "reference_id": row["better_id"]}


def _repeat_display(shown: dict, project_kind: str) -> dict:
    if project_kind == RATINGS:
        return {"painting_id": shown["painting_id"], "clip_id": shown["clip_id"]}
    return {"query_id": shown["query_id"], "candidate_a": shown["candidate_b"], "candidate_b": shown["candidate_a"]}


def plan_queues(
    assignments: pa.Table,
    key: str,
    project_kind: str,
    shown: Mapping[str, dict],
    gold: pa.Table,
    gold_share: float,
    repeat_share: float,
    seed: int,
) -> tuple[pa.Table, pa.Table]:
    """``(queues, qc_tasks)`` (``schema.MPD_QUEUES``, ``schema.MPD_QC_TASKS``)
    for one project kind. ``assignments``: ``key`` + ``rater_id`` rows;
    ``shown``: per item id, what its task shows (ratings: ``painting_id``,
    ``clip_id``; preferences: ``query_id``, ``candidate_a``, ``candidate_b``);
    ``gold``: ``schema.MPD_GOLD`` rows (those of other kinds are ignored)."""
    gold_rows = [g for g in gold.to_pylist() if g["kind"] == project_kind]
    by_rater: dict[str, list[str]] = {}
    for item, rater in zip(assignments.column(key).to_pylist(), assignments.column("rater_id").to_pylist()):
        by_rater.setdefault(rater, []).append(item)
    queue_rows, qc_rows = [], []
    for rater in sorted(by_rater):
        rng = rng_for(seed, "queues", project_kind, rater)
        items = sorted(by_rater[rater])
        items = [items[i] for i in rng.permutation(len(items))]
        n = len(items)
        half = math.ceil(n / 2)
        after: dict[int, list[tuple[str, str]]] = {}  # planned position -> checks shown right after it
        n_repeat = min(round(repeat_share * n), n - half) if n >= 2 else 0
        for pos in sorted(rng.choice(n - half, size=n_repeat, replace=False).tolist()) if n_repeat else []:
            of = items[pos]
            qid = qc_id(project_kind, rater, REPEAT, of)
            after.setdefault(pos + half, []).append((qid, REPEAT))
            qc_rows.append({"qc_id": qid, "check": REPEAT, "project_kind": project_kind, "rater_id": rater, "of_id": of,
                            **_repeat_display(shown[of], project_kind)})
        n_gold = min(round(gold_share * n), len(gold_rows)) if n else 0
        picked = [gold_rows[i] for i in rng.permutation(len(gold_rows))[:n_gold]]
        for k, g in enumerate(picked):
            spacing = n / n_gold
            pos = min(n - 1, int((k + 0.5) * spacing + rng.uniform(-0.25, 0.25) * spacing))
            qid = qc_id(project_kind, rater, GOLD, g["gold_id"])
            after.setdefault(pos, []).append((qid, GOLD))
            qc_rows.append({"qc_id": qid, "check": GOLD, "project_kind": project_kind, "rater_id": rater, "of_id": g["gold_id"],
                            **_gold_display(g, project_kind, rng)})
        sequence = []
        for pos, item in enumerate(items):
            sequence.append((item, ""))
            sequence.extend(after.get(pos, []))
        queue_rows.extend(
            {"rater_id": rater, "project_kind": project_kind, "position": i, "item_id": item, "check": check}
            for i, (item, check) in enumerate(sequence)
        )
    return S.from_rows(queue_rows, S.MPD_QUEUES), S.from_rows(qc_rows, S.MPD_QC_TASKS)
