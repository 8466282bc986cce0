"""An MPD annotation campaign on a Label Studio server: rater accounts, one
project per rater and project kind holding that rater's queue (their planned
tasks with gold and repeat checks mixed in, ``annotation.queues``), pushed
for the phases the folder has reached.

Label Studio's community edition cannot assign tasks to people, so each
rater gets projects of their own ("MPD ratings · rater-03"): the tasks come in
queue order (sequential sampling, one annotation per task), and who was
asked what is exact. Every account can open every project (Label Studio has
no per-project access in that edition); the projects' titles say whose they are.

* :func:`import_gold` — check a gold file against the folder and keep it
  (``qc_gold.parquet``);
* :func:`plan_campaign` — the queues of the given project kinds
  (``queues.parquet``, ``qc_tasks.parquet``), planned once per kind and kept
  while the planned items stay the same;
* :func:`setup_campaign` — accounts, planning and pushing, on any server
  (``annotate serve`` runs it against its own, ``annotate push --raters-file``
  against a team's).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.annotation.assign import rater_ids
from synesthesia.annotation.labelstudio import accounts as LA
from synesthesia.annotation.labelstudio import client as C
from synesthesia.annotation.labelstudio.configs import RATINGS, label_config
from synesthesia.annotation.labelstudio.tasks import MediaLinks, preference_tasks, rating_tasks, task_key
from synesthesia.annotation.quality import read_gold
from synesthesia.annotation.queues import plan_queues
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes.mpd.config import (
    ASSIGNMENTS,
    CLIP_MEDIA,
    GOLD,
    PREFERENCE_ASSIGNMENTS,
    PREFERENCE_TASKS_FILE,
    PROJECTS,
    QC_TASKS,
    QUEUES,
    annotation_config,
    read_optional,
)
from synesthesia.recipes.mpd.labelstudio import default_links, media_files, storage_folders

TITLES = {RATINGS: "MPD ratings", S.PREFERENCE_KINDS[0]: "MPD clips for a painting", S.PREFERENCE_KINDS[1]: "MPD paintings for a clip"}
#: Every rater project: tasks in queue order, one annotation each, no empty submissions.
PROJECT_SETTINGS = {"sampling": "Sequential sampling", "enable_empty_annotation": False, "show_skip_button": True}


def phase_kinds(out: str | os.PathLike) -> list[str]:
    """The project kinds the folder has tasks for: ratings, and the two
    preference kinds once preference tasks exist."""
    out = Path(out)
    return [RATINGS] + (list(S.PREFERENCE_KINDS) if (out / PREFERENCE_TASKS_FILE).exists() else [])


def planned_raters(out: str | os.PathLike) -> list[str]:
    """The rater ids of the folder's plan (``rater-01`` ... for its pool)."""
    config, _ = annotation_config(out)
    return rater_ids(config.rater_pool)


# --- gold ---------------------------------------------------------------------------------

def import_gold(out: str | os.PathLike, path: str | os.PathLike) -> pa.Table:
    """Read a gold file (``annotation.quality.read_gold``), check that every
    painting and clip it names is in the folder (a clip needs a listening
    copy), and write ``qc_gold.parquet``. Nothing is written if a row is wrong."""
    out = Path(out)
    gold = read_gold(path)
    paintings = set(dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS, columns=["painting_id"]).column("painting_id").to_pylist())
    media = read_optional(out, CLIP_MEDIA, S.CLIP_FILES)
    clips = set(media.column("clip_id").to_pylist()) if media is not None else set()
    for row in gold.to_pylist():
        kind = row["kind"]
        if kind == RATINGS:
            checks = [(row["painting_id"], paintings, "painting"), (row["clip_id"], clips, "clip")]
        elif kind == S.PREFERENCE_KINDS[0]:  # clips for a painting
            checks = [(row["query_id"], paintings, "painting"), (row["better_id"], clips, "clip"), (row["worse_id"], clips, "clip")]
        else:  # paintings for a clip
            checks = [(row["query_id"], clips, "clip"), (row["better_id"], paintings, "painting"), (row["worse_id"], paintings, "painting")]
        for value, known, what in checks:
            if value not in known:
                extra = " with a listening copy (only clips that appear in a pair have one)" if what == "clip" else ""
                raise ValueError(f"{path}: gold item {row['gold_id']} ({kind}) names {what} {value!r}, which is not a {what} of {out}{extra}")
    dio.write_table(gold, out / GOLD, S.MPD_GOLD)
    return gold


# --- queues -------------------------------------------------------------------------------

def _plan_inputs(out: Path, kind: str) -> tuple[pa.Table, str, dict]:
    """The assignments of a project kind, their id column, and what each item's task shows."""
    if kind == RATINGS:
        pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
        shown = {r["pair_id"]: r for r in pairs.select(["pair_id", "painting_id", "clip_id"]).to_pylist()}
        return dio.read_table(out / ASSIGNMENTS, S.MPD_ASSIGNMENTS), "pair_id", shown
    tasks = dio.read_table(out / PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    tasks = tasks.filter(pc.equal(tasks.column("kind"), kind))
    shown = {r["task_id"]: r for r in tasks.select(["task_id", "query_id", "candidate_a", "candidate_b"]).to_pylist()}
    assigned = dio.read_table(out / PREFERENCE_ASSIGNMENTS, S.MPD_PREFERENCE_ASSIGNMENTS)
    assigned = assigned.filter(pc.is_in(assigned.column("task_id"), value_set=pa.array(list(shown), pa.string())))
    return assigned, "task_id", shown


def plan_campaign(out: str | os.PathLike, kinds: list[str], gold_share: float, repeat_share: float) -> dict[str, dict]:
    """Plan the queues of ``kinds`` not planned yet (or whose planned items
    changed since); returns per kind the number of tasks, gold and repeat checks."""
    out = Path(out)
    _, seed = annotation_config(out)
    queues = read_optional(out, QUEUES, S.MPD_QUEUES) or S.empty(S.MPD_QUEUES)
    checks = read_optional(out, QC_TASKS, S.MPD_QC_TASKS) or S.empty(S.MPD_QC_TASKS)
    gold = read_optional(out, GOLD, S.MPD_GOLD) or S.empty(S.MPD_GOLD)
    for kind in kinds:
        assigned, key, shown = _plan_inputs(out, kind)
        mine = queues.filter(pc.and_(pc.equal(queues.column("project_kind"), kind), pc.equal(queues.column("check"), "")))
        planned = set(zip(mine.column("item_id").to_pylist(), mine.column("rater_id").to_pylist()))
        if planned and planned == set(zip(assigned.column(key).to_pylist(), assigned.column("rater_id").to_pylist())):
            continue
        new_queues, new_checks = plan_queues(assigned, key, kind, shown, gold, gold_share, repeat_share, seed)
        queues = pa.concat_tables([queues.filter(pc.not_equal(queues.column("project_kind"), kind)), new_queues])
        checks = pa.concat_tables([checks.filter(pc.not_equal(checks.column("project_kind"), kind)), new_checks])
    dio.write_table(queues, out / QUEUES, S.MPD_QUEUES)
    dio.write_table(checks, out / QC_TASKS, S.MPD_QC_TASKS)
    summary = {}
    for kind in kinds:
        q = queues.filter(pc.equal(queues.column("project_kind"), kind)).column("check").to_pylist()
        summary[kind] = {"tasks": len(q), "gold": q.count("gold"), "repeats": q.count("repeat")}
    return summary


def rater_tasks(out: str | os.PathLike, kind: str, links: MediaLinks | None = None) -> dict[str, list[dict]]:
    """Per planned rater, the Label Studio tasks of their ``kind`` project in
    queue order. A check's task carries its ``qc_id`` where other tasks carry
    their pair_id / task_id, and shows what the check shows; nothing else
    tells them apart. (No ``split`` or ``raters`` field: the project is one rater's.)"""
    out = Path(out)
    links = links or default_links(out)
    p_files, c_files = media_files(out)
    queues = dio.read_table(out / QUEUES, S.MPD_QUEUES)
    queues = queues.filter(pc.equal(queues.column("project_kind"), kind))
    checks = {r["qc_id"]: r for r in (read_optional(out, QC_TASKS, S.MPD_QC_TASKS) or S.empty(S.MPD_QC_TASKS)).to_pylist()}
    _, key, shown = _plan_inputs(out, kind)
    rows_by_rater: dict[str, list[dict]] = {}
    for r in queues.sort_by([("rater_id", "ascending"), ("position", "ascending")]).to_pylist():
        item = checks[r["item_id"]] if r["check"] else shown[r["item_id"]]
        row = {key: r["item_id"], "split": ""}
        if kind == RATINGS:
            row.update(painting_id=item["painting_id"], clip_id=item["clip_id"])
        else:
            row.update(kind=kind, query_id=item["query_id"], candidate_a=item["candidate_a"], candidate_b=item["candidate_b"])
        rows_by_rater.setdefault(r["rater_id"], []).append(row)
    out_tasks = {}
    for rater, rows in rows_by_rater.items():
        if kind == RATINGS:
            tasks = rating_tasks(S.from_rows(rows, S.MPD_PAIRS), p_files, c_files, links)
        else:
            tasks = preference_tasks(kind, S.from_rows(rows, S.MPD_PREFERENCE_TASKS), p_files, c_files, links)
        for t in tasks:
            t["data"].pop("split", None)
            t["data"].pop("raters", None)
        out_tasks[rater] = tasks
    return out_tasks


# --- on a server ----------------------------------------------------------------------------

def roster_for(out: str | os.PathLike, people: list[dict] | None) -> list[dict]:
    """Who rates: ``people`` (a raters file, in order) matched to the plan's
    rater ids, or one generated account per planned rater."""
    planned = planned_raters(out)
    if people is None:
        return [{"rater_id": rid, **p} for rid, p in zip(planned, LA.generated_raters(planned))]
    if len(people) != len(planned):
        raise ValueError(
            f"the raters file lists {len(people)} people but {out} plans for {len(planned)} raters; "
            f"list {len(planned)}, or rebuild with `synesthesia build mpd --raters {len(people)}`"
        )
    return [{"rater_id": rid, **p} for rid, p in zip(planned, people)]


def setup_campaign(
    out: str | os.PathLike,
    client,
    url: str,
    roster: list[dict],
    gold_share: float,
    repeat_share: float,
    links: MediaLinks | None = None,
    say=lambda _: None,
    create_accounts=None,
) -> dict:
    """Find or make the accounts of ``roster`` (planned ``rater_id`` + ``email``,
    ``name``), plan the queues of the phases reached and push every rater's
    projects. Safe to repeat: existing accounts, projects and tasks are reused.
    Returns ``accounts`` (with the passwords of accounts made now) and per kind
    what was pushed. ``create_accounts``: how to make missing accounts
    (``LabelStudioServer.create_users`` on a server we run; on a team's server
    raters sign up themselves and a missing account stops here)."""
    out = Path(out)
    links = links or default_links(out)
    accounts = LA.ensure_accounts(client, roster, create_accounts)
    for person, account in zip(roster, accounts):
        account["rater_id"] = person["rater_id"]
    kinds = phase_kinds(out)
    plan = plan_campaign(out, kinds, gold_share, repeat_share)
    folders = storage_folders(out) if links.local_files else []
    pushed = {}
    for kind in kinds:
        tasks = rater_tasks(out, kind, links)
        imported = created = 0
        for account in accounts:
            rater = account["rater_id"]
            result = C.push(
                client, url, f"{kind}/{rater}", f"{TITLES[kind]} · {rater} ({out.resolve().name})", label_config(kind),
                tasks.get(rater, []), task_key(kind), out / PROJECTS, folders, maximum_annotations=1,
                settings=PROJECT_SETTINGS, extra={"kind": kind, "rater": rater, "user_id": account["user_id"]},
            )
            imported += result["imported"]
            created += result["created"]
        say(f"{kind}: {len(accounts)} rater projects ({created} new), {imported} tasks pushed now; "
            f"{plan[kind]['tasks']} in the queues, of which {plan[kind]['gold']} gold and {plan[kind]['repeats']} repeat checks")
        pushed[kind] = {**plan[kind], "imported": imported, "projects_created": created}
    return {"accounts": accounts, "kinds": pushed}
