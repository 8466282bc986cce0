"""MPD's published form: the Hugging Face split shards ``hf/`` and the dataset card."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import card
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes.mpd.config import (
    AGREEMENT,
    CLIP_MEDIA,
    CLIP_MEDIA_DIR,
    PREFERENCE_PAIRS,
    SCORES,
    MPDAnnotationConfig,
    annotation_config,
    read_optional,
)


def scored_pairs_table(out: Path) -> pa.Table:
    """pairs ⋈ scores, with the media paths a reader needs (HF ``scores`` config)."""
    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS).to_pandas()
    scores = dio.read_table(out / SCORES, S.MPD_SCORES).to_pandas()
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS).to_pandas()[["painting_id", "path", "style"]]
    clips = dio.read_table(out / "clips.parquet", S.CLIPS).to_pandas()[["clip_id", "track_id", "start_s", "end_s"]]
    media = read_optional(out, CLIP_MEDIA, S.CLIP_FILES)
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
    licences = card.licence_section({
        "paintings": card.item_licences(dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS)),
        "tracks": card.item_licences(dio.read_table(out / "tracks.parquet", S.MPD_TRACKS)),
    })
    card.write_dataset_card(out, "MPD (music-painting coherence)", None, [body.strip(), licences], {"license": "other"}, configs=configs)
    return {name: list(globs) for name, globs in configs.items()}


def card_split_rank(split: str) -> int:
    order = ("train", "val", "test")
    return order.index(split) if split in order else len(order)


def simulated_note(sources: dict) -> str:
    sim = sources.get("simulated", 0)
    total = sum(sources.values())
    if not sim:
        return ""
    return (
        f"**The ratings in this folder are simulated** ({sim:,} of {total:,} ratings come from "
        "`synesthesia.annotation.simulate`, not from people): it is demo or test data.\n\n"
    )


def _media_note(out: Path) -> str:
    """Transparency and listening-copy gains, as the card states them."""
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS, columns=["has_alpha"])
    background = (dio.read_manifest(out).get("config") or {}).get("alpha_background", "white")
    alpha = sum(v is True for v in paintings.column("has_alpha").to_pylist())
    media = read_optional(out, CLIP_MEDIA, S.CLIP_FILES)
    gained = sum(1 for g in media.column("gain").to_pylist() if g is not None and g < 1.0) if media is not None else 0
    return (
        f"{alpha} of {paintings.num_rows} paintings have transparent pixels: raters were shown them (and the reader gives them) "
        f"composited onto {background}. {gained} listening copies were written with their track's gain (the source peaks above "
        "full scale; `gain` and `source_peak` in `clip_files.parquet`) rather than clipped."
    )


def _card_body(out: Path, info: dict, config: MPDAnnotationConfig, n_ratings: dict | None) -> str:
    """The card's prose. ``n_ratings``: min/max ratings per scored pair."""
    a = info["agreement"]
    got = (
        f"{n_ratings['min']}" if n_ratings["min"] == n_ratings["max"] else f"{n_ratings['min']}–{n_ratings['max']}"
    ) if n_ratings else "no"
    return f"""
{simulated_note(info.get("sources", {}))}Random painting × 15 s music-clip pairs, each assigned to {config.raters_per_pair}
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

Splits are the leak-free splits decided at pairing time (tracks split by their number of clips, so each
split holds its share of the audio); preference tasks are built within a split.

{_media_note(out)}

```python
import datasets
scores = datasets.load_dataset("path/to/{out.name}", "scores")
prefs = datasets.load_dataset("path/to/{out.name}", "preferences")
```

## Agreement

Krippendorff's α (interval) = {a['alpha']:.3f} (95 % bootstrap interval {a['ci95'][0]:.3f}–{a['ci95'][1]:.3f},
{a['n_boot']} resamples of pairs); mean σ of the raw ratings = {info['dispersion']['mean_sigma']:.3f}.

{_quality_note(info.get("quality", {}))}
"""


def _quality_note(q: dict) -> str:
    """The card's sentence on quality control (gold / repeat checks, flagged raters)."""
    checks = (
        f"{q.get('gold_answers', 0):,} answers to gold pairs and {q.get('repeat_answers', 0):,} to repeated pairs were mixed into the "
        "raters' queues (they never count in a score). "
        if q.get("gold_answers") or q.get("repeat_answers") else "No gold or repeat checks were answered. "
    )
    flagged = q.get("flagged", [])
    if not flagged:
        return checks + "No rater was flagged by the quality-control rule."
    if q.get("excluded"):
        return (checks + f"{len(flagged)} rater(s) were flagged and their {q.get('excluded_ratings', 0):,} ratings are **left out** of the "
                f"scores, α and consensus (α with them: {q.get('alpha_everyone', float('nan')):.3f}); `rater_stats.parquet` says why.")
    return checks + f"{len(flagged)} rater(s) were flagged by the quality-control rule; their ratings are included (`rater_stats.parquet` says why)."
