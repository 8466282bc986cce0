"""Learnable annotations for MPJudge's overfit, resume and bf16 tests.

``write_synthetic_annotations(mpd_dir)`` writes ``scores.parquet``
(MPD_SCORES) and ``preference_pairs.parquet`` (MPD_PREFERENCE_PAIRS) into a
folder built by ``build_mpd``, with **synthetic, deterministic scores that
depend on the content**: a fixed affinity between the painting's style
(visible in the image) and the track's genre (audible in the mel), plus a
small per-pair jitter. A model can therefore learn them. Preference pairs
are derived from those scores: for a painting (clip) rated with two clips
(paintings) whose scores differ by at least ``PREFERENCE_GAP``, the higher
one is chosen, 3 of 3 votes.

The real annotation phase (simulated raters through ``flows.demo.demo_mpd``)
feeds the reader, cache, DDP and CLI tests (the ``annotated_mpd`` fixture).
The overfit test needs scores a tiny model can learn from a handful of pairs;
simulated raters' hidden coherence comes from a hash of the pair id, unrelated
to what the painting and the clip contain, so those tests keep
these content-dependent scores.
"""

from __future__ import annotations

import hashlib
from itertools import combinations
from pathlib import Path

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.synthetic import MUSIC_GENRES, PAINTING_STYLES

STYLES = sorted(PAINTING_STYLES)
GENRES = sorted(MUSIC_GENRES)
#: style x genre affinity in [0, 1] (rows: STYLES, columns: GENRES =
#: ambient, classical, electronic, rock).
AFFINITY = {
    "color_field": (0.85, 0.6, 0.3, 0.15),
    "expressionist": (0.1, 0.35, 0.6, 0.9),
    "geometric": (0.2, 0.4, 0.9, 0.55),
    "nocturne": (0.9, 0.7, 0.2, 0.1),
    "pointillist": (0.45, 0.85, 0.4, 0.25),
    "stripes": (0.3, 0.25, 0.8, 0.7),
}
PREFERENCE_GAP = 0.1


def _jitter(pair_id: str) -> float:
    return (int(hashlib.sha256(pair_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF - 0.5) * 0.1


def synthetic_score(style: str, genre: str, pair_id: str) -> float:
    return min(1.0, max(0.0, AFFINITY[style][GENRES.index(genre)] + _jitter(pair_id)))


def write_synthetic_annotations(mpd_dir: str | Path, max_preferences_per_query: int = 3, only_pairs=None) -> dict:
    """Score every pair (or only the pair ids in ``only_pairs``) and derive preferences among the scored."""
    mpd_dir = Path(mpd_dir)
    paintings = dio.read_table(mpd_dir / "paintings.parquet", S.MPD_PAINTINGS)
    tracks = dio.read_table(mpd_dir / "tracks.parquet", S.MPD_TRACKS)
    clips = dio.read_table(mpd_dir / "clips.parquet", S.CLIPS)
    pairs = dio.read_table(mpd_dir / "pairs.parquet", S.MPD_PAIRS).to_pylist()
    if only_pairs is not None:
        pairs = [p for p in pairs if p["pair_id"] in set(only_pairs)]
    style = dict(zip(paintings["painting_id"].to_pylist(), paintings["style"].to_pylist()))
    genre_of_track = dict(zip(tracks["track_id"].to_pylist(), tracks["genre"].to_pylist()))
    genre = {c: genre_of_track[t] for c, t in zip(clips["clip_id"].to_pylist(), clips["track_id"].to_pylist())}

    score_rows, by_painting, by_clip = [], {}, {}
    for pair in pairs:
        s = synthetic_score(style[pair["painting_id"]], genre[pair["clip_id"]], pair["pair_id"])
        ratings = [min(1.0, max(0.0, s + d)) for d in (-0.08, -0.03, 0.0, 0.03, 0.08)]
        score_rows.append(
            {"pair_id": pair["pair_id"], "score": s, "n_ratings": 5, "sigma": 0.05, "min": min(ratings), "max": max(ratings), "ambiguous": 0.4 <= s <= 0.6}
        )
        by_painting.setdefault((pair["split"], pair["painting_id"]), []).append((pair["clip_id"], s))
        by_clip.setdefault((pair["split"], pair["clip_id"]), []).append((pair["painting_id"], s))
    dio.write_table(S.from_rows(score_rows, S.MPD_SCORES), mpd_dir / "scores.parquet", S.MPD_SCORES)

    pref_rows = []
    for kind, groups in (("clips_given_painting", by_painting), ("paintings_given_clip", by_clip)):
        for (split, query), candidates in sorted(groups.items()):
            made = 0
            for (a, sa), (b, sb) in combinations(sorted(candidates), 2):
                if abs(sa - sb) < PREFERENCE_GAP or made >= max_preferences_per_query:
                    continue
                chosen, rejected = (a, b) if sa > sb else (b, a)
                task = hashlib.sha256(f"{kind}|{query}|{min(a, b)}|{max(a, b)}".encode()).hexdigest()[:16]
                pref_rows.append(
                    {"task_id": f"pref-{task}", "kind": kind, "query_id": query, "chosen_id": chosen, "rejected_id": rejected, "votes_for": 3, "votes_total": 3, "split": split}
                )
                made += 1
    dio.write_table(S.from_rows(pref_rows, S.MPD_PREFERENCE_PAIRS), mpd_dir / "preference_pairs.parquet", S.MPD_PREFERENCE_PAIRS)
    return {"scores": len(score_rows), "preferences": len(pref_rows)}
