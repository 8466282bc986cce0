"""Hand-written Label Studio full-JSON exports for the import tests."""

from __future__ import annotations

import json
from pathlib import Path

PAIRS = ["pair-a", "pair-b", "pair-c"]


def number(x):
    return [{"from_name": "coherence", "to_name": "painting", "type": "number", "value": {"number": x}}]


def choice(*values, name="preference"):
    return [{"from_name": name, "to_name": "painting", "type": "choices", "value": {"choices": list(values)}}]


def ann(aid, user, result, cancelled=False, updated="2026-01-01T10:00:00Z", lead=12.5, **extra):
    a = {"id": aid, "completed_by": user, "result": result, "was_cancelled": cancelled, "created_at": updated, "updated_at": updated, "lead_time": lead}
    a.update(extra)
    return a


def task(tid, data, *annotations):
    return {"id": tid, "data": data, "annotations": list(annotations), "predictions": []}


def write_export(path: Path, tasks) -> Path:
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path
