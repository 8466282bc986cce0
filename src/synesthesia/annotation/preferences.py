"""Preference tasks for ambiguous pairs, and the consensus over their votes.

MPD paper, Preference Annotation for Ambiguous Pairs: from the pairs whose
score lies in [0.4, 0.6], "we randomly generate preference pairs of the form
{(M_i, M_j) | P_m} and {(P_i, P_j) | M_n} ... In total, we construct 10,428
such preference tasks. ... Each preference task is labeled by at least three
annotators ... we retain only those instances where a consensus (i.e.,
majority agreement) is reached."

Choices where the paper is silent:

* A task {(M_i, M_j) | P_m} needs both (P_m, M_i) and (P_m, M_j) to be
  ambiguous rated pairs (likewise {(P_i, P_j) | M_n}); the two pairs must be
  in the same split, so tasks inherit the leak-free splits made at pairing
  time (with item-level splits they always are).
* Every candidate task (each unordered pair of candidates for each query) is
  enumerated; the target count is divided evenly between the two kinds (a
  kind with too few candidates gives its surplus to the other) and each
  kind's tasks are a uniform random sample of its candidates, seeded. Which
  candidate is shown as A and which as B is a seeded coin flip (so position
  bias averages out). No task appears twice, mirrored or not: the task id
  hashes the kind, the query and the *unordered* candidate pair.
* The paper's counts do not add up (10,428 tasks but 5,582 + 5,403 = 10,985
  consensus samples); we keep at most one consensus pair per task.
* Consensus: a task is kept when it has at least ``min_votes`` votes (the
  paper's "at least three annotators") and the winning candidate has a
  strict majority of them (``votes_for / votes_total > min_share``, 0.5).
  Ties and tasks still short of votes are not kept; they are counted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.annotation.aggregate import factorize
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import rng_for

#: MPD paper: "In total, we construct 10,428 such preference tasks."
MPD_PREFERENCE_TASKS = 10_428
#: MPD paper: "Each preference task is labeled by at least three annotators."
MPD_MIN_VOTES = 3

CLIPS_GIVEN_PAINTING, PAINTINGS_GIVEN_CLIP = S.PREFERENCE_KINDS
#: MPD paper: consensus kept "5,582 music-to-painting and 5,403 painting-to-music
#: preference samples". Read as: music-to-painting = a painting chosen for a clip
#: (paintings_given_clip), painting-to-music = a clip chosen for a painting.
PAPER_CONSENSUS = {PAINTINGS_GIVEN_CLIP: 5_582, CLIPS_GIVEN_PAINTING: 5_403}
#: Per kind: (query column, candidate column) of pairs.parquet.
KIND_COLUMNS = {
    CLIPS_GIVEN_PAINTING: ("painting_id", "clip_id"),
    PAINTINGS_GIVEN_CLIP: ("clip_id", "painting_id"),
}


@dataclass(frozen=True)
class PreferenceConfig:
    n_tasks: int = MPD_PREFERENCE_TASKS
    seed: int = 0

    def __post_init__(self):
        if self.n_tasks < 0:
            raise ValueError("n_tasks must be >= 0")


@dataclass(frozen=True)
class ConsensusConfig:
    min_votes: int = MPD_MIN_VOTES
    #: keep a task when votes_for / votes_total > min_share (0.5: strict majority)
    min_share: float = 0.5

    def __post_init__(self):
        if self.min_votes < 1:
            raise ValueError("min_votes must be >= 1")
        if not 0.0 <= self.min_share < 1.0:
            raise ValueError("min_share must be in [0, 1)")


def preference_task_id(kind: str, query_id: str, a: str, b: str) -> str:
    lo, hi = sorted((a, b))
    return "pref-" + hashlib.sha1(f"{kind}|{query_id}|{lo}|{hi}".encode()).hexdigest()[:16]


def shown_swapped(seed: int, task_id: str) -> bool:
    """Whether a task shows its candidates in swapped (id-descending) order as
    A and B: a fair coin keyed by the seed and the task id rather than drawn
    from a stream, so a task keeps its A/B order when the tasks are rebuilt
    from more ratings (Label Studio keeps the order a task was pushed with)."""
    return bool(hashlib.sha1(f"{seed}|{task_id}|shown-order".encode()).digest()[0] & 1)


def _candidate_pairs(group_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs (i < j) of rows sharing a group; rows must be sorted by group."""
    n = group_codes.size
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    boundaries = np.flatnonzero(np.diff(group_codes)) + 1
    starts = np.concatenate([[0], boundaries])
    sizes = np.diff(np.concatenate([starts, [n]]))
    firsts, seconds = [], []
    for size in np.unique(sizes[sizes >= 2]):
        s = starts[sizes == size]
        iu, ju = np.triu_indices(int(size), 1)
        firsts.append((s[:, None] + iu[None, :]).reshape(-1))
        seconds.append((s[:, None] + ju[None, :]).reshape(-1))
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def _split_target(n_tasks: int, available: dict[str, int]) -> dict[str, int]:
    kinds = list(S.PREFERENCE_KINDS)
    want = {kinds[0]: n_tasks - n_tasks // 2, kinds[1]: n_tasks // 2}
    got = {k: min(want[k], available[k]) for k in kinds}
    for k in kinds:  # hand one kind's shortfall to the other
        other = kinds[1 - kinds.index(k)]
        spare = want[k] - got[k]
        if spare > 0:
            got[other] = min(available[other], got[other] + spare)
    return got


def _ambiguous_pairs(scores: pa.Table, pairs: pa.Table) -> pa.Table:
    """The pairs whose score is ambiguous, with their score (split null → "")."""
    idx = pc.index_in(pairs.column("pair_id"), value_set=scores.column("pair_id"))
    amb = pc.fill_null(pc.take(scores.column("ambiguous"), idx), False)
    table = pairs.filter(amb)
    score = pc.take(scores.column("score"), pc.filter(idx, amb))
    split = pc.fill_null(table.column("split"), "")
    return table.set_column(table.schema.get_field_index("split"), "split", split).append_column("score", score)


def build_preference_tasks(scores: pa.Table, pairs: pa.Table, config: PreferenceConfig = PreferenceConfig()) -> tuple[pa.Table, dict]:
    """Preference tasks (``schema.MPD_PREFERENCE_TASKS``) from the ambiguous
    scored pairs, and a summary (ambiguous pairs, candidates and tasks per kind).

    Vectorised over integer codes; strings are touched only for the tasks drawn."""
    amb = _ambiguous_pairs(scores, pairs)
    split_codes, _ = factorize(amb.column("split"), sort=True)  # sorted codes: the result does not depend on row order
    candidates, groups = {}, {}
    for kind, (query, candidate) in KIND_COLUMNS.items():
        q_codes, q_names = factorize(amb.column(query), sort=True)
        c_codes, _ = factorize(amb.column(candidate), sort=True)
        group = split_codes * max(len(q_names), 1) + q_codes
        order = np.lexsort((c_codes, group))
        sizes = np.bincount(group)
        groups[kind] = (order, group[order])
        candidates[kind] = int((sizes * (sizes - 1) // 2).sum())
    targets = _split_target(config.n_tasks, candidates)
    parts = []
    for kind, (query, candidate) in KIND_COLUMNS.items():
        if targets[kind] == 0:
            continue
        order, sorted_group = groups[kind]
        i, j = _candidate_pairs(sorted_group)
        rng = rng_for(config.seed, "preference-tasks", kind)
        pick = np.sort(rng.choice(i.size, size=targets[kind], replace=False))
        i, j = order[i[pick]], order[j[pick]]
        ids = [
            preference_task_id(kind, x, y, z)
            for x, y, z in zip(amb.column(query).take(i).to_pylist(), amb.column(candidate).take(i).to_pylist(), amb.column(candidate).take(j).to_pylist())
        ]
        flip = np.fromiter((shown_swapped(config.seed, t) for t in ids), bool, len(ids))
        a = pa.array(np.where(flip, j, i))
        b = pa.array(np.where(flip, i, j))
        rows_a, rows_b = amb.take(a), amb.take(b)
        q = rows_a.column(query)
        ca, cb = rows_a.column(candidate), rows_b.column(candidate)
        parts.append(
            pa.table(
                {
                    "task_id": pa.array(ids, pa.string()),
                    "kind": pa.array([kind] * len(ids), pa.string()),
                    "query_id": q,
                    "candidate_a": ca,
                    "candidate_b": cb,
                    "pair_a": rows_a.column("pair_id"),
                    "pair_b": rows_b.column("pair_id"),
                    "score_a": rows_a.column("score"),
                    "score_b": rows_b.column("score"),
                    "split": rows_a.column("split"),
                }
            )
        )
    if parts:
        table = pa.concat_tables(parts)
        split = table.column("split")
        table = table.set_column(table.schema.get_field_index("split"), "split", pc.if_else(pc.equal(split, ""), pa.scalar(None, pa.string()), split))
        table = S.conform(table, S.MPD_PREFERENCE_TASKS).sort_by([("kind", "ascending"), ("split", "ascending"), ("task_id", "ascending")])
    else:
        table = S.empty(S.MPD_PREFERENCE_TASKS)
    summary = {
        "ambiguous_pairs": amb.num_rows,
        "scored_pairs": scores.num_rows,
        "requested": config.n_tasks,
        "candidates": candidates,
        "tasks": {k: int(v) for k, v in targets.items()},
    }
    return table, summary


def consensus(tasks: pa.Table, votes: pa.Table, config: ConsensusConfig = ConsensusConfig()) -> tuple[pa.Table, dict]:
    """Consensus preference pairs (``schema.MPD_PREFERENCE_PAIRS``) and counts
    per kind: kept, tied / no majority, waiting for votes, no votes."""
    import pandas as pd  # here, not at the top: the command line imports this module for its defaults

    t = pd.DataFrame({c: tasks.column(c).to_numpy(zero_copy_only=False) for c in ("task_id", "kind", "query_id", "candidate_a", "candidate_b", "split")})
    v = pd.DataFrame({c: votes.column(c).to_numpy(zero_copy_only=False) for c in ("task_id", "choice")})
    v = v[v["task_id"].isin(t["task_id"])]
    counts = pd.crosstab(v["task_id"], v["choice"]).reindex(columns=["a", "b"], fill_value=0) if len(v) else pd.DataFrame(columns=["a", "b"])
    t = t.merge(counts, left_on="task_id", right_index=True, how="left")
    t[["a", "b"]] = t[["a", "b"]].fillna(0).astype(int)
    total = t["a"] + t["b"]
    top = np.maximum(t["a"], t["b"])
    enough = total >= config.min_votes
    majority = top > config.min_share * total
    keep = enough & majority & (total > 0)
    winner_a = t["a"] > t["b"]
    kept = t[keep]
    out = pd.DataFrame(
        {
            "task_id": kept["task_id"],
            "kind": kept["kind"],
            "query_id": kept["query_id"],
            "chosen_id": np.where(winner_a[keep], kept["candidate_a"], kept["candidate_b"]),
            "rejected_id": np.where(winner_a[keep], kept["candidate_b"], kept["candidate_a"]),
            "votes_for": top[keep].astype(np.int32),
            "votes_total": total[keep].astype(np.int32),
            "split": kept["split"],
        }
    ).sort_values(["kind", "split", "task_id"])
    table = pa.Table.from_pandas(out, schema=S.MPD_PREFERENCE_PAIRS, preserve_index=False)
    summary = {}
    for kind in S.PREFERENCE_KINDS:
        k = t["kind"] == kind
        summary[kind] = {
            "tasks": int(k.sum()),
            "kept": int((k & keep).sum()),
            "no_majority": int((k & enough & ~majority).sum()),
            "waiting": int((k & ~enough & (total > 0)).sum()),
            "no_votes": int((k & (total == 0)).sum()),
        }
    summary["votes"] = int(len(v))
    return table, summary
