"""``synesthesia demo``: a generated sample corpus built into every dataset,
offline, on Prefect's embedded server, in a few minutes on a laptop."""

from __future__ import annotations

from pathlib import Path

from synesthesia.datasets.mpd import MPDConfig
from synesthesia.datasets.museart import MuseartConfig
from synesthesia.datasets.synthetic import CorpusSpec, MuseartCorpusSpec, make_corpus, make_museart_corpus
from synesthesia.flows.common import RunnerConfig
from synesthesia.flows.mpd import build_mpd
from synesthesia.flows.museart import build_museart

#: Demo sizes: small enough for a 2-core machine, big enough for three splits.
DEMO_PAIRS = 400
DEMO_SHARD_SIZE = 16
#: Museart demo: 4 paper categories x 8 tracks of 1-3 30 s segments (~64 items), published layout.
DEMO_MUSEART = MuseartCorpusSpec(categories=4, tracks_per_category=8, min_segments=1, max_segments=3)


def run_demo(
    out: str | Path, runner: RunnerConfig = RunnerConfig(), spec: CorpusSpec = CorpusSpec(), museart_spec: MuseartCorpusSpec = DEMO_MUSEART
) -> dict:
    out = Path(out)
    corpus = make_corpus(out / "corpus", spec)
    results = {"corpus": corpus}
    results["mpd"] = build_mpd(
        corpus["paintings"], corpus["music"], out / "mpd", MPDConfig(n_pairs=DEMO_PAIRS, seed=spec.seed), DEMO_SHARD_SIZE, runner
    )
    museart = make_museart_corpus(out / "corpus" / "museart", museart_spec)
    results["museart"] = build_museart(
        museart["images"], museart["audio"], out / "museart", MuseartConfig(seed=spec.seed), museart["csv_dir"], DEMO_SHARD_SIZE, runner
    )
    return results
