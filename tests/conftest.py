"""Shared fixtures: one Prefect test server per session, a tiny generated corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The tests use only local models (random-weight configs, the packaged MiniLM):
# never the network, so a hub lookup fails at once instead of retrying for ~20 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.synthetic import CorpusSpec, make_corpus
from synesthesia.recipes import mpd as MA
from support.exports import PAIRS

#: Small but complete: 6 styles x 3 paintings, 4 genres x 3 tracks of 30-50 s,
#: plus the broken files of each kind.
TINY_SPEC = CorpusSpec(paintings_per_style=3, tracks_per_genre=3, min_seconds=30.0, max_seconds=50.0, image_size=96, seed=7)


@pytest.fixture(scope="session")
def prefect_api():
    """One `prefect_test_harness` for the whole session (the embedded server
    costs seconds per start). Its URL is exported so subprocesses (process
    pool workers, Dask workers, CLI runs) report to the same server."""
    from synesthesia.flows.runner import configure_prefect_defaults

    configure_prefect_defaults()
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        url = PREFECT_API_URL.value()
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = url
        try:
            yield url
        finally:
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> dict:
    return make_corpus(tmp_path_factory.mktemp("corpus"), TINY_SPEC)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mpd_annotation_phases(prefect_api, tiny_corpus, tmp_path_factory) -> dict:
    """An MPD folder taken through the three annotation phases with simulated
    raters, plus copies of it after phases 1 and 2 (tests copy those again
    before changing them). See tests/mpd_phases.py."""
    from support.mpd_phases import run_phases

    return run_phases(tiny_corpus, tmp_path_factory.mktemp("mpd-annotation"))


@pytest.fixture
def dataset(tmp_path) -> Path:
    """A minimal MPD folder (three pairs, two preference tasks) for the import tests."""
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


@pytest.fixture(scope="session")
def demo_folders(prefect_api, tmp_path_factory) -> dict:
    """The three datasets as `synesthesia demo` builds them, at test size
    (MPD annotated through consensus by simulated raters): what the
    publishing tests export and browse. See tests/support/publish.py."""
    from support.publish import build_demo_folders

    return build_demo_folders(tmp_path_factory.mktemp("demo-publish"))
