"""Label Studio JSON export → ratings / preference votes, with every unusable
annotation counted and kept with its reason.

Read the **full JSON** export (``exportType=JSON``): JSON_MIN and CSV drop
skipped annotations and the rater ids, so they are refused.

Structure problems (not JSON, not a list of tasks, a task without ``data``,
``annotations`` or ``result`` that are not lists, ...) stop the import with
:class:`ExportFormatError` naming the file and the place; nothing is written.
Content problems are per annotation, counted and returned as reject rows
(``schema.ANNOTATION_REJECTS``):

* ``skipped``: ``was_cancelled`` is true;
* ``missing value``: no result for our control (or an empty one);
* ``not a number`` / ``outside [0, 1]``: a rating value that cannot be used;
* ``unknown choice`` / ``several values``: a vote that is not exactly one of a / b;
* ``unknown pair id`` / ``unknown task id`` / ``task without our id``: the
  task is not one of ours (its annotations are rejected);
* ``no rater``: no ``completed_by``; ``rater id not an integer``: a
  ``completed_by`` that is not Label Studio's integer user id (``1.5``, a list);
* ``malformed timestamp``: an ``updated_at`` / ``created_at`` that is not an
  ISO 8601 time (a missing one is fine: ordering falls back to the id);
* ``task changed``: a preference task whose exported ``candidate_a`` /
  ``candidate_b`` are not the two candidates preference_tasks.parquet has
  for its id. A vote is read against the candidates the export says were
  shown (A/B may be in either order) and stored with ``choice`` relative to
  the table's A/B.

A rater who annotated the same task more than once: the latest valid
annotation (by ``updated_at``, then Label Studio's annotation id) is kept,
each older one is a ``repeated`` reject. This is applied by
:func:`~synesthesia.annotation.labelstudio.merge.merge` across every import
into a dataset, so importing an export twice, or a newer export of the same
project, gives the same table as importing it once.

Quality-control tasks (gold and repeat checks, ``annotation.quality``) look
like any other task to the rater: their ``pair_id`` / ``task_id`` is the
check's ``qc_id``. Their answers become ``schema.MPD_QC_ANSWERS`` rows
(:attr:`ParsedExport.qc_rows`), never ratings or votes, with the same
rejects.

Rater ids: ``ls-user-<completed_by>`` (Label Studio's user id; emails are
not copied into the dataset).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from synesthesia.annotation.labelstudio.configs import CHOICE_VALUES, PREFERENCE_CONTROL, RATING_CONTROL, RATINGS
from synesthesia.annotation.labelstudio.merge import REPEATED  # noqa: F401 (a reason, listed with the others)
from synesthesia.datasets import schema as S

SOURCE = "labelstudio"
PREFERENCES = "preferences"

SKIPPED = "skipped"
MISSING = "missing value"
NOT_NUMBER = "not a number"
OUT_OF_RANGE = "outside [0, 1]"
UNKNOWN_CHOICE = "unknown choice"
SEVERAL = "several values"
UNKNOWN_PAIR = "unknown pair id"
UNKNOWN_TASK = "unknown task id"
NO_ID = "task without our id"
NO_RATER = "no rater"
TASK_CHANGED = "task changed"  # the export's candidates are not the table's
BAD_RATER = "rater id not an integer"
BAD_TIME = "malformed timestamp"


class ExportFormatError(ValueError):
    """A Label Studio export that cannot be read as a whole."""


@dataclass
class ParsedExport:
    kind: str  # "ratings" | "preferences"
    rows: pa.Table  # MPD_RATINGS or MPD_PREFERENCE_VOTES (may hold repeats; see merge)
    rejects: pa.Table  # ANNOTATION_REJECTS
    counts: dict = field(default_factory=dict)
    qc_rows: pa.Table = field(default_factory=lambda: S.empty(S.MPD_QC_ANSWERS))  # answers to quality-control tasks
    #: tasks whose id is one of the dataset's (an export with none is refused)
    known_tasks: int = 0


def read_export(path: str | os.PathLike) -> list[dict]:
    """Load and structurally check a full JSON export (a list of task objects)."""
    import orjson  # several times faster than json on a campaign's 200 MB export

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExportFormatError(f"{path}: cannot be read: {exc}") from None
    try:
        tasks = orjson.loads(data)
    except orjson.JSONDecodeError as exc:  # a json.JSONDecodeError: same fields
        raise ExportFormatError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if isinstance(tasks, dict):
        tasks = [tasks]  # a single task object
    if not isinstance(tasks, list):
        raise ExportFormatError(f"{path}: expected a JSON list of tasks, got {type(tasks).__name__}")
    for i, task in enumerate(tasks):
        where = f"{path}: task #{i}"
        if not isinstance(task, dict):
            raise ExportFormatError(f"{where}: expected an object, got {type(task).__name__}")
        if "id" in task:
            where += f" (Label Studio id {task['id']})"
        if "data" not in task:
            if "annotations" not in task and ("annotator" in task or "annotation_id" in task):
                raise ExportFormatError(
                    f"{path}: this looks like a JSON_MIN or CSV export, which drops skipped annotations; export the full JSON (exportType=JSON)"
                )
            raise ExportFormatError(f"{where}: no \"data\" object")
        if not isinstance(task["data"], dict):
            raise ExportFormatError(f"{where}: \"data\" must be an object, got {type(task['data']).__name__}")
        annotations = task.get("annotations", [])
        if not isinstance(annotations, list):
            raise ExportFormatError(f"{where}: \"annotations\" must be a list, got {type(annotations).__name__}")
        for j, ann in enumerate(annotations):
            if not isinstance(ann, dict):
                raise ExportFormatError(f"{where}, annotation #{j}: expected an object, got {type(ann).__name__}")
            result = ann.get("result", [])
            if result is not None and not isinstance(result, list):
                raise ExportFormatError(f"{where}, annotation #{j}: \"result\" must be a list, got {type(result).__name__}")
            for k, entry in enumerate(result or []):
                if not isinstance(entry, dict):
                    raise ExportFormatError(f"{where}, annotation #{j}: every \"result\" entry must be an object")
                # Label Studio always writes the control's answer as an object
                # ({"number": x}, {"choices": [...]}, ...); anything else is not an export of ours.
                value = entry.get("value")
                if value is not None and not isinstance(value, dict):
                    raise ExportFormatError(
                        f"{where}, annotation #{j}, result #{k}: \"value\" must be an object, got {type(value).__name__}"
                    )
    return tasks


def detect_kind(tasks: list[dict], source: str | os.PathLike = "export") -> str:
    """``ratings`` when tasks carry ``pair_id``, ``preferences`` when they carry ``task_id``.

    ``source`` (the export's path) names the file in the error message.
    """
    if not tasks:
        raise ExportFormatError(f"{source}: the export holds no tasks")
    for task in tasks:
        data = task.get("data", {})
        if "pair_id" in data:
            return RATINGS
        if "task_id" in data:
            return PREFERENCES
    raise ExportFormatError(
        f"{source}: no task carries a pair_id or task_id: is this an export of a synesthesia project?"
    )


def rater_id(completed_by: Any) -> str | None:
    """``ls-user-<Label Studio user id>``, or None when the export gives no user id.

    Only the numeric user id is used: an expanded ``completed_by`` object without
    ``id``, or a bare email, gives no rater (the annotation is a ``no rater``
    reject) so that no email ever lands in the dataset. A value that is not
    an integer id (``1.5``, ``[1, 2]``, ``"7a"``) raises ``ValueError``.
    """
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("id")
    if completed_by is None:
        return None
    if isinstance(completed_by, str):
        text = completed_by.strip()
        if not text or "@" in text:
            return None
        if not text.isdigit():
            raise ValueError(completed_by)
        return f"ls-user-{int(text)}"
    if isinstance(completed_by, int) and not isinstance(completed_by, bool):
        return f"ls-user-{completed_by}"
    raise ValueError(completed_by)


def _raw_timestamp(ann: dict) -> str | None:
    """The annotation's time as written (parsed later, all at once); a value
    that is not a string raises ``ValueError``."""
    value = ann.get("updated_at") or ann.get("created_at")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(value)
    return value


def parse_timestamps(values: list[str | None]) -> pd.Series:
    """ISO 8601 strings → UTC times in one vectorised call (a 400,000-
    annotation export parsed one value at a time spent minutes here);
    ``NaT`` where a value is missing or does not parse."""
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce", format="ISO8601")


def _lead_time(ann: dict) -> float | None:
    value = ann.get("lead_time")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _results(ann: dict, control: str) -> list[dict]:
    return [r for r in (ann.get("result") or []) if r.get("from_name") == control]


def _rating_value(ann: dict, control: str) -> tuple[float | None, str | None]:
    results = _results(ann, control)
    if not results:
        return None, MISSING
    if len(results) > 1:
        return None, SEVERAL
    value = (results[0].get("value") or {}).get("number")
    if value is None or value == "":
        return None, MISSING
    if isinstance(value, bool):
        return None, NOT_NUMBER
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, NOT_NUMBER
    if not math.isfinite(number):
        return None, NOT_NUMBER
    if not 0.0 <= number <= 1.0:
        return None, OUT_OF_RANGE
    return number, None


def _vote_value(ann: dict, control: str) -> tuple[str | None, str | None]:
    results = _results(ann, control)
    if not results:
        return None, MISSING
    picked = []
    for r in results:
        value = r.get("value") or {}
        if "choices" in value:
            picked.extend(value["choices"] if isinstance(value["choices"], list) else [value["choices"]])
        elif "selected" in value:  # <Pairwise>
            picked.append(value["selected"])
    if not picked:
        return None, MISSING
    if len(picked) > 1:
        return None, SEVERAL
    choice = CHOICE_VALUES.get(picked[0]) if isinstance(picked[0], str) else None
    return (choice, None) if choice else (None, UNKNOWN_CHOICE)


def _ann_id(ann: dict, task: dict, j: int) -> str:
    if ann.get("id") is not None:
        return f"ls-{ann['id']}"
    if ann.get("unique_id"):
        return f"ls-{ann['unique_id']}"
    return f"ls-task{task.get('id', '?')}-{j}"


def parse_export(
    tasks: list[dict],
    kind: str,
    known: Mapping[str, tuple[str, str]] | set,
    export_name: str,
    control: str | None = None,
    checks: Mapping[str, tuple[str, str] | None] | None = None,
) -> ParsedExport:
    """Valid rows and rejects of one export.

    ``kind`` ``ratings``: ``known`` is the set of our pair ids.
    ``kind`` ``preferences``: ``known`` maps task_id → (candidate_a, candidate_b).
    ``checks``: the quality-control tasks, qc_id → (candidate_a, candidate_b)
    of a preference check, ``None`` for a rating check.
    """
    if kind not in (RATINGS, PREFERENCES):
        raise ValueError(f"kind must be {RATINGS!r} or {PREFERENCES!r}")
    control = control or (RATING_CONTROL if kind == RATINGS else PREFERENCE_CONTROL)
    key = "pair_id" if kind == RATINGS else "task_id"
    checks = checks or {}
    rows, rejects, raw_times = [], [], []  # rows: our tasks' and the checks' valid annotations, in order
    counts: Counter = Counter()

    def reject(ann: dict, ours: str, aid: str, rid: str | None, problem: str) -> None:
        counts[problem] += 1
        raw = [r.get("value") for r in (ann.get("result") or [])]
        rejects.append(
            {"export_file": export_name, "kind": kind, "task_ref": ours, "annotation_id": aid, "rater_id": rid, "reason": problem,
             "value": json.dumps(raw, default=str)[:500]}
        )

    kept_anns, known_tasks = [], 0
    for task in tasks:
        counts["tasks"] += 1
        annotations = task.get("annotations") or []
        counts["annotations"] += len(annotations)
        ours = task["data"].get(key)
        task_problem, shown = None, None
        is_check = isinstance(ours, str) and ours in checks
        if not isinstance(ours, str) or not ours:
            task_problem, ours = NO_ID, f"ls-task-{task.get('id', '?')}"
        elif is_check:
            if kind != RATINGS:
                shown = _shown_candidates(task["data"], checks[ours])
                task_problem = TASK_CHANGED if shown is None else None
        elif ours not in known:
            task_problem = UNKNOWN_PAIR if kind == RATINGS else UNKNOWN_TASK
        elif kind != RATINGS:
            shown = _shown_candidates(task["data"], known[ours])
            task_problem = TASK_CHANGED if shown is None else None
        known_tasks += task_problem not in (NO_ID, UNKNOWN_PAIR, UNKNOWN_TASK)
        for j, ann in enumerate(annotations):
            aid = _ann_id(ann, task, j)
            problem, value, rid, raw_time = task_problem, None, None, None
            try:
                rid = rater_id(ann.get("completed_by"))
            except ValueError:
                problem = problem or BAD_RATER
            if problem is None and ann.get("was_cancelled"):
                problem = SKIPPED
            if problem is None and rid is None:
                problem = NO_RATER
            if problem is None:
                value, problem = (_rating_value if kind == RATINGS else _vote_value)(ann, control)
            if problem is None:
                try:
                    raw_time = _raw_timestamp(ann)
                except ValueError:
                    problem = BAD_TIME
            if problem is not None:
                reject(ann, ours, aid, rid, problem)
                continue
            row = {
                key: ours,
                "rater_id": rid,
                "annotation_id": aid,
                "lead_time_s": _lead_time(ann),
                "annotated_at": None,
                "source": SOURCE,
            }
            if is_check:
                row["qc_id"] = row.pop(key)
                if kind == RATINGS:
                    row["score"] = value
                else:
                    row["chosen_id"] = shown[0 if value == "a" else 1]
                rows.append(row)
                raw_times.append(raw_time)
                kept_anns.append((ann, ours))
                continue
            if kind == RATINGS:
                row["score"] = value
            else:
                row["chosen_id"] = shown[0 if value == "a" else 1]
                # ``choice`` is relative to preference_tasks.parquet's A/B.
                row["choice"] = "a" if row["chosen_id"] == known[ours][0] else "b"
            rows.append(row)
            raw_times.append(raw_time)
            kept_anns.append((ann, ours))
    times = parse_timestamps(raw_times)
    malformed = (times.isna() & pd.Series([t is not None for t in raw_times], dtype=bool)).to_numpy()
    for k in np.flatnonzero(malformed):
        ann, ours = kept_anns[k]
        reject(ann, ours, rows[k]["annotation_id"], rows[k]["rater_id"], BAD_TIME)
    good = ~malformed
    is_qc = np.array(["qc_id" in r for r in rows], dtype=bool)
    schema = S.MPD_RATINGS if kind == RATINGS else S.MPD_PREFERENCE_VOTES

    def table(mask: np.ndarray, schema: pa.Schema) -> pa.Table:
        picked = [r for r, ok in zip(rows, mask) if ok]
        columns = {name: [r.get(name) for r in picked] for name in schema.names if name != "annotated_at"}
        columns["annotated_at"] = pa.Array.from_pandas(times[mask].reset_index(drop=True)).cast(schema.field("annotated_at").type, safe=False)
        return pa.table({name: columns[name] for name in schema.names}, schema=schema)

    valid, qc = table(good & ~is_qc, schema), table(good & is_qc, S.MPD_QC_ANSWERS)
    counts["valid"] = valid.num_rows
    if qc.num_rows:
        counts["checks"] = qc.num_rows
    return ParsedExport(kind, valid, S.from_rows(rejects, S.ANNOTATION_REJECTS), dict(counts), qc_rows=qc, known_tasks=known_tasks)


def _shown_candidates(data: Mapping, table: tuple[str, str]) -> tuple[str, str] | None:
    """The (A, B) candidates the rater saw: the export's own ``candidate_a`` /
    ``candidate_b`` when the task data carries them (they may be in the other
    order than preference_tasks.parquet now has), else the table's. ``None``
    when the export names other candidates than the table (the task changed)."""
    a, b = data.get("candidate_a"), data.get("candidate_b")
    if a is None and b is None:
        return table
    if {a, b} != set(table) or a == b:
        return None
    return a, b
