"""MPD annotation: the three phases with people in between, on a built MPD folder.

``synesthesia build mpd`` (and ``synesthesia annotate run``) run as far as the
data in DIR allows (:func:`run_phases`):

1. **pairs → rating tasks**: ``assignments.parquet`` (k of R raters per pair),
   listening copies of the clips (``clips/``, ``clip_files.parquet``; the build
   makes them with the mels), copies of paintings with transparent pixels
   composited as the model sees them (``labelstudio/media/paintings/``), Label Studio task JSON
   and configs in ``labelstudio/``. Waits for ``ratings.parquet``, which
   ``synesthesia annotate import`` / ``pull`` write from Label Studio exports.
2. **ratings → scores, statistics, preference tasks**: ``scores.parquet``,
   ``unscored.parquet``, ``rater_stats.parquet`` (with the quality-control
   checks and flags of :mod:`synesthesia.annotation.quality`), ``agreement.json``,
   ``preference_tasks.parquet``, ``preference_assignments.parquet`` and their
   task JSON. Waits for ``preference_votes.parquet``. Preference tasks are
   rebuilt on every run (scores may still change) until the first vote is
   imported; from then on they are frozen, so no vote can lose its task.
3. **votes → consensus and the final dataset**: ``preference_pairs.parquet``,
   the Hugging Face split shards ``hf/`` and the dataset card ``README.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.annotation.aggregate import aggregate_scores, dispersion, rating_counts
from synesthesia.annotation.agreement import agreement
from synesthesia.annotation.assign import assign_raters
from synesthesia.annotation.preferences import PreferenceConfig, build_preference_tasks, consensus
from synesthesia.annotation.quality import flagged_raters, qc_stats, rater_table, without_raters
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes.mpd.config import (
    AGREEMENT,
    ASSIGNMENTS,
    CLIP_MEDIA,
    PREFERENCE_ASSIGNMENTS,
    PREFERENCE_PAIRS,
    PREFERENCE_TASKS_FILE,
    PREFERENCE_VOTES,
    QC_ANSWERS,
    QC_TASKS,
    RATER_STATS,
    RATINGS_FILE,
    SCORES,
    UNSCORED,
    MPDAnnotationConfig,
    read_optional,
    used_votes,
)
from synesthesia.recipes.mpd.export import write_hf_export
from synesthesia.recipes.mpd.labelstudio import write_labelstudio_files
from synesthesia.recipes.mpd.status import mark_processed, status
from synesthesia.recipes.mpd.build import listening_job
from synesthesia.stages.audio import audio_pass
from synesthesia.stages.shards import ShardRunner, run_serially

# --- phase 1: rating tasks ------------------------------------------------------------

def plan_ratings(out: str | os.PathLike, config: MPDAnnotationConfig, seed: int) -> pa.Table:
    """Write ``assignments.parquet``: ``raters_per_pair`` distinct raters of
    ``rater_pool`` for every pair, balanced load, seeded."""
    out = Path(out)
    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
    table = assign_raters(pairs.column("pair_id").to_pylist(), config.raters_per_pair, config.rater_pool, seed, "pair_id", "ratings")
    dio.write_table(table, out / ASSIGNMENTS, S.MPD_ASSIGNMENTS)
    return table


def listening_copies(out: Path, config: MPDAnnotationConfig, shard_size: int, run: ShardRunner = run_serially) -> pa.Table:
    """Every paired clip cut from its source track at the track's own rate and
    channels (people listen, not the model): ``clips/`` and
    ``clip_files.parquet``. The build made them with the mels; this finds
    them done, or makes those the current pairs still lack (after a changed
    ``--pairs``), decoding only the tracks that have any."""
    out = Path(out)
    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
    tracks = dio.read_table(out / "tracks.parquet", S.MPD_TRACKS)
    job = listening_job(dio.read_table(out / "clips.parquet", S.CLIPS), pairs, config.clip_media_format)
    result = audio_pass(tracks, dio.read_manifest(out)["media_roots"]["music"], out, shard_size, copies=job, run=run)
    if result.failed.num_rows:  # the build decoded these tracks fully: the files changed since
        raise ValueError(f"{result.failed.num_rows} track(s) no longer decode as they did at build time ({result.failed.column('reason')[0]}); re-run `synesthesia build mpd`")
    dio.write_table(result.clip_files, out / CLIP_MEDIA, S.CLIP_FILES)
    return result.clip_files


# --- phase 2: scores, agreement, preference tasks ----------------------------------------

def score_ratings(out: str | os.PathLike, config: MPDAnnotationConfig, seed: int) -> dict:
    """Scores, unscored pairs, α with its bootstrap interval, per-rater
    figures with the quality-control checks and the flag rule; with
    ``config.exclude_flagged`` the flagged raters' ratings are left out of
    the scores and α (they stay in ``ratings.parquet``)."""
    out = Path(out)
    ratings = dio.read_table(out / RATINGS_FILE, S.MPD_RATINGS)
    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS, columns=["pair_id"])
    # ratings of pairs that a later build no longer has (changed --pairs) are kept in the file but not used
    current = pc.is_in(ratings.column("pair_id"), value_set=pairs.column("pair_id"))
    stale = ratings.num_rows - int(pc.sum(current).as_py() or 0)
    ratings = ratings.filter(current)
    checks = [read_optional(out, name, schema) for name, schema in ((QC_TASKS, S.MPD_QC_TASKS), (QC_ANSWERS, S.MPD_QC_ANSWERS))]
    stats = qc_stats(ratings, read_optional(out, PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES), *checks, config=config.qc)
    everyone = agreement(ratings, 0 if config.exclude_flagged else config.n_boot, seed)
    raters = rater_table(everyone.raters, stats, config.qc, config.exclude_flagged)
    dio.write_table(raters, out / RATER_STATS, S.MPD_RATER_STATS)
    excluded = flagged_raters(raters, only_excluded=True)
    used = without_raters(ratings, excluded)
    agree = agreement(used, config.n_boot, seed) if config.exclude_flagged else everyone
    scores, unscored = aggregate_scores(used, config.aggregation)
    dio.write_table(scores, out / SCORES, S.MPD_SCORES)
    dio.write_table(unscored, out / UNSCORED, S.MPD_UNSCORED)
    sources = dict(zip(*np.unique(np.asarray(used.column("source").to_pylist(), dtype=str), return_counts=True))) if used.num_rows else {}
    summary = {
        "ratings": used.num_rows,
        "stale_ratings": stale,
        "sources": {str(k): int(v) for k, v in sources.items()},
        "raters": int(pc.count_distinct(used.column("rater_id")).as_py()) if used.num_rows else 0,
        "pairs": pairs.num_rows,
        "scored": scores.num_rows,
        "unscored": unscored.num_rows,
        "ratings_per_pair": rating_counts(pairs.column("pair_id"), used),
        "ambiguous": int(pc.sum(scores.column("ambiguous")).as_py() or 0),
        "dispersion": dispersion(scores, config.aggregation.sigma_thresholds),
        "ddof": config.aggregation.ddof,
        "band": list(config.aggregation.band),
        "agreement": agree.summary(),
        "quality": {
            "flagged": sorted(flagged_raters(raters)),
            "excluded": sorted(excluded),
            "excluded_ratings": ratings.num_rows - used.num_rows,
            "alpha_everyone": everyone.alpha,
            "gold_answers": int(pc.sum(raters.column("n_gold")).as_py() or 0),
            "repeat_answers": int(pc.sum(raters.column("n_repeats")).as_py() or 0),
        },
    }
    dio.write_text(json.dumps(summary, indent=2, default=str) + "\n", out / AGREEMENT)
    mark_processed(out, RATINGS_FILE)
    return summary


def plan_preferences(out: str | os.PathLike, config: MPDAnnotationConfig, seed: int) -> dict:
    """Preference tasks and their rater assignments (frozen once votes exist)."""
    out = Path(out)
    if (out / PREFERENCE_VOTES).exists() and (out / PREFERENCE_TASKS_FILE).exists():
        tasks = dio.read_table(out / PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
        return {"frozen": True, "tasks": _kind_counts(tasks)}
    scores = dio.read_table(out / SCORES, S.MPD_SCORES)
    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
    tasks, summary = build_preference_tasks(scores, pairs, PreferenceConfig(config.preference_tasks, seed))
    dio.write_table(tasks, out / PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    assigned = assign_raters(
        tasks.column("task_id").to_pylist(), config.raters_per_preference_task, config.rater_pool, seed, "task_id", "preferences"
    )
    dio.write_table(assigned, out / PREFERENCE_ASSIGNMENTS, S.MPD_PREFERENCE_ASSIGNMENTS)
    summary["frozen"] = False
    return summary


def _kind_counts(tasks: pa.Table) -> dict[str, int]:
    kinds = tasks.column("kind").to_pylist()
    return {k: kinds.count(k) for k in S.PREFERENCE_KINDS}


# --- phase 3: consensus and the final dataset ------------------------------------------

def finish(out: str | os.PathLike, config: MPDAnnotationConfig) -> dict:
    """Consensus preference pairs, the Hugging Face split shards and the card."""
    out = Path(out)
    tasks = dio.read_table(out / PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    pairs_table, summary = consensus(tasks, used_votes(out), config.consensus)
    dio.write_table(pairs_table, out / PREFERENCE_PAIRS, S.MPD_PREFERENCE_PAIRS)
    summary["hf"] = write_hf_export(out)
    mark_processed(out, PREFERENCE_VOTES)
    return summary


# --- all phases ---------------------------------------------------------------------------

def run_phases(out: Path, config: MPDAnnotationConfig, seed: int, shard_size: int, run: ShardRunner = run_serially) -> dict:
    """The annotation phases, as far as the data in ``out`` allows; returns
    what each phase did and the folder's :func:`status`."""
    result: dict = {"assignments": plan_ratings(out, config, seed).num_rows}
    result["listening_copies"] = listening_copies(out, config, shard_size, run).num_rows
    write_labelstudio_files(out, "ratings")
    if (out / RATINGS_FILE).exists():
        result["scores"] = score_ratings(out, config, seed)
        result["preferences"] = plan_preferences(out, config, seed)
        write_labelstudio_files(out, "preferences")
    if (out / PREFERENCE_VOTES).exists():
        result["consensus"] = finish(out, config)
    result["status"] = status(out)
    return result


# --- simulated raters (demo and tests only) ----------------------------------------------

def simulate_ratings(out: str | os.PathLike, raters) -> pa.Table:
    """Write ``ratings.parquet`` from ``assignments.parquet`` with simulated
    raters (``annotation.simulate.SimulatedRaters``); rows say ``simulated``."""
    out = Path(out)
    table = raters.rate(dio.read_table(out / ASSIGNMENTS, S.MPD_ASSIGNMENTS))
    dio.write_table(table, out / RATINGS_FILE, S.MPD_RATINGS)
    return table


def simulate_votes(out: str | os.PathLike, raters) -> pa.Table:
    """Write ``preference_votes.parquet`` from the preference assignments with simulated raters."""
    out = Path(out)
    tasks = dio.read_table(out / PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    table = raters.vote(tasks, dio.read_table(out / PREFERENCE_ASSIGNMENTS, S.MPD_PREFERENCE_ASSIGNMENTS))
    dio.write_table(table, out / PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES)
    return table
