"""What MPD publishes (``synesthesia export`` / ``view``): the ``scores`` and
``preferences`` configs with their card, and the browser's cards.

``scores``: one row per scored pair, with the painting (``Image``), the
clip's 15 s listening copy (``Audio``, ``clips/``) and its 128 × 469 log-mel
(``Array2D``, float16 dB, as MPJudge reads it). ``preferences``: the
consensus preference pairs (ids resolve in ``scores``). Needs a folder
annotated at least through phase 2 (``scores.parquet``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import io as dio
from synesthesia.datasets.media import build_alpha_background
from synesthesia.datasets import schema as S
from synesthesia.datasets.readers import mpd as reader
from synesthesia.datasets.readers.shards import MPD_PREFERENCES, MPD_SCORES
from synesthesia.recipes.mpd.config import (
    CLIP_MEDIA,
    CLIP_MEDIA_DIR,
    PREFERENCE_PAIRS,
    PREFERENCE_TASKS_FILE,
    PREFERENCE_VOTES,
    RATINGS_FILE,
    SCORES,
    read_optional,
)
from synesthesia.stages.publish.spec import Array, Config, Field, Gallery, Media, Publication, Source, declared_sources

PRETTY_NAME = "MPD (music-painting coherence)"
CITATION = """@misc{jiang_mpjudge,
  title  = {MPJudge: Towards Perceptual Assessment of Music-Induced Paintings},
  author = {Jiang, Shiqi and Liang, Tianyi and Ye, Huayuan and Wang, Changbo and Li, Chenhui},
  note   = {East China Normal University. Introduces the MPD dataset}
}"""
#: The paper's sources (section "Dataset"): WikiArt and AACCP paintings, DEAM music.
PAPER_SOURCES = [
    Source("WikiArt (Tan et al. 2019)", "paintings", "other",
           "images keep their holders' rights; WikiArt allows non-commercial research use", "https://www.wikiart.org"),
    Source("AACCP children's paintings (Jiang et al. 2024)", "paintings", "other", "the AACCP release's terms"),
    Source("DEAM (Alajanki, Yang and Soleymani 2016)", "music", "other", "the DEAM release's terms; each track keeps its own licence"),
]
TASK_CATEGORIES = ["other"]
TAGS = ["music", "art", "painting", "cross-modal", "perceptual-assessment", "coherence", "preference", "dpo", "mel-spectrogram"]
SIMULATED = ("The ratings and votes of this dataset are **simulated** (`synesthesia.annotation.simulate`), not given by "
             "people: it is demo or test data and says nothing about how people perceive these pairs.")

SCORE_COLUMNS = {
    "pair_id": "the pair", "painting_id": "the painting (stable id)", "clip_id": "the 15 s clip", "score": "coherence in [0, 1]: "
    "mean of the ratings without the highest and the lowest", "n_ratings": "ratings of the pair", "sigma": "dispersion of the raw ratings",
    "min": "lowest rating", "max": "highest rating", "ambiguous": "score inside the ambiguity band [0.4, 0.6]",
    "style": "the painting's style", "painting_genre": "the painting's genre", "artist": "the painting's artist", "title": "its title",
    "track_id": "the source track", "music_genre": "the track's genre", "start_s": "clip start in the track (s)", "end_s": "clip end (s)",
    "painting": "the painting file (Image)", "clip": "the clip's listening copy, cut at the track's own rate (Audio)",
    "mel": "log-mel 128 × 469 (mel × time, dB, float16) of the 16 kHz clip: what MPJudge reads",
}
PREFERENCE_COLUMNS = {
    "task_id": "the preference task", "kind": "`clips_given_painting` (query: painting; chosen/rejected: clips) or "
    "`paintings_given_clip` (the reverse)", "query_id": "painting_id or clip_id (per kind)", "chosen_id": "the candidate the majority chose",
    "rejected_id": "the other candidate", "votes_for": "votes for the chosen one", "votes_total": "votes cast",
}


def _need(folder: Path, name: str) -> None:
    if not (folder / name).exists():
        raise FileNotFoundError(f"{folder}: no {name}; publish an MPD folder annotated through phase 2 at least "
                                "(synesthesia annotate status says where it stands)")


def _pairs(folder: Path) -> pa.Table:
    """Every pair with its painting, track and clip metadata and media files (score columns null where unscored)."""
    manifest = dio.read_manifest(folder)
    root = Path(manifest["media_roots"]["paintings"])
    _need(folder, CLIP_MEDIA)
    pairs = dio.read_table(folder / "pairs.parquet", S.MPD_PAIRS).to_pandas()
    scores = read_optional(folder, SCORES, S.MPD_SCORES)
    scores = (scores if scores is not None else S.empty(S.MPD_SCORES)).to_pandas()
    paintings = dio.read_table(folder / "paintings.parquet", S.MPD_PAINTINGS).to_pandas()
    paintings = paintings[["painting_id", "path", "style", "genre", "artist", "title"]].rename(
        columns={"path": "painting_name", "genre": "painting_genre"})
    paintings["painting_file"] = [str(root / p) for p in paintings["painting_name"]]
    tracks = dio.read_table(folder / "tracks.parquet", S.MPD_TRACKS).to_pandas()[["track_id", "genre"]].rename(columns={"genre": "music_genre"})
    clips = dio.read_table(folder / "clips.parquet", S.CLIPS).to_pandas()[["clip_id", "track_id", "start_s", "end_s"]]
    media = dio.read_table(folder / CLIP_MEDIA, S.CLIP_FILES).to_pandas()[["clip_id", "path"]].rename(columns={"path": "clip_name"})
    media["clip_file"] = [str(folder / CLIP_MEDIA_DIR / p) for p in media["clip_name"]]
    df = (pairs.merge(scores, on="pair_id", how="left").merge(paintings, on="painting_id", how="left")
          .merge(clips, on="clip_id", how="left").merge(tracks, on="track_id", how="left").merge(media, on="clip_id", how="left"))
    return pa.Table.from_pandas(df.sort_values("pair_id"), preserve_index=False)


def _scores_rows(folder: Path) -> pa.Table:
    _need(folder, SCORES)
    pairs = _pairs(folder)
    scored = pairs.filter(pc.is_valid(pairs.column("score")))
    cols = ["pair_id", "painting_id", "clip_id", "score", "n_ratings", "sigma", "min", "max", "ambiguous", "style", "painting_genre",
            "artist", "title", "track_id", "music_genre", "start_s", "end_s", "split", "painting_file", "painting_name", "clip_file", "clip_name"]
    table = scored.select(cols)
    types = {"n_ratings": pa.int32(), "ambiguous": pa.bool_(), "artist": pa.string(), "title": pa.string()}
    for name, t in types.items():
        table = table.set_column(table.schema.get_field_index(name), name, table.column(name).cast(t))
    return table


def _mel_values(folder: Path):
    path = reader.mel_cache(folder)
    ids = {c: i for i, c in enumerate(reader.cache_ids(path))}
    state: dict = {}

    def values(clip_ids):
        if "mels" not in state:
            state["mels"] = np.load(path, mmap_mode="r")
        missing = [c for c in clip_ids if c not in ids]
        if missing:
            raise ValueError(f"{folder}: clips without a mel: {missing[:3]}")
        return np.asarray(state["mels"][[ids[c] for c in clip_ids]])

    return values, path


def simulated(folder: Path) -> bool:
    """Whether any rating or vote of the folder comes from simulated raters."""
    for name, schema in ((RATINGS_FILE, S.MPD_RATINGS), (PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES)):
        table = read_optional(folder, name, schema)
        if table is not None and "simulated" in set(table.column("source").to_pylist()):
            return True
    return False


def publication(folder: str | Path) -> Publication:
    folder = Path(folder)
    manifest = dio.read_manifest(folder)
    rows = _scores_rows(folder)
    mel_values, mel_path = _mel_values(folder)
    shape = tuple(np.load(mel_path, mmap_mode="r").shape[1:])
    configs = [Config(MPD_SCORES, rows, "pair_id",
                      media=(Media("painting", "image", "painting_file", "painting_name"), Media("clip", "audio", "clip_file", "clip_name")),
                      arrays=(Array("mel", shape, "float16", "clip_id", mel_values),), descriptions=SCORE_COLUMNS,
                      summary="One row per scored pair.")]
    prefs = read_optional(folder, PREFERENCE_PAIRS, S.MPD_PREFERENCE_PAIRS)
    if prefs is not None and prefs.num_rows:
        configs.append(Config(MPD_PREFERENCES, prefs, "task_id", descriptions=PREFERENCE_COLUMNS,
                              summary="Consensus preference pairs (a strict majority of votes); the ids resolve in `scores`."))
    is_simulated = simulated(folder)
    mel = manifest.get("config", {}).get("mel", {})
    roots = manifest.get("media_roots", {})
    return Publication(
        dataset="mpd", pretty_name=PRETTY_NAME, folder=folder, configs=configs,
        summary=("Random painting × 15 s music-clip pairs, each rated for perceptual coherence on [0, 1] by several raters "
                 "(a pair's score is the trimmed mean of its ratings), with pairwise preferences for the ambiguous pairs; "
                 "built with `synesthesia` following the MPJudge paper. Splits are leak-free: no painting or track is in two splits."),
        sources=declared_sources(manifest, {"paintings": roots.get("paintings"), "music": roots.get("music")}, PAPER_SOURCES,
                                 [Source("the raters' scores and votes", "annotations", "other",
                                         "simulated raters (demo data)" if is_simulated else "set by the dataset's authors")]),
        task_categories=TASK_CATEGORIES, tags=TAGS, citation=CITATION, build=manifest.get("config", {}),
        warnings=[SIMULATED] if is_simulated else [],
        sections=[f"## The mel feature\n\n`mel` is the log-mel of the clip resampled to {mel.get('sample_rate', 16000)} Hz: "
                  f"FFT {mel.get('n_fft', 1024)}, hop {mel.get('hop_length', 512)}, {mel.get('n_mels', 128)} mel bins, "
                  "centred STFT, `10·log10(max(power, 1e-10))` dB (no per-clip normalisation), shape (mel, time). "
                  "The `clip` audio is the listening copy raters heard (the track's own rate and channels)."],
        card_data={"annotations_creators": ["machine-generated" if is_simulated else "expert-generated"]},
    )


# --- the browser --------------------------------------------------------------------------------

def _preference_counts(folder: Path) -> pa.Table | None:
    """Per rated pair: preference tasks it is a candidate of, votes for and against it, consensus won and lost."""
    tasks = read_optional(folder, PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    if tasks is None or not tasks.num_rows:
        return None
    votes = read_optional(folder, PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES)
    consensus = read_optional(folder, PREFERENCE_PAIRS, S.MPD_PREFERENCE_PAIRS)
    choice = {}
    if votes is not None:
        for t, c in zip(votes.column("task_id").to_pylist(), votes.column("choice").to_pylist()):
            choice.setdefault(t, []).append(c)
    chosen = dict(zip(consensus.column("task_id").to_pylist(), consensus.column("chosen_id").to_pylist())) if consensus is not None else {}
    counts: dict = {}
    for t in tasks.to_pylist():
        for side, pair, candidate in (("a", t["pair_a"], t["candidate_a"]), ("b", t["pair_b"], t["candidate_b"])):
            c = counts.setdefault(pair, {"pair_id": pair, "pref_tasks": 0, "votes_for": 0, "votes_against": 0, "won": 0, "lost": 0})
            c["pref_tasks"] += 1
            got = choice.get(t["task_id"], [])
            c["votes_for"] += got.count(side)
            c["votes_against"] += len(got) - got.count(side)
            if t["task_id"] in chosen:
                c["won" if chosen[t["task_id"]] == candidate else "lost"] += 1
    return pa.Table.from_pylist(list(counts.values()))


def gallery(folder: str | Path) -> Gallery:
    folder = Path(folder)
    pairs = _pairs(folder)
    prefs = _preference_counts(folder)
    df = pairs.to_pandas()
    if prefs is not None:
        df = df.merge(prefs.to_pandas(), on="pair_id", how="left")
        df["votes"] = [
            "" if np.isnan(n) else f"{int(n)} tasks, votes {int(f)}–{int(a)}, consensus won {int(w)} lost {int(lo)}"
            for n, f, a, w, lo in zip(df["pref_tasks"], df["votes_for"], df["votes_against"], df["won"], df["lost"])
        ]
    else:
        df["votes"] = ""
    df["heading"] = [f"{s} × {g}" for s, g in zip(df["style"], df["music_genre"])]
    df = df.rename(columns={"pair_id": "key", "painting_file": "image_file", "clip_file": "audio_file", "music_genre": "genre"})
    cols = ["key", "split", "image_file", "audio_file", "heading", "style", "genre", "score", "sigma", "n_ratings", "votes", "painting_id", "clip_id"]
    notes = [SIMULATED] if simulated(folder) else []
    return Gallery(
        dataset="mpd", title=PRETTY_NAME, alpha_background=build_alpha_background(dio.read_manifest(folder)), rows=pa.Table.from_pandas(df[cols], preserve_index=False), noun="pairs",
        facets=["split", "style", "genre"], sorts=["score", "sigma"], heading="heading", notes=notes,
        fields=[Field("score", "score", "number", 2), Field("sigma", "σ", "number", 3), Field("n_ratings", "ratings", "number", 0),
                Field("votes", "preferences", "wrap"), Field("painting_id", "painting"), Field("clip_id", "clip")],
        description="A painting, the 15 s clip it was paired with (the listening copy raters heard), the coherence score and "
                    "the dispersion σ of its ratings, and the preference votes where the pair was ambiguous.",
    )
