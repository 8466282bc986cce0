"""``synesthesia annotate status --live``: how a campaign stands on its Label
Studio server, for the person running it, without writing anything.

Every recorded project is exported; per phase and per rater: tasks done /
assigned, skipped, the median seconds per task (Label Studio's lead time)
and the flags of the quality-control rule (``annotation.quality``),
computed from what is on the server right now (the same rule ``annotate run``
applies to the imported data).
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import pyarrow as pa

from synesthesia.annotation.agreement import agreement
from synesthesia.annotation.labelstudio import client as C
from synesthesia.annotation.labelstudio import merge as LM
from synesthesia.annotation.labelstudio import parse as LP
from synesthesia.annotation.labelstudio.configs import PROJECT_KINDS, RATINGS
from synesthesia.annotation.quality import qc_stats, rater_table
from synesthesia.datasets import schema as S
from synesthesia.recipes.mpd.config import PROJECTS, QC_TASKS, annotation_config, read_optional
from synesthesia.recipes.mpd.labelstudio import check_tasks, known_items

PHASES = {RATINGS: "phase 1 (ratings)", S.PREFERENCE_KINDS[0]: "phase 2 (clips for a painting)", S.PREFERENCE_KINDS[1]: "phase 2 (paintings for a clip)"}


def _counts(tasks: list[dict]) -> dict:
    done = skipped = 0
    seconds = []
    users = set()
    for task in tasks:
        anns = task.get("annotations") or []
        kept = [a for a in anns if not a.get("was_cancelled")]
        done += bool(kept)
        skipped += bool(anns) and not kept
        for a in anns:
            users.add(LP.rater_id(a.get("completed_by")))
            if isinstance(a.get("lead_time"), (int, float)):
                seconds.append(float(a["lead_time"]))
    return {"assigned": len(tasks), "done": done, "skipped": skipped,
            "median_seconds": statistics.median(seconds) if seconds else None, "annotators": sorted(users - {None})}


def _parsed(out: Path, kind: str, tasks: list[dict]) -> tuple[pa.Table, pa.Table]:
    """The latest answer per (item, rater) and the check answers in ``tasks``."""
    if not tasks:
        schema = S.MPD_RATINGS if kind == RATINGS else S.MPD_PREFERENCE_VOTES
        return S.empty(schema), S.empty(S.MPD_QC_ANSWERS)
    parsed = LP.parse_export(tasks, kind, known_items(out, kind), "live", checks=check_tasks(out, kind))
    key = "pair_id" if kind == RATINGS else "task_id"
    rows, _ = LM.merge(S.empty(parsed.rows.schema), parsed.rows, key, "live", kind)
    answers, _ = LM.merge(S.empty(S.MPD_QC_ANSWERS), parsed.qc_rows, "qc_id", "live", kind)
    return rows, answers


def live_status(out: str | os.PathLike, client, url: str, emails: dict[int, str] | None = None) -> dict:
    """Per project kind with projects on ``url``: totals and one row per
    project (a rater's own, or the shared one), with the flags of the
    accounts that annotated there. ``emails``: user id → email, to show."""
    out = Path(out)
    config, _ = annotation_config(out)
    exported: dict[str, list[tuple[str, dict, list]]] = {}
    for kind in PROJECT_KINDS:
        for key, entry in sorted(C.projects_of(out / PROJECTS, kind, url).items()):
            tasks = json.loads(C.export_tasks(client, int(entry["project_id"])) or b"[]")
            exported.setdefault(kind, []).append((key, entry, tasks))
    ratings, rating_checks = _parsed(out, RATINGS, [t for _, _, ts in exported.get(RATINGS, []) for t in ts])
    prefs = [t for k in S.PREFERENCE_KINDS for _, _, ts in exported.get(k, []) for t in ts]
    votes, vote_checks = _parsed(out, LP.PREFERENCES, prefs) if (out / "preference_tasks.parquet").exists() else (None, S.empty(S.MPD_QC_ANSWERS))
    stats = qc_stats(ratings, votes, read_optional(out, QC_TASKS, S.MPD_QC_TASKS), pa.concat_tables([rating_checks, vote_checks]), config.qc)
    table = rater_table(agreement(ratings, 0).raters, stats, config.qc, False)
    flags = dict(zip(table.column("rater_id").to_pylist(), table.column("flag_reasons").to_pylist()))
    phases = []
    for kind, projects in exported.items():
        rows = []
        for key, entry, tasks in projects:
            counts = _counts(tasks)
            user = entry.get("user_id")
            account = (emails or {}).get(user) or (f"ls-user-{user}" if user is not None else ", ".join(counts["annotators"]) or "-")
            reasons = "; ".join(f for f in (flags.get(a, "") for a in counts["annotators"]) if f)
            rows.append({"rater": entry.get("rater", "(shared project)"), "account": account, "project_id": entry["project_id"], **counts, "flags": reasons})
        phases.append({
            "kind": kind, "phase": PHASES[kind],
            "assigned": sum(r["assigned"] for r in rows), "done": sum(r["done"] for r in rows), "raters": rows,
        })
    return {"url": url, "phases": phases}


def format_live(status: dict) -> str:
    """The live status as text for a terminal."""
    lines = [f"Label Studio at {status['url']} (live)"]
    if not status["phases"]:
        lines.append("no projects on this server yet: `synesthesia annotate serve` (or `annotate push`) creates them")
    for ph in status["phases"]:
        share = f" ({100 * ph['done'] / ph['assigned']:.0f} %)" if ph["assigned"] else ""
        lines.append(f"\n{ph['phase']}: {ph['done']} of {ph['assigned']} tasks done{share}")
        width = max([len(r["account"]) for r in ph["raters"]] + [7])
        lines.append(f"  {'rater':<16} {'account':<{width}}  {'done/assigned':>13}  {'skipped':>7}  {'s/task':>6}  flags")
        for r in ph["raters"]:
            sec = f"{r['median_seconds']:.1f}" if r["median_seconds"] is not None else "-"
            lines.append(f"  {r['rater']:<16} {r['account']:<{width}}  {str(r['done']) + '/' + str(r['assigned']):>13}  {r['skipped']:>7}  {sec:>6}  {r['flags']}")
    return "\n".join(lines)
