"""MPD annotation: the three phases with people in between, on a built MPD folder.

``synesthesia build mpd`` (and ``synesthesia annotate run``) run as far as the
data in DIR allows:

1. **pairs → rating tasks**: ``assignments.parquet`` (k of R raters per pair),
   listening copies of the clips (``clips/``, ``clip_files.parquet``), Label Studio task JSON
   and configs in ``labelstudio/``. Waits for ``ratings.parquet``, which
   ``synesthesia annotate import`` / ``pull`` write from Label Studio exports.
2. **ratings → scores, statistics, preference tasks**: ``scores.parquet``,
   ``unscored.parquet``, ``rater_stats.parquet``, ``agreement.json``,
   ``preference_tasks.parquet``, ``preference_assignments.parquet`` and their
   task JSON. Waits for ``preference_votes.parquet``. Preference tasks are
   rebuilt on every run (scores may still change) until the first vote is
   imported; from then on they are frozen, so no vote can lose its task.
3. **votes → consensus and the final dataset**: ``preference_pairs.parquet``,
   the Hugging Face split shards ``hf/`` and the dataset card ``README.md``.

Every function here is a plain function of the folder (no Prefect); the flow
in ``flows/mpd.py`` composes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.annotation.aggregate import (
    PAPER_MEAN_SIGMA,
    PAPER_SHARE_BELOW,
    AggregationConfig,
    aggregate_scores,
    dispersion,
    rating_counts,
)
from synesthesia.annotation.agreement import DEFAULT_BOOTSTRAP, PAPER_ALPHA, agreement
from synesthesia.annotation.assign import (
    MPD_RATER_POOL,
    MPD_RATERS_PER_PAIR,
    MPD_RATERS_PER_PREFERENCE_TASK,
    assign_raters,
)
from synesthesia.annotation.labelstudio import parse as LP
from synesthesia.annotation.labelstudio.configs import PROJECT_KINDS, RATINGS, label_config
from synesthesia.annotation.labelstudio.tasks import MediaLinks, default_document_root, preference_tasks, rating_tasks
from synesthesia.annotation.preferences import (
    CLIPS_GIVEN_PAINTING,
    MPD_PREFERENCE_TASKS,
    PAINTINGS_GIVEN_CLIP,
    PAPER_CONSENSUS,
    ConsensusConfig,
    PreferenceConfig,
    build_preference_tasks,
    consensus,
)
from synesthesia.datasets import card
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.pipelines.audio import CLIP_FORMATS, ClipConfig

# --- layout ----------------------------------------------------------------------

ASSIGNMENTS = "assignments.parquet"
#: Listening copies of the clips for raters (schema.CLIP_FILES; paths relative to CLIP_MEDIA_DIR).
CLIP_MEDIA = "clip_files.parquet"
CLIP_MEDIA_DIR = "clips"
#: FLAC: lossless, plays in every current browser, fast to encode.
DEFAULT_FORMAT = "flac"
RATINGS_FILE = "ratings.parquet"
SCORES = "scores.parquet"
UNSCORED = "unscored.parquet"
RATER_STATS = "rater_stats.parquet"
AGREEMENT = "agreement.json"
PREFERENCE_TASKS_FILE = "preference_tasks.parquet"
PREFERENCE_ASSIGNMENTS = "preference_assignments.parquet"
PREFERENCE_VOTES = "preference_votes.parquet"
PREFERENCE_PAIRS = "preference_pairs.parquet"
REJECTS = "annotation_rejects.parquet"
LABELSTUDIO = "labelstudio"
IMPORT_LOG = "labelstudio/imports.json"
#: SHA-256 of the ratings / votes files the last `annotate run` used, so
#: `status` can tell imported-but-not-yet-processed annotations apart.
PROCESSED = "labelstudio/processed.json"
PROJECTS = "labelstudio/projects.json"
FIGURES = "figures"

WAITING_FOR_RATINGS = "waiting for ratings"
WAITING_FOR_VOTES = "waiting for preference votes"
WAITING_FOR_MORE_VOTES = "consensus written, waiting for more preference votes"
COMPLETE = "complete"
WAITING_FOR_RUN = "imported, waiting for annotate run"


@dataclass(frozen=True)
class MPDAnnotationConfig:
    """Annotation settings of an MPD build (paper defaults)."""

    rater_pool: int = MPD_RATER_POOL
    raters_per_pair: int = MPD_RATERS_PER_PAIR
    raters_per_preference_task: int = MPD_RATERS_PER_PREFERENCE_TASK
    aggregation: AggregationConfig = field(default_factory=AggregationConfig)
    n_boot: int = DEFAULT_BOOTSTRAP
    preference_tasks: int = MPD_PREFERENCE_TASKS
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    clip_media_format: str = DEFAULT_FORMAT

    def __post_init__(self):
        if not 1 <= self.raters_per_pair <= self.rater_pool:
            raise ValueError("need 1 <= raters_per_pair <= rater_pool")
        if not 1 <= self.raters_per_preference_task <= self.rater_pool:
            raise ValueError("need 1 <= raters_per_preference_task <= rater_pool")
        if self.n_boot < 0:
            raise ValueError("n_boot must be >= 0 (0: no bootstrap interval)")
        if self.clip_media_format not in CLIP_FORMATS:
            raise ValueError(f"clip_media_format must be one of {sorted(CLIP_FORMATS)}")

    @classmethod
    def from_dict(cls, d: dict | None) -> "MPDAnnotationConfig":
        """Rebuild from ``dataclasses.asdict`` output (as stored in dataset.json)."""
        if not d:
            return cls()
        d = dict(d)
        agg = dict(d.pop("aggregation", {}) or {})
        for key in ("band", "sigma_thresholds"):
            if key in agg:
                agg[key] = tuple(agg[key])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(
            aggregation=AggregationConfig(**agg),
            consensus=ConsensusConfig(**(d.pop("consensus", {}) or {})),
            **{k: v for k, v in d.items() if k in known},
        )


def annotation_config(out: str | os.PathLike) -> tuple[MPDAnnotationConfig, int]:
    """The annotation config and seed recorded in ``dataset.json``."""
    cfg = dio.read_manifest(out).get("config", {})
    return MPDAnnotationConfig.from_dict(cfg.get("annotation")), int(cfg.get("seed", 0))


def _read(out: Path, name: str, schema: pa.Schema) -> pa.Table | None:
    path = out / name
    return dio.read_table(path, schema) if path.exists() else None


# --- phase 1: rating tasks ------------------------------------------------------------

def plan_ratings(out: str | os.PathLike, config: MPDAnnotationConfig, seed: int) -> pa.Table:
    """Write ``assignments.parquet``: ``raters_per_pair`` distinct raters of
    ``rater_pool`` for every pair, balanced load, seeded."""
    out = Path(out)
    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
    table = assign_raters(pairs.column("pair_id").to_pylist(), config.raters_per_pair, config.rater_pool, seed, "pair_id", "ratings")
    dio.write_table(table, out / ASSIGNMENTS, S.MPD_ASSIGNMENTS)
    return table


def listening_clips(out: str | os.PathLike) -> tuple[pa.Table, pa.Table, ClipConfig]:
    """What the listening-copy stage cuts: the tracks, the clips that appear
    in pairs, and a ClipConfig with their length."""
    out = Path(out)
    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
    clips = dio.read_table(out / "clips.parquet", S.CLIPS)
    tracks = dio.read_table(out / "tracks.parquet", S.MPD_TRACKS)
    used = clips.filter(pc.is_in(clips.column("clip_id"), value_set=pc.unique(pairs.column("clip_id"))))
    lengths = pc.subtract(used.column("end_s"), used.column("start_s"))
    seconds = pc.max(lengths).as_py() if used.num_rows else ClipConfig().clip_seconds
    return tracks, used, ClipConfig(clip_seconds=float(seconds))


def media_files(out: str | os.PathLike) -> tuple[dict[str, Path], dict[str, Path]]:
    """Absolute paths of every painting file and every clip's listening copy."""
    out = Path(out)
    roots = dio.read_manifest(out)["media_roots"]
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS)
    p_files = {pid: Path(roots["paintings"]) / path for pid, path in zip(paintings["painting_id"].to_pylist(), paintings["path"].to_pylist())}
    media = _read(out, CLIP_MEDIA, S.CLIP_FILES)
    if media is None:
        raise FileNotFoundError(f"{out}: no {CLIP_MEDIA}; run `synesthesia build mpd` (phase 1 writes the clips' listening copies)")
    c_files = {cid: out / CLIP_MEDIA_DIR / path for cid, path in zip(media["clip_id"].to_pylist(), media["path"].to_pylist())}
    return p_files, c_files


def default_links(out: str | os.PathLike) -> MediaLinks:
    """Local-files links under the deepest folder holding the paintings and DIR."""
    out = Path(out)
    roots = dio.read_manifest(out)["media_roots"]
    return MediaLinks(default_document_root(roots["paintings"], out))


def _raters_by(table: pa.Table | None, key: str) -> dict[str, list[str]]:
    if table is None:
        return {}
    out: dict[str, list[str]] = {}
    for item, rater in zip(table.column(key).to_pylist(), table.column("rater_id").to_pylist()):
        out.setdefault(item, []).append(rater)
    return out


def labelstudio_tasks(out: str | os.PathLike, kind: str, links: MediaLinks | None = None) -> dict[str, list[dict]]:
    """Label Studio task JSON per project kind: ``kind`` ``ratings`` → one
    project; ``preferences`` → one per preference kind (or name one kind)."""
    out = Path(out)
    links = links or default_links(out)
    p_files, c_files = media_files(out)
    if kind == RATINGS:
        pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
        return {RATINGS: rating_tasks(pairs, p_files, c_files, links, _raters_by(_read(out, ASSIGNMENTS, S.MPD_ASSIGNMENTS), "pair_id"))}
    kinds = S.PREFERENCE_KINDS if kind == LP.PREFERENCES else (kind,)
    if any(k not in S.PREFERENCE_KINDS for k in kinds):
        raise ValueError(f"unknown kind {kind!r}; choose ratings, preferences or one of {S.PREFERENCE_KINDS}")
    tasks = _read(out, PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    if tasks is None:
        raise FileNotFoundError(f"{out}: no {PREFERENCE_TASKS_FILE} yet; import ratings and run `synesthesia annotate run` first")
    raters = _raters_by(_read(out, PREFERENCE_ASSIGNMENTS, S.MPD_PREFERENCE_ASSIGNMENTS), "task_id")
    return {k: preference_tasks(k, tasks, p_files, c_files, links, raters) for k in kinds}


def write_labelstudio_files(out: str | os.PathLike, kind: str, links: MediaLinks | None = None) -> list[Path]:
    """``labelstudio/<project kind>.tasks.json`` and ``<project kind>.xml`` for
    ``kind`` (``ratings`` or ``preferences``)."""
    out = Path(out)
    written = []
    for project_kind, tasks in labelstudio_tasks(out, kind, links).items():
        written.append(dio.write_text(json.dumps(tasks, indent=1) + "\n", out / LABELSTUDIO / f"{project_kind}.tasks.json"))
        written.append(dio.write_text(label_config(project_kind), out / LABELSTUDIO / f"{project_kind}.xml"))
    return written


# --- phase 2: scores, agreement, preference tasks ----------------------------------------

def score_ratings(out: str | os.PathLike, config: MPDAnnotationConfig, seed: int) -> dict:
    """Scores, unscored pairs, α with its bootstrap interval, per-rater figures."""
    out = Path(out)
    ratings = dio.read_table(out / RATINGS_FILE, S.MPD_RATINGS)
    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS, columns=["pair_id"])
    # ratings of pairs that a later build no longer has (changed --pairs) are kept in the file but not used
    current = pc.is_in(ratings.column("pair_id"), value_set=pairs.column("pair_id"))
    stale = ratings.num_rows - int(pc.sum(current).as_py() or 0)
    ratings = ratings.filter(current)
    scores, unscored = aggregate_scores(ratings, config.aggregation)
    dio.write_table(scores, out / SCORES, S.MPD_SCORES)
    dio.write_table(unscored, out / UNSCORED, S.MPD_UNSCORED)
    agree = agreement(ratings, config.n_boot, seed)
    dio.write_table(agree.raters, out / RATER_STATS, S.MPD_RATER_STATS)
    sources = dict(zip(*np.unique(np.asarray(ratings.column("source").to_pylist(), dtype=str), return_counts=True))) if ratings.num_rows else {}
    summary = {
        "ratings": ratings.num_rows,
        "stale_ratings": stale,
        "sources": {str(k): int(v) for k, v in sources.items()},
        "raters": int(pc.count_distinct(ratings.column("rater_id")).as_py()) if ratings.num_rows else 0,
        "pairs": pairs.num_rows,
        "scored": scores.num_rows,
        "unscored": unscored.num_rows,
        "ratings_per_pair": rating_counts(pairs.column("pair_id"), ratings),
        "ambiguous": int(pc.sum(scores.column("ambiguous")).as_py() or 0),
        "dispersion": dispersion(scores, config.aggregation.sigma_thresholds),
        "ddof": config.aggregation.ddof,
        "band": list(config.aggregation.band),
        "agreement": agree.summary(),
    }
    dio.write_text(json.dumps(summary, indent=2, default=str) + "\n", out / AGREEMENT)
    _mark_processed(out, RATINGS_FILE)
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
    votes = dio.read_table(out / PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES)
    pairs_table, summary = consensus(tasks, votes, config.consensus)
    dio.write_table(pairs_table, out / PREFERENCE_PAIRS, S.MPD_PREFERENCE_PAIRS)
    summary["hf"] = write_hf_export(out)
    _mark_processed(out, PREFERENCE_VOTES)
    return summary


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _processed(out: Path) -> dict:
    path = out / PROCESSED
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _mark_processed(out: Path, name: str) -> None:
    done = _processed(out)
    done[name] = _sha256(out / name)
    dio.write_text(json.dumps(done, indent=2) + "\n", out / PROCESSED)


def _unprocessed(out: Path, name: str) -> bool:
    """``name`` exists but is not the file the last `annotate run` used."""
    return (out / name).exists() and _processed(out).get(name) != _sha256(out / name)


def scored_pairs_table(out: Path) -> pa.Table:
    """pairs ⋈ scores, with the media paths a reader needs (HF ``scores`` config)."""
    import pandas as pd

    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS).to_pandas()
    scores = dio.read_table(out / SCORES, S.MPD_SCORES).to_pandas()
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS).to_pandas()[["painting_id", "path", "style"]]
    clips = dio.read_table(out / "clips.parquet", S.CLIPS).to_pandas()[["clip_id", "track_id", "start_s", "end_s"]]
    media = _read(out, CLIP_MEDIA, S.CLIP_FILES)
    df = pairs.merge(scores, on="pair_id").merge(paintings.rename(columns={"path": "painting_path"}), on="painting_id", how="left")
    df = df.merge(clips, on="clip_id", how="left")
    if media is not None:
        listening = media.to_pandas()[["clip_id", "path"]]
        listening["path"] = CLIP_MEDIA_DIR + "/" + listening["path"]
        df = df.merge(listening.rename(columns={"path": "clip_media_path"}), on="clip_id", how="left")
    else:
        df["clip_media_path"] = None
    cols = ["pair_id", "painting_id", "clip_id", "score", "n_ratings", "sigma", "min", "max", "ambiguous",
            "painting_path", "style", "track_id", "start_s", "end_s", "clip_media_path", "split"]
    return pa.Table.from_pandas(df[cols].sort_values(["split", "pair_id"]), preserve_index=False)


HF_FOLDER = "hf"


def write_hf_export(out: Path) -> dict:
    """``hf/<config>/<split>/part-NNNNN.parquet`` for the ``scores`` and
    ``preferences`` configs, and the dataset card ``README.md`` pointing at them."""
    tables = {
        "scores": scored_pairs_table(out),
        "preferences": dio.read_table(out / PREFERENCE_PAIRS, S.MPD_PREFERENCE_PAIRS),
    }
    configs = {}
    for name, table in tables.items():
        written = card.write_split_parts(table, out / HF_FOLDER / name)
        order = sorted(written, key=lambda s: (card_split_rank(s), s))
        configs[name] = {split: f"{HF_FOLDER}/{name}/{split}/*.parquet" for split in order}
    info = json.loads((out / AGREEMENT).read_text(encoding="utf-8"))
    config, _ = annotation_config(out)
    n_ratings = tables["scores"].column("n_ratings")
    body = _card_body(out, info, config, pc.min_max(n_ratings).as_py() if len(n_ratings) else None)
    card.write_dataset_card(out, "MPD (music-painting coherence)", None, [body.strip()], configs=configs)
    return {name: list(globs) for name, globs in configs.items()}


def card_split_rank(split: str) -> int:
    order = ("train", "val", "test")
    return order.index(split) if split in order else len(order)


def _simulated_note(sources: dict) -> str:
    sim = sources.get("simulated", 0)
    total = sum(sources.values())
    if not sim:
        return ""
    return (
        f"**The ratings in this folder are simulated** ({sim:,} of {total:,} ratings come from "
        "`synesthesia.annotation.simulate`, not from people): it is demo or test data.\n\n"
    )


def _card_body(out: Path, info: dict, config: MPDAnnotationConfig, n_ratings: dict | None) -> str:
    """The card's prose. ``n_ratings``: min/max ratings per scored pair."""
    a = info["agreement"]
    got = (
        f"{n_ratings['min']}" if n_ratings["min"] == n_ratings["max"] else f"{n_ratings['min']}–{n_ratings['max']}"
    ) if n_ratings else "no"
    return f"""
{_simulated_note(info.get("sources", {}))}Random painting × 15 s music-clip pairs, each assigned to {config.raters_per_pair}
of a pool of {config.rater_pool} raters and rated on [0, 1] (scored pairs have {got} ratings each;
{info.get("raters", 0)} distinct raters took part). A pair's score is the trimmed mean of its ratings.
Pairwise preferences cover the ambiguous pairs (score in {info.get("band")}). Built with `synesthesia`
following the MPJudge paper.

## Configs

- `scores`: one row per scored pair — `pair_id, painting_id, clip_id, score, n_ratings, sigma, min, max,
  ambiguous, painting_path, style, track_id, start_s, end_s, clip_media_path, split`.
  `painting_path` is relative to the paintings media root in `dataset.json`; `clip_media_path`
  (the clip's listening copy) to this folder. Mel spectrograms are in `mels/` (by `clip_id`).
- `preferences`: consensus preference pairs — `task_id, kind, query_id, chosen_id, rejected_id,
  votes_for, votes_total, split`. `kind` `clips_given_painting`: the query is a painting and
  chosen/rejected are clips; `paintings_given_clip`: the reverse.

Splits are the leak-free splits decided at pairing time; preference tasks are built within a split.

```python
import datasets
scores = datasets.load_dataset("path/to/{out.name}", "scores")
prefs = datasets.load_dataset("path/to/{out.name}", "preferences")
```

## Agreement

Krippendorff's α (interval) = {a['alpha']:.3f} (95 % bootstrap interval {a['ci95'][0]:.3f}–{a['ci95'][1]:.3f},
{a['n_boot']} resamples of pairs); mean σ of the raw ratings = {info['dispersion']['mean_sigma']:.3f}.
"""


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


# --- import -------------------------------------------------------------------------------

def import_annotations(out: str | os.PathLike, export: str | os.PathLike, kind: str | None = None) -> dict:
    """Turn a Label Studio full JSON export into rows of ``ratings.parquet`` or
    ``preference_votes.parquet`` (merged with earlier imports), with the
    unusable annotations in ``annotation_rejects.parquet``.

    A malformed file raises :class:`~synesthesia.annotation.labelstudio.parse.ExportFormatError`
    before anything is written."""
    out = Path(out)
    export = Path(export)
    tasks = LP.read_export(export)
    detected = LP.detect_kind(tasks, export)  # refuses an export with no tasks, or none of ours
    if kind is not None:
        wanted = LP.PREFERENCES if kind in S.PREFERENCE_KINDS else kind
        if wanted != detected:
            field = "pair_id" if detected == RATINGS else "task_id"
            raise LP.ExportFormatError(f"{export}: --kind {kind} was given, but its tasks are {detected} tasks ({field} in the task data)")
    kind = detected
    if kind == RATINGS:
        pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS, columns=["pair_id"])
        known: set | dict = set(pairs.column("pair_id").to_pylist())
        target, schema, key = RATINGS_FILE, S.MPD_RATINGS, "pair_id"
    elif kind == LP.PREFERENCES:
        ptasks = _read(out, PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
        if ptasks is None:
            raise LP.ExportFormatError(f"{export}: {out} has no {PREFERENCE_TASKS_FILE} yet, so preference votes cannot be matched")
        known = {t: (a, b) for t, a, b in zip(ptasks["task_id"].to_pylist(), ptasks["candidate_a"].to_pylist(), ptasks["candidate_b"].to_pylist())}
        target, schema, key = PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES, "task_id"
    else:
        raise ValueError(f"unknown kind {kind!r}: ratings or preferences")
    parsed = LP.parse_export(tasks, kind, known, export.name)
    seen = set(parsed.rows.column("annotation_id").to_pylist()) | set(parsed.rejects.column("annotation_id").to_pylist())
    existing = _read(out, target, schema)
    merged, repeated = LP.merge(existing if existing is not None else S.empty(schema), parsed.rows, key, export.name, kind, seen)
    old_rejects = _read(out, REJECTS, S.ANNOTATION_REJECTS)
    old_rejects = S.empty(S.ANNOTATION_REJECTS) if old_rejects is None else old_rejects
    rejects = LP.merge_rejects(old_rejects, pa.concat_tables([parsed.rejects, repeated]), seen)
    counts = dict(parsed.counts)
    counts[LP.REPEATED] = repeated.num_rows
    entry = {
        "file": str(export.resolve()),
        "sha256": hashlib.sha256(export.read_bytes()).hexdigest(),
        "kind": kind,
        "imported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "counts": counts,
        "rows_after": merged.num_rows,
    }
    log = _import_log(out)
    log.append(entry)
    dio.write_table(rejects, out / REJECTS, S.ANNOTATION_REJECTS)
    dio.write_table(merged, out / target, schema)
    dio.write_text(json.dumps(log, indent=2) + "\n", out / IMPORT_LOG)
    return entry


def _import_log(out: Path) -> list:
    path = out / IMPORT_LOG
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


# --- status ---------------------------------------------------------------------------------

def status(out: str | os.PathLike) -> dict:
    """Which phase DIR is in and what it waits for (a sentence for people)."""
    out = Path(out)
    if not (out / RATINGS_FILE).exists():
        n = dio.read_table(out / "pairs.parquet", columns=["pair_id"]).num_rows if (out / "pairs.parquet").exists() else 0
        return {
            "phase": WAITING_FOR_RATINGS,
            "message": (
                f"phase 1 of 3 done: {n} pairs have rating tasks. Waiting for ratings: label "
                f"{LABELSTUDIO}/ratings.tasks.json in Label Studio (or `synesthesia annotate push --kind ratings`), then "
                f"`synesthesia annotate pull` or `synesthesia annotate import --dataset {out} --export FILE`, "
                "and run this command again."
            ),
        }
    for name, what in ((RATINGS_FILE, "ratings"), (PREFERENCE_VOTES, "preference votes")):
        if _unprocessed(out, name):
            return {
                "phase": WAITING_FOR_RUN,
                "message": (
                    f"{what} imported into {name} but not processed yet: run `synesthesia annotate run --dataset {out}` "
                    "(or `synesthesia build mpd` again) to compute "
                    + ("scores, agreement and preference tasks." if name == RATINGS_FILE else "the consensus and the dataset card.")
                ),
            }
    if not (out / PREFERENCE_VOTES).exists():
        unscored = dio.read_table(out / UNSCORED).num_rows if (out / UNSCORED).exists() else 0
        unrated = _unrated_pairs(out)
        extra = f" {unscored} pairs still have too few ratings to be scored (unscored.parquet)." if unscored else ""
        extra += f" {unrated} pairs have no rating yet; import more ratings and run again to score them." if unrated else ""
        return {
            "phase": WAITING_FOR_VOTES,
            "message": (
                f"phase 2 of 3 done: scores and preference tasks written.{extra} Waiting for preference votes: label "
                f"{LABELSTUDIO}/clips_given_painting.tasks.json and paintings_given_clip.tasks.json "
                "(or `synesthesia annotate push --kind preferences`), import the exports, and run this command again."
            ),
        }
    config, _ = annotation_config(out)
    tasks = dio.read_table(out / PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    votes = dio.read_table(out / PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES)
    _, summary = consensus(tasks, votes, config.consensus)
    per_kind = [summary[k] for k in S.PREFERENCE_KINDS]
    kept = sum(v["kept"] for v in per_kind)
    waiting = sum(v["waiting"] for v in per_kind)
    no_votes = sum(v["no_votes"] for v in per_kind)
    done = f"{kept} consensus preference pairs from {tasks.num_rows} tasks"
    if waiting or no_votes:
        # Consensus is already written for the tasks that have enough votes; say what is missing.
        return {
            "phase": WAITING_FOR_MORE_VOTES,
            "message": (
                f"phase 3 of 3 partly done: {done}; {waiting} tasks have fewer than {config.consensus.min_votes} votes "
                f"and {no_votes} have none. Import more preference votes and run this command again "
                "(the dataset card README.md covers what is there now)."
            ),
        }
    return {
        "phase": COMPLETE,
        "message": f"phase 3 of 3 done: {done}; every task has at least {config.consensus.min_votes} votes; the dataset card is README.md.",
    }


def _unrated_pairs(out: Path) -> int:
    """Pairs without any rating, from the counts ``score_ratings`` stored."""
    path = out / AGREEMENT
    if not path.exists():
        return 0
    return int(json.loads(path.read_text(encoding="utf-8")).get("ratings_per_pair", {}).get("0", 0))


# --- report -------------------------------------------------------------------------------

def _figures(out: Path, scores: pa.Table, band: tuple[float, float], thresholds: tuple[float, ...], simulated: bool = False) -> tuple[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (out / FIGURES).mkdir(parents=True, exist_ok=True)
    score = scores.column("score").to_numpy(zero_copy_only=False)
    sigma = scores.column("sigma").to_numpy(zero_copy_only=False)
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    ax.hist(score, bins=np.linspace(0, 1, 21), color="#4c72b0", edgecolor="white")
    ax.axvspan(*band, color="#dd8452", alpha=0.2, label=f"ambiguous band {list(band)}")
    ax.set_xlabel("final score (trimmed mean)")
    ax.set_ylabel("pairs")
    ax.set_title("Score distribution (paper Fig. 2c)" + (" — SIMULATED ratings" if simulated else ""))
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / FIGURES / "score_histogram.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    top = max(0.3, float(sigma.max()) if sigma.size else 0.3)
    ax.hist(sigma, bins=np.linspace(0, top, 31), color="#55a868", edgecolor="white")
    for i, t in enumerate(thresholds):
        ax.axvline(t, color="#c44e52", linestyle="--", linewidth=1, label="paper's thresholds" if i == 0 else None)
    ax.set_xlabel("σ of a pair's raw ratings")
    ax.set_ylabel("pairs")
    ax.set_title("Rating dispersion per pair" + (" — SIMULATED ratings" if simulated else ""))
    if thresholds:
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / FIGURES / "sigma_histogram.png")
    plt.close(fig)
    return f"{FIGURES}/score_histogram.png", f"{FIGURES}/sigma_histogram.png"


def report_sections(out: str | os.PathLike) -> list[str]:
    """The annotation sections of ``report.md`` (whatever phases are done)."""
    from synesthesia.pipelines import report as R

    out = Path(out)
    st = status(out) if (out / "pairs.parquet").exists() else None
    sections = []
    if st:
        sections.append(f"## Annotation status\n\n**{st['phase']}** — {st['message']}")
    log = _import_log(out)
    if log:
        reasons = sorted({k for e in log for k in e["counts"] if k not in ("tasks", "annotations", "valid")})
        rows = [
            (Path(e["file"]).name, e["kind"], e["imported_at"], e["counts"].get("tasks", 0), e["counts"].get("annotations", 0), e["counts"].get("valid", 0))
            + tuple(e["counts"].get(r, 0) for r in reasons)
            for e in log
        ]
        sections.append(
            "## Label Studio imports\n\nEvery annotation of every imported export is either used or listed with its reason in "
            f"`{REJECTS}`. A `repeated` annotation is an older one by the same rater on the same task (the latest is kept).\n\n"
            + R.md_table(["export", "kind", "imported", "tasks", "annotations", "valid", *reasons], rows)
        )
    if not (out / AGREEMENT).exists():
        return sections
    info = json.loads((out / AGREEMENT).read_text(encoding="utf-8"))
    scores = dio.read_table(out / SCORES, S.MPD_SCORES)
    cfg, _ = annotation_config(out)
    score_png, sigma_png = _figures(
        out, scores, tuple(cfg.aggregation.band), tuple(cfg.aggregation.sigma_thresholds), bool(info["sources"].get("simulated"))
    )
    note = _simulated_note(info["sources"])
    disp = info["dispersion"]
    a = info["agreement"]
    sigma_kind = "population" if info["ddof"] == 0 else "sample"
    per_pair = ", ".join(f"{n} ratings: {c}" for n, c in info["ratings_per_pair"].items())
    disp_rows = [("mean σ", f"{disp['mean_sigma']:.3f}", f"{PAPER_MEAN_SIGMA:.3f}")]
    disp_rows += [
        (f"share of pairs with σ < {t}", f"{100 * s:.1f} %", f"{100 * PAPER_SHARE_BELOW[float(t)]:.1f} %" if float(t) in PAPER_SHARE_BELOW else "-")
        for t, s in disp["share_below"].items()
    ]
    disp_rows.append(("Krippendorff's α (interval)", f"{a['alpha']:.3f} (95 % CI {a['ci95'][0]:.3f}–{a['ci95'][1]:.3f})", f"{PAPER_ALPHA:.2f}"))
    sections.append(
        "## Ratings and scores\n\n"
        + note
        + f"{info['ratings']:,} ratings ({', '.join(f'{k}: {v:,}' for k, v in info['sources'].items())}) from {info['raters']} raters "
        f"on {info['pairs']:,} pairs ({per_pair}). {info['scored']:,} pairs are scored (trimmed mean: the highest and the lowest "
        f"rating dropped); {info['unscored']:,} have too few ratings and are listed in `{UNSCORED}`. "
        + (f"{info['stale_ratings']:,} ratings belong to pairs no longer in `pairs.parquet` and are not used. " if info.get("stale_ratings") else "")
        + f"{info['ambiguous']:,} scored pairs are ambiguous (score in {info['band']}, inclusive).\n\n"
        f"![score histogram]({score_png})\n\n![sigma histogram]({sigma_png})\n\n"
        f"σ is the {sigma_kind} standard deviation of a pair's raw ratings. α uses every pair with ≥ 2 ratings "
        f"({a['pairs']:,} pairs, {a['ratings']:,} ratings); its interval comes from {a['n_boot']} bootstrap resamples of pairs.\n\n"
        + R.md_table(["figure", "this dataset", "MPD paper"], disp_rows)
    )
    raters = dio.read_table(out / RATER_STATS, S.MPD_RATER_STATS).to_pandas().sort_values("alpha_delta", ascending=False)
    rows = [
        (r.rater_id, r.n_ratings, f"{r.mean_score:.3f}", f"{r.bias:+.3f}", f"{r.corr:.3f}", f"{r.alpha_without:.3f}", f"{r.alpha_delta:+.4f}")
        for r in raters.itertuples()
    ]
    sections.append(
        "## Per rater\n\nBias and correlation are against the leave-one-out consensus (the mean of the *other* ratings of the same "
        "pair); `α without` is α recomputed with all of the rater's ratings left out. Sorted so that raters whose removal raises α "
        "the most come first: look at those.\n\n"
        + R.md_table(["rater", "ratings", "mean score", "bias", "corr", "α without", "Δα"], rows)
    )
    ptasks = _read(out, PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    if ptasks is not None:
        text = (
            f"## Preference tasks\n\n{ptasks.num_rows:,} tasks (requested {cfg.preference_tasks:,}; paper: {MPD_PREFERENCE_TASKS:,}), built from the "
            f"ambiguous pairs within each split, each assigned to {cfg.raters_per_preference_task} raters. "
            "`clips_given_painting` = {(M_i, M_j) | P_m}, `paintings_given_clip` = {(P_i, P_j) | M_n}.\n\n"
            + R.crosstab(ptasks.column("kind").to_pylist(), ptasks.column("split").to_pylist(), "kind", ["train", "val", "test"])
        )
        sections.append(text)
    if (out / PREFERENCE_PAIRS).exists() and (out / PREFERENCE_VOTES).exists():
        votes = dio.read_table(out / PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES)
        _, summary = consensus(ptasks, votes, cfg.consensus)
        vsrc = {k: int(v) for k, v in zip(*np.unique(np.asarray(votes.column("source").to_pylist(), dtype=str), return_counts=True))}
        rows = [(k, s["tasks"], s["kept"], s["no_majority"], s["waiting"], s["no_votes"]) for k, s in summary.items() if k != "votes"]
        sections.append(
            "## Consensus\n\n"
            + _simulated_note(vsrc).replace("ratings", "votes")
            + f"{summary['votes']:,} votes. A task is kept when it has at least {cfg.consensus.min_votes} votes and one candidate has a "
            f"strict majority (paper: {PAPER_CONSENSUS[PAINTINGS_GIVEN_CLIP]:,} music-to-painting and "
            f"{PAPER_CONSENSUS[CLIPS_GIVEN_PAINTING]:,} painting-to-music samples).\n\n"
            + R.md_table(["kind", "tasks", "kept (preference_pairs)", "tie / no majority", f"fewer than {cfg.consensus.min_votes} votes", "no votes"], rows)
        )
    return sections
