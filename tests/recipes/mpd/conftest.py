"""A minimal MPD folder (three pairs, two preference tasks) for the import tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes import mpd as MA
from support.exports import PAIRS


@pytest.fixture
def dataset(tmp_path) -> Path:
    out = tmp_path / "mpd"
    pairs = S.from_rows([{"pair_id": p, "painting_id": f"img-{i}", "clip_id": f"clip-{i}", "split": "train"} for i, p in enumerate(PAIRS)], S.MPD_PAIRS)
    dio.write_table(pairs, out / "pairs.parquet", S.MPD_PAIRS)
    tasks = S.from_rows(
        [
            {"task_id": "pref-1", "kind": "clips_given_painting", "query_id": "img-0", "candidate_a": "clip-1", "candidate_b": "clip-2", "split": "train"},
            {"task_id": "pref-2", "kind": "paintings_given_clip", "query_id": "clip-0", "candidate_a": "img-1", "candidate_b": "img-2", "split": "train"},
        ],
        S.MPD_PREFERENCE_TASKS,
    )
    dio.write_table(tasks, out / MA.PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    return out
