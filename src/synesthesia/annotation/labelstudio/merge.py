"""Merging an import into what earlier imports left: one row per (item,
rater), the latest annotation winning; every older one is a ``repeated``
reject. Importing an export twice, or a newer export of the same project,
gives the same table as importing it once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa

from synesthesia.datasets import schema as S

REPEATED = "repeated"  # an older annotation of the same task by the same rater


def merge(
    existing: pa.Table, new: pa.Table, item_key: str, export_name: str, kind: str, seen: set[str] | None = None
) -> tuple[pa.Table, pa.Table]:
    """Union of ``existing`` and ``new`` rows: an annotation seen again (its
    ``annotation_id`` in ``seen``, by default the ids of ``new``) is replaced
    by its new version — or dropped, when the new version was rejected; then
    one row per (item, rater) — the latest — is kept. Returns ``(merged,
    repeated)``, ``repeated`` being reject rows for the older annotations dropped."""
    schema = existing.schema
    new = S.conform(new, schema)
    fresh = set(new.column("annotation_id").to_pylist()) | set(seen or ())
    keep_old = ~pd.Series(existing.column("annotation_id").to_pylist(), dtype=object).isin(fresh).to_numpy()
    combined = pa.concat_tables([existing.filter(pa.array(keep_old)), new])
    if combined.num_rows == 0:
        return combined, S.empty(S.ANNOTATION_REJECTS)
    ids = combined.column("annotation_id").to_pandas()
    df = pd.DataFrame(
        {
            "item": combined.column(item_key).to_pandas(),
            "rater": combined.column("rater_id").to_pandas(),
            "at": combined.column("annotated_at").to_pandas(),
            # Label Studio's numeric annotation id (``ls-123`` → 123) orders annotations with the same time; other ids first
            "num": pd.to_numeric(ids.str.rsplit("-", n=1).str[-1], errors="coerce").fillna(-1.0),
        }
    )
    df["at"] = df["at"].fillna(pd.Timestamp.min.tz_localize("UTC"))
    order = df.sort_values(["item", "rater", "at", "num"], kind="stable").index.to_numpy()
    ordered = df.loc[order]
    last = ~ordered.duplicated(["item", "rater"], keep="last").to_numpy()
    kept_idx = np.sort(order[last])
    dropped_idx = np.sort(order[~last])
    merged = combined.take(pa.array(kept_idx, pa.int64()))
    dropped = combined.take(pa.array(dropped_idx, pa.int64()))
    value_col = "score" if "score" in schema.names else "choice"  # what the reject row shows
    repeated = pa.table(
        {
            "export_file": pa.array([export_name] * dropped.num_rows, pa.string()),
            "kind": pa.array([kind] * dropped.num_rows, pa.string()),
            "task_ref": dropped.column(item_key),
            "annotation_id": dropped.column("annotation_id"),
            "rater_id": dropped.column("rater_id"),
            "reason": pa.array([REPEATED] * dropped.num_rows, pa.string()),
            "value": pa.array([json.dumps(v) for v in dropped.column(value_col).to_pylist()], pa.string()),
        },
        schema=S.ANNOTATION_REJECTS,
    )
    return merged.sort_by([(item_key, "ascending"), ("rater_id", "ascending")]), repeated


def merge_rejects(existing: pa.Table, new: pa.Table, reevaluated: set[str]) -> pa.Table:
    """Reject rows after an import: drop old rows of annotations this import
    re-evaluated, add the new ones, one row per (annotation, reason)."""
    old = existing.filter(pa.array(~pd.Series(existing.column("annotation_id").to_pylist(), dtype=object).isin(reevaluated).to_numpy()))
    both = pa.concat_tables([S.conform(old, S.ANNOTATION_REJECTS), S.conform(new, S.ANNOTATION_REJECTS)])
    df = both.select(["annotation_id", "reason"]).to_pandas()
    unique = ~df.duplicated(keep="last").to_numpy()
    return both.filter(pa.array(unique))
