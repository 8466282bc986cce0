"""``synesthesia demo``: a generated sample corpus built into every dataset,
offline, on Prefect's embedded server, in a few minutes on a laptop."""

from __future__ import annotations

from pathlib import Path

from synesthesia.datasets.mpd import MPDConfig
from synesthesia.datasets.synthetic import CorpusSpec, make_corpus
from synesthesia.flows.common import RunnerConfig
from synesthesia.flows.mpd import build_mpd

#: Demo sizes: small enough for a 2-core machine, big enough for three splits.
DEMO_PAIRS = 400
DEMO_SHARD_SIZE = 16


def run_demo(out: str | Path, runner: RunnerConfig = RunnerConfig(), spec: CorpusSpec = CorpusSpec()) -> dict:
    out = Path(out)
    corpus = make_corpus(out / "corpus", spec)
    results = {"corpus": corpus}
    results["mpd"] = build_mpd(
        corpus["paintings"], corpus["music"], out / "mpd", MPDConfig(n_pairs=DEMO_PAIRS, seed=spec.seed), DEMO_SHARD_SIZE, runner
    )
    return results
