"""Quality control of raters, beyond the MPD paper: gold pairs, repeat pairs,
per-rater statistics and the rule that flags a rater.

The paper checks its annotation after the fact (σ per pair, α). A campaign
of 50,000 pairs needs to see a rater go wrong while it runs, so each rater's
queue (``annotation.queues``) mixes in two kinds of checks:

* **gold**: a pair with an agreed reference score, or a preference task with
  an obvious answer, read from a file (:func:`read_gold`);
* **repeat**: a pair (or preference task) of the rater's own queue shown a
  second time, at least half a queue later (a preference repeat shows A and B
  swapped).

Answers to checks are stored apart (``schema.MPD_QC_ANSWERS``), never with the
ratings and votes, so no pair gets a rater's rating twice in its score.

Per rater (:func:`qc_stats`): ``gold_mae`` (mean |rating − reference|),
``repeat_mad`` (mean |first − second rating|), ``vote_gold_wrong`` and
``vote_repeat_flips`` (shares), ``late_deviation`` (mean |rating − the mean
of the other ratings of the pair| over the rater's latest third of ratings, by
``annotated_at``: a rater drifting away from the others shows here first),
``median_seconds`` (Label Studio's lead time, all the rater's tasks); with the
leave-one-out correlation ``corr`` of ``annotation.agreement``.

**The flag rule** (:func:`flag`, thresholds in :class:`QCConfig`): a rater is
flagged when any of these holds —

1. at least ``min_checks`` gold ratings and ``gold_mae > max_gold_mae`` (0.2);
2. at least ``min_checks`` repeated pairs and ``repeat_mad > max_repeat_mad`` (0.2);
3. at least ``min_corr_ratings`` ratings with a consensus and ``corr < min_corr`` (0.4);
4. at least ``min_checks`` gold preference tasks and ``vote_gold_wrong > max_vote_gold_wrong`` (1/3);
5. at least ``min_checks`` answers in all and ``median_seconds < min_median_seconds``
   (5 s: less than a third of a 15 s clip);
6. at least ``min_late`` (10) latest ratings with a consensus and
   ``late_deviation > max_late_deviation`` (0.2).

Repeated *preference* tasks are reported but never flag: their pairs were
chosen because they are ambiguous, so an honest rater may well answer them
both ways. A rating simulated with the paper's spread (σ ≈ 0.08) differs from
its repeat by 0.09 on average, from a reference by 0.07 and from the others'
mean by 0.08: the 0.2 limits leave room for an honest rater's bad day while a
random rater (≈ 0.33, 0.3 and 0.3) crosses all three, and a rater drifting
into random ratings over their queue crosses the late deviation (≈ 0.25)
and, less surely, the repeat difference.
A flagged rater's ratings stay in ``ratings.parquet``; ``annotate run
--exclude-flagged`` leaves them out of scores, α and consensus.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import stable_hash

RATINGS = "ratings"
GOLD, REPEAT = "gold", "repeat"
#: Columns the per-rater QC figures add to schema.MPD_RATER_STATS.
QC_COLUMNS = ("n_gold", "gold_mae", "n_repeats", "repeat_mad", "n_vote_gold", "vote_gold_wrong",
              "n_vote_repeats", "vote_repeat_flips", "n_late", "late_deviation", "median_seconds")


@dataclass(frozen=True)
class QCConfig:
    """Shares of checks in a queue and the thresholds of the flag rule."""

    gold_share: float = 0.05  # of a rater's planned tasks (capped by the gold items there are)
    repeat_share: float = 0.05
    min_checks: int = 3
    max_gold_mae: float = 0.2
    max_repeat_mad: float = 0.2
    min_corr: float = 0.4
    min_corr_ratings: int = 20
    max_vote_gold_wrong: float = 1 / 3
    min_median_seconds: float = 5.0
    late_share: float = 1 / 3  # the rater's latest ratings that late_deviation looks at
    min_late: int = 10
    max_late_deviation: float = 0.2

    def __post_init__(self):
        for name in ("gold_share", "repeat_share"):
            if not 0.0 <= getattr(self, name) <= 0.5:
                raise ValueError(f"{name} must be in [0, 0.5]")


# --- gold items ------------------------------------------------------------------------

GOLD_COLUMNS = ("kind", "painting_id", "clip_id", "score", "query_id", "better_id", "worse_id")


def read_gold(path: str | os.PathLike) -> pa.Table:
    """A gold file (CSV; header: ``kind,painting_id,clip_id,score,query_id,better_id,worse_id``)
    as ``schema.MPD_GOLD`` rows. A ``ratings`` row needs painting_id, clip_id and a score in
    [0, 1]; a preference row (``clips_given_painting`` / ``paintings_given_clip``) needs
    query_id, better_id and worse_id. Any bad row stops the read, naming the line."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"kind"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: no 'kind' column; expected a header {','.join(GOLD_COLUMNS)}")
        rows = [_gold_row(path, n, r) for n, r in enumerate(reader, start=2)]
    ids = [r["gold_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: the same gold item appears twice")
    return S.from_rows(rows, S.MPD_GOLD)


def _gold_row(path: Path, line: int, raw: dict) -> dict:
    get = {k: (raw.get(k) or "").strip() for k in GOLD_COLUMNS}
    where = f"{path}, line {line}"
    kind = get["kind"]
    if kind == RATINGS:
        if not (get["painting_id"] and get["clip_id"] and get["score"]):
            raise ValueError(f"{where}: a ratings gold row needs painting_id, clip_id and score")
        try:
            score = float(get["score"])
        except ValueError:
            raise ValueError(f"{where}: score {get['score']!r} is not a number") from None
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise ValueError(f"{where}: score {score} is outside [0, 1]")
        return {"gold_id": "gold-" + stable_hash(kind, get["painting_id"], get["clip_id"]), "kind": kind,
                "painting_id": get["painting_id"], "clip_id": get["clip_id"], "score": score}
    if kind in S.PREFERENCE_KINDS:
        if not (get["query_id"] and get["better_id"] and get["worse_id"]):
            raise ValueError(f"{where}: a {kind} gold row needs query_id, better_id and worse_id")
        if get["better_id"] == get["worse_id"]:
            raise ValueError(f"{where}: better_id and worse_id are the same")
        return {"gold_id": "gold-" + stable_hash(kind, get["query_id"], get["better_id"], get["worse_id"]), "kind": kind,
                "query_id": get["query_id"], "better_id": get["better_id"], "worse_id": get["worse_id"]}
    raise ValueError(f"{where}: kind {kind!r} is not one of ratings, {', '.join(S.PREFERENCE_KINDS)}")


# --- per-rater statistics ----------------------------------------------------------------

def _frame(table: pa.Table | None, schema: pa.Schema) -> pd.DataFrame:
    return (table if table is not None else S.empty(schema)).to_pandas()


def qc_stats(
    ratings: pa.Table,
    votes: pa.Table | None = None,
    qc_tasks: pa.Table | None = None,
    qc_answers: pa.Table | None = None,
    config: QCConfig = QCConfig(),
) -> pd.DataFrame:
    """The QC columns (:data:`QC_COLUMNS`) per rater id (index): every rater
    seen in ``ratings``, ``votes`` or ``qc_answers``."""
    r = _frame(ratings, S.MPD_RATINGS)
    v = _frame(votes, S.MPD_PREFERENCE_VOTES)
    tasks = _frame(qc_tasks, S.MPD_QC_TASKS).drop(columns=["rater_id"])  # the planned rater; stats are per answering rater
    answers = _frame(qc_answers, S.MPD_QC_ANSWERS).merge(tasks, on="qc_id", how="inner")
    raters = sorted(set(r["rater_id"]) | set(v["rater_id"]) | set(answers["rater_id"]))
    out = pd.DataFrame(index=pd.Index(raters, name="rater_id"))
    is_rating = answers["project_kind"] == RATINGS

    gold = answers[(answers["check"] == GOLD) & is_rating]
    _mean_into(out, "n_gold", "gold_mae", gold, (gold["score"] - gold["reference_score"]).abs())
    rep = answers[(answers["check"] == REPEAT) & is_rating].merge(
        r[["pair_id", "rater_id", "score"]].rename(columns={"pair_id": "of_id", "score": "first"}), on=["of_id", "rater_id"], how="inner")
    _mean_into(out, "n_repeats", "repeat_mad", rep, (rep["score"] - rep["first"]).abs())
    vgold = answers[(answers["check"] == GOLD) & ~is_rating]
    _mean_into(out, "n_vote_gold", "vote_gold_wrong", vgold, (vgold["chosen_id"] != vgold["reference_id"]).astype(float))
    vrep = answers[(answers["check"] == REPEAT) & ~is_rating].merge(
        v[["task_id", "rater_id", "chosen_id"]].rename(columns={"task_id": "of_id", "chosen_id": "first"}), on=["of_id", "rater_id"], how="inner")
    _mean_into(out, "n_vote_repeats", "vote_repeat_flips", vrep, (vrep["chosen_id"] != vrep["first"]).astype(float))

    _late_into(out, r, config.late_share)
    times = pd.concat([f[["rater_id", "lead_time_s"]] for f in (r, v, answers)], ignore_index=True).dropna()
    out["median_seconds"] = times.groupby("rater_id")["lead_time_s"].median().reindex(out.index)
    return out


def _late_into(out: pd.DataFrame, r: pd.DataFrame, share: float) -> None:
    """``n_late`` / ``late_deviation``: over each rater's latest ``share`` of
    ratings (by ``annotated_at``; none when the times are missing), the mean
    |rating − mean of the other ratings of the same pair|."""
    counts = r.groupby("pair_id")["score"].transform("count")
    sums = r.groupby("pair_id")["score"].transform("sum")
    r = r.assign(dev=((r["score"] - (sums - r["score"]) / (counts - 1).where(counts > 1))).abs())
    r = r[r["dev"].notna() & r["annotated_at"].notna()].sort_values(["rater_id", "annotated_at"], kind="stable")
    rank = r.groupby("rater_id").cumcount(ascending=False)  # 0 = latest
    size = r.groupby("rater_id")["dev"].transform("size")
    late = r[rank < (size * share).apply(math.ceil)]
    grouped = late.groupby("rater_id")["dev"]
    out["n_late"] = grouped.size().reindex(out.index).fillna(0).astype("int64")
    out["late_deviation"] = grouped.mean().reindex(out.index)


def _mean_into(out: pd.DataFrame, n_col: str, mean_col: str, rows: pd.DataFrame, values: pd.Series) -> None:
    grouped = pd.Series(values.to_numpy(dtype=float), index=rows["rater_id"].to_numpy()).groupby(level=0)
    out[n_col] = grouped.size().reindex(out.index).fillna(0).astype("int64")
    out[mean_col] = grouped.mean().reindex(out.index)


def flag(stats: pd.DataFrame, config: QCConfig = QCConfig()) -> pd.Series:
    """Per rater: ``""`` or the reasons the flag rule fired, ``"; "``-separated.
    ``stats`` needs the QC columns, ``n_ratings`` and ``corr``."""
    c = config
    n_ratings = stats["n_ratings"].fillna(0)
    n_all = stats[["n_gold", "n_repeats", "n_vote_gold", "n_vote_repeats"]].sum(axis=1) + n_ratings
    n_late = stats["n_late"].fillna(0)
    rules = [
        ((stats["n_gold"] >= c.min_checks) & (stats["gold_mae"] > c.max_gold_mae),
         lambda s: f"gold deviation {s.gold_mae:.3f} > {c.max_gold_mae:g} ({int(s.n_gold)} gold pairs)"),
        ((stats["n_repeats"] >= c.min_checks) & (stats["repeat_mad"] > c.max_repeat_mad),
         lambda s: f"repeat difference {s.repeat_mad:.3f} > {c.max_repeat_mad:g} ({int(s.n_repeats)} repeats)"),
        ((n_ratings >= c.min_corr_ratings) & (stats["corr"] < c.min_corr),
         lambda s: f"correlation with the others {s['corr']:.2f} < {c.min_corr:g}"),
        ((stats["n_vote_gold"] >= c.min_checks) & (stats["vote_gold_wrong"] > c.max_vote_gold_wrong),
         lambda s: f"{100 * s.vote_gold_wrong:.0f} % of gold preferences wrong (> {100 * c.max_vote_gold_wrong:.0f} %)"),
        ((n_all >= c.min_checks) & (stats["median_seconds"] < c.min_median_seconds),
         lambda s: f"median {s.median_seconds:.1f} s per task < {c.min_median_seconds:g} s"),
        ((n_late >= c.min_late) & (stats["late_deviation"] > c.max_late_deviation),
         lambda s: f"latest ratings {s.late_deviation:.3f} from the others > {c.max_late_deviation:g} ({int(s.n_late)} ratings)"),
    ]
    reasons = pd.Series([[] for _ in range(len(stats))], index=stats.index, dtype=object)
    for fired, say in rules:
        for rid in stats.index[fired.fillna(False).to_numpy(dtype=bool)]:
            reasons[rid].append(say(stats.loc[rid]))
    return reasons.map("; ".join)


def rater_table(agreement_raters: pa.Table, stats: pd.DataFrame, config: QCConfig, excluded: bool) -> pa.Table:
    """``schema.MPD_RATER_STATS``: the agreement figures of each rater joined
    with the QC figures, the flag and whether flagged raters are excluded."""
    base = agreement_raters.to_pandas().set_index("rater_id")
    raters = sorted(set(base.index) | set(stats.index))
    df = base.reindex(raters).join(stats.reindex(raters))
    df["n_ratings"] = df["n_ratings"].fillna(0).astype("int64")
    for col in ("n_gold", "n_repeats", "n_vote_gold", "n_vote_repeats", "n_late"):
        df[col] = df[col].fillna(0).astype("int64")
    df["flag_reasons"] = flag(df, config)
    df["flagged"] = df["flag_reasons"] != ""
    df["excluded"] = df["flagged"] & bool(excluded)
    df = df.reset_index().rename(columns={"index": "rater_id"})
    return pa.Table.from_pandas(df[[f.name for f in S.MPD_RATER_STATS]], schema=S.MPD_RATER_STATS, preserve_index=False)


def flagged_raters(rater_stats: pa.Table | None, only_excluded: bool = False) -> set[str]:
    if rater_stats is None:
        return set()
    col = "excluded" if only_excluded else "flagged"
    return {r for r, f in zip(rater_stats.column("rater_id").to_pylist(), rater_stats.column(col).to_pylist()) if f}


def without_raters(table: pa.Table, raters: set[str]) -> pa.Table:
    """``table`` without the rows of ``raters`` (its ``rater_id`` column)."""
    if not raters:
        return table
    keep = ~np.isin(np.asarray(table.column("rater_id").to_pylist(), dtype=object), list(raters))
    return table.filter(pa.array(keep))
