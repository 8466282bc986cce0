"""Which annotation phase an MPD folder is in, and what it waits for.

``labelstudio/processed.json`` holds the SHA-256 of the ratings / votes
files the last ``annotate run`` used, so imported-but-not-yet-processed
annotations are told apart."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from synesthesia.annotation.preferences import consensus
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes.mpd.config import (
    AGREEMENT,
    COMPLETE,
    LABELSTUDIO,
    PREFERENCE_TASKS_FILE,
    PREFERENCE_VOTES,
    PROCESSED,
    RATINGS_FILE,
    UNSCORED,
    WAITING_FOR_MORE_VOTES,
    WAITING_FOR_RATINGS,
    WAITING_FOR_RUN,
    WAITING_FOR_VOTES,
    annotation_config,
    used_votes,
)


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _processed(out: Path) -> dict:
    path = out / PROCESSED
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def mark_processed(out: Path, name: str) -> None:
    done = _processed(out)
    done[name] = _sha256(out / name)
    dio.write_text(json.dumps(done, indent=2) + "\n", out / PROCESSED)


def _unprocessed(out: Path, name: str) -> bool:
    """``name`` exists but is not the file the last `annotate run` used."""
    return (out / name).exists() and _processed(out).get(name) != _sha256(out / name)


def status(out: str | os.PathLike) -> dict:
    """Which phase DIR is in and what it waits for (a sentence for people)."""
    out = Path(out)
    if not (out / RATINGS_FILE).exists():
        n = dio.read_table(out / "pairs.parquet", columns=["pair_id"]).num_rows if (out / "pairs.parquet").exists() else 0
        return {
            "phase": WAITING_FOR_RATINGS,
            "message": (
                f"phase 1 of 3 done: {n} pairs have rating tasks. Waiting for ratings: `synesthesia annotate serve --dataset {out}` "
                "runs a Label Studio with every rater's queue (or `synesthesia annotate push` to a team's, or label "
                f"{LABELSTUDIO}/ratings.tasks.json by hand), then `synesthesia annotate pull` or "
                f"`synesthesia annotate import --dataset {out} --export FILE`, and run this command again."
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
                f"phase 2 of 3 done: scores and preference tasks written.{extra} Waiting for preference votes: on a served "
                "campaign they are in the raters' projects already (else `synesthesia annotate push`, or label "
                f"{LABELSTUDIO}/clips_given_painting.tasks.json and paintings_given_clip.tasks.json by hand); "
                "pull or import the exports, and run this command again."
            ),
        }
    config, _ = annotation_config(out)
    tasks = dio.read_table(out / PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    _, summary = consensus(tasks, used_votes(out), config.consensus)
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
