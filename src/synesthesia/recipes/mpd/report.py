"""MPD's ``report.md``: the data path (ingest, clips, pairs) and whatever
annotation phases are done (imports, scores and agreement, per-rater figures,
preference tasks, consensus), with the score and σ histograms."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from synesthesia.annotation.aggregate import PAPER_MEAN_SIGMA, PAPER_SHARE_BELOW
from synesthesia.annotation.agreement import PAPER_ALPHA
from synesthesia.annotation.preferences import CLIPS_GIVEN_PAINTING, MPD_PREFERENCE_TASKS, PAINTINGS_GIVEN_CLIP, PAPER_CONSENSUS, consensus
from synesthesia.datasets import io as dio
from synesthesia.datasets import markdown as R
from synesthesia.datasets.card import item_licences, licence_section
from synesthesia.datasets import schema as S
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND
from synesthesia.recipes.mpd.config import (
    AGREEMENT,
    CLIP_MEDIA,
    FIGURES,
    PREFERENCE_PAIRS,
    PREFERENCE_TASKS_FILE,
    PREFERENCE_VOTES,
    RATER_STATS,
    REJECTS,
    SCORES,
    UNSCORED,
    annotation_config,
    read_optional,
    used_votes,
)
from synesthesia.recipes.mpd.export import simulated_note
from synesthesia.recipes.mpd.labelstudio import import_log
from synesthesia.recipes.mpd.status import status


def write_report(out: Path, summary: dict) -> Path:
    """``report.md`` from the build summary and the folder's annotation state."""
    sections = data_sections(out, summary) + annotation_sections(out)
    text = "# MPD build report\n\n" + "\n\n".join(sections) + "\n"
    return dio.write_text(text, out / "report.md")


def data_sections(out: Path, summary: dict) -> list[str]:
    """The data-path sections of ``report.md`` (ingest, clips, pairs)."""
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS)
    tracks = dio.read_table(out / "tracks.parquet", S.MPD_TRACKS)
    clips = dio.read_table(out / "clips.parquet", S.CLIPS)
    pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
    quarantine = dio.read_table(out / "quarantine.parquet", S.QUARANTINE)
    copies = read_optional(out, CLIP_MEDIA, S.CLIP_FILES)
    cfg = summary["config"]
    splits = ["train", "val", "test"]
    background = cfg.get("alpha_background", DEFAULT_ALPHA_BACKGROUND)
    alpha = sum(v is True for v in paintings.column("has_alpha").to_pylist())
    hot = sum(1 for p in copies.column("source_peak").to_pylist() if p is not None and p > 1.0) if copies is not None else 0
    gained = sum(1 for g in copies.column("gain").to_pylist() if g is not None and g < 1.0) if copies is not None else 0
    sections = [
        "## Counts per stage\n\n"
        + R.md_table(
            ["stage", "count"],
            [
                ("painting files found", summary["paintings_found"]),
                ("valid paintings (after dedup)", paintings.num_rows),
                (f"paintings with transparent pixels (composited onto {background})", alpha),
                ("music files found", summary["music_found"]),
                ("valid tracks (after dedup)", tracks.num_rows),
                (f"{cfg['clip']['clip_seconds']:g} s clips", clips.num_rows),
                ("mel spectrograms", summary["mels"]),
                ("listening copies (paired clips, each track decoded once with its mels)", copies.num_rows if copies is not None else "–"),
                ("listening copies whose source peaks above full scale", hot),
                ("listening copies written with a gain < 1 (the whole track attenuated, not clipped)", gained),
                ("pairs requested", cfg["n_pairs"]),
                ("pairs drawn", pairs.num_rows),
                ("rejected inputs", quarantine.num_rows),
            ],
        ),
        "## Quarantine\n\n" + R.quarantine_section(quarantine),
        _media_section(summary, alpha, background, hot, gained),
        licence_section({"paintings": item_licences(paintings), "tracks": item_licences(tracks)}),
        "## Paintings by style and split\n\n" + R.crosstab(paintings.column("style").to_pylist(), paintings.column("split").to_pylist(), "style", splits)
        if cfg["split_mode"] == "items"
        else "## Paintings by style\n\n" + R.counts_table(paintings.column("style").to_pylist(), "style"),
        "## Tracks by genre and split\n\n" + R.crosstab(tracks.column("genre").to_pylist(), tracks.column("split").to_pylist(), "genre", splits)
        + "\n\nClips per split (tracks are split by their number of clips): "
        + ", ".join(f"{s} {n} ({n / max(clips.num_rows, 1):.1%})" for s in splits for n in [clips.column("split").to_pylist().count(s)])
        if cfg["split_mode"] == "items"
        else "## Tracks by genre\n\n" + R.counts_table(tracks.column("genre").to_pylist(), "genre"),
        _pairs_section(summary["pairs"], cfg),
    ]
    return sections


def _media_section(summary: dict, alpha: int, background: str, hot: int, gained: int) -> str:
    audio = summary.get("audio_pass") or {}
    lines = [
        f"Paintings with transparent pixels ({alpha}) are composited onto `{background}` (`--alpha-background`) for the "
        "model's reader and for what raters see (`labelstudio/media/paintings/`), so both judge the same picture.",
        f"Audio: ingest checks each file's header and decodes its first and last second; the audio pass decodes each track once "
        f"for its mels and its listening copies ({audio.get('shards', '–')} shards of about equal duration"
        + (f", run on {audio['workers']} worker process(es)" if audio.get("workers") else "")
        + f"; {audio.get('failed', 0)} track(s) failed the full decode and are in the quarantine with stage `audio`).",
        f"Listening copies keep the source's range: {hot} clip(s) peak above full scale in the source (lossy streams decode "
        f"above 1.0); {gained} clip(s) were written with their track's gain (`gain`, `source_peak` in `clip_files.parquet`) instead of clipping.",
    ]
    return "## Media\n\n" + "\n\n".join(lines)


def _pairs_section(pairs_summary: dict, cfg: dict) -> str:
    rows = []
    for split, s in pairs_summary["splits"].items():
        rows.append((split, s.get("paintings", "-"), s.get("clips", "-"), s.get("target", s["drawn"]), s["possible"], s["drawn"]))
    mode = (
        "Paintings and tracks were split first (paintings stratified by style; tracks by genre, weighted by their "
        "number of clips so each split holds its share of the audio); pairs are drawn within each split, "
        "so no painting or clip appears in two splits."
        if cfg["split_mode"] == "items"
        else "One balanced random draw over all paintings and clips; each pair was then given a split at random "
        "(a painting or clip may appear in several splits)."
    )
    return (
        f"## Random pairs\n\n{mode} Every painting and every clip is used as evenly as possible "
        f"(within each draw, usage differs by at most one). Seed {cfg['seed']}.\n\n"
        + R.md_table(["split", "paintings", "clips", "target pairs", "possible pairs", "drawn"], rows)
    )


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


def _num(x, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, fmt)


def _raters_section(out: Path, info: dict, cfg) -> str:
    """Per-rater agreement and quality-control figures, flagged raters first."""
    raters = dio.read_table(out / RATER_STATS, S.MPD_RATER_STATS).to_pandas()
    raters = raters.sort_values(["flagged", "alpha_delta"], ascending=[False, False], na_position="last")
    rows = [
        (r.rater_id, r.n_ratings, _num(r.bias, "+.3f"), _num(r.corr, ".3f"), _num(r.alpha_delta, "+.4f"),
         f"{_num(r.gold_mae, '.3f')} ({r.n_gold})", f"{_num(r.repeat_mad, '.3f')} ({r.n_repeats})", _num(r.late_deviation, ".3f"),
         _num(r.median_seconds, ".1f"), ("**flagged**: " + r.flag_reasons + (" — *excluded*" if r.excluded else "")) if r.flagged else "")
        for r in raters.itertuples()
    ]
    q = info.get("quality", {})
    qc = cfg.qc
    flagged = q.get("flagged", [])
    if not flagged:
        verdict = "No rater is flagged."
    elif q.get("excluded"):
        verdict = (f"{len(flagged)} rater(s) flagged and **excluded**: their {q.get('excluded_ratings', 0):,} ratings stay in `ratings.parquet` "
                   f"but not in the scores, α or consensus (α with everyone: {q.get('alpha_everyone', float('nan')):.3f}). "
                   "`synesthesia annotate run --include-flagged` takes them back.")
    else:
        verdict = (f"{len(flagged)} rater(s) flagged; their ratings are still used. `synesthesia annotate run --exclude-flagged` "
                   "recomputes scores, α and consensus without them.")
    return (
        "## Per rater\n\nBias and correlation are against the leave-one-out consensus (the mean of the *other* ratings of the same "
        "pair); Δα is α without the rater minus α with everyone. Quality control (beyond the paper): "
        f"{q.get('gold_answers', 0):,} answers to gold pairs and {q.get('repeat_answers', 0):,} to repeated pairs were mixed into the "
        "raters' queues; *gold* is the mean |rating − agreed score| (with the number of gold pairs), *repeat* the mean |first − second "
        "rating|, *late* the mean distance from the others over the rater's latest third of ratings, *s/task* Label Studio's median lead "
        f"time. A rater is flagged when (with enough evidence) gold > {qc.max_gold_mae:g}, repeat > {qc.max_repeat_mad:g}, "
        f"late > {qc.max_late_deviation:g}, corr < {qc.min_corr:g}, more than {100 * qc.max_vote_gold_wrong:.0f} % of gold preferences "
        f"are wrong, or the median time is under {qc.min_median_seconds:g} s (docs/annotation.md). {verdict} Flagged raters first.\n\n"
        + R.md_table(["rater", "ratings", "bias", "corr", "Δα", "gold", "repeat", "late", "s/task", "flag"], rows)
    )


def annotation_sections(out: str | os.PathLike) -> list[str]:
    """The annotation sections of ``report.md`` (whatever phases are done)."""
    out = Path(out)
    st = status(out) if (out / "pairs.parquet").exists() else None
    sections = []
    if st:
        sections.append(f"## Annotation status\n\n**{st['phase']}** — {st['message']}")
    log = import_log(out)
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
    note = simulated_note(info["sources"])
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
    sections.append(_raters_section(out, info, cfg))
    ptasks = read_optional(out, PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    if ptasks is not None:
        text = (
            f"## Preference tasks\n\n{ptasks.num_rows:,} tasks (requested {cfg.preference_tasks:,}; paper: {MPD_PREFERENCE_TASKS:,}), built from the "
            f"ambiguous pairs within each split, each assigned to {cfg.raters_per_preference_task} raters. "
            "`clips_given_painting` = {(M_i, M_j) | P_m}, `paintings_given_clip` = {(P_i, P_j) | M_n}.\n\n"
            + R.crosstab(ptasks.column("kind").to_pylist(), ptasks.column("split").to_pylist(), "kind", ["train", "val", "test"])
        )
        sections.append(text)
    if (out / PREFERENCE_PAIRS).exists() and (out / PREFERENCE_VOTES).exists():
        votes = used_votes(out)
        _, summary = consensus(ptasks, votes, cfg.consensus)
        vsrc = {k: int(v) for k, v in zip(*np.unique(np.asarray(votes.column("source").to_pylist(), dtype=str), return_counts=True))}
        rows = [(k, s["tasks"], s["kept"], s["no_majority"], s["waiting"], s["no_votes"]) for k, s in summary.items() if k != "votes"]
        sections.append(
            "## Consensus\n\n"
            + simulated_note(vsrc).replace("ratings", "votes")
            + f"{summary['votes']:,} votes. A task is kept when it has at least {cfg.consensus.min_votes} votes and one candidate has a "
            f"strict majority (paper: {PAPER_CONSENSUS[PAINTINGS_GIVEN_CLIP]:,} music-to-painting and "
            f"{PAPER_CONSENSUS[CLIPS_GIVEN_PAINTING]:,} painting-to-music samples).\n\n"
            + R.md_table(["kind", "tasks", "kept (preference_pairs)", "tie / no majority", f"fewer than {cfg.consensus.min_votes} votes", "no votes"], rows)
        )
    return sections
