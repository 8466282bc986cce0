"""ArtSound's ``report.md`` (the captioning block; the pairing phase owns
its ``pairing`` block) and the dataset card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import io as dio
from synesthesia.datasets import markdown as R
from synesthesia.datasets import schema as S
from synesthesia.datasets.card import item_licences, licence_section, size_category, write_dataset_card
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND
from synesthesia.recipes.artsound.config import APPROACHES, PAPER_PAIRS, PAPER_TABLE5, ArtSoundPairingConfig
from synesthesia.stages.captioning.steps import kept_rows
from synesthesia.stages.matching import HIGH_MIN, LOW_MAX


def _stats(values) -> tuple:
    arr = np.array([v for v in values if v is not None], dtype=np.float64)
    if not len(arr):
        return ("–", "–", "–")
    return (float(arr.min()), float(arr.mean()), float(arr.max()))


def caption_statistics(images: pa.Table, audio: pa.Table, threshold: float) -> str:
    """The paper's Table 1 on our kept captions: length in characters and
    each score (min / mean / max), and how many composites pass."""
    img, aud = kept_rows(images), kept_rows(audio)
    img_cols = [img.column("n_chars").to_pylist(), img.column("clip_norm").to_pylist(), img.column("pac_norm").to_pylist(), img.column("ics").to_pylist()]
    aud_cols = [aud.column("n_chars").to_pylist(), aud.column("bertscore").to_pylist(), aud.column("rouge1").to_pylist(), aud.column("acs").to_pylist()]
    img_stats = [_stats(c) for c in img_cols]
    aud_stats = [_stats(c) for c in aud_cols]
    rows = []
    for k, name in enumerate(["Minimum", "Average", "Maximum"]):
        rows.append([name] + [s[k] for s in img_stats] + [s[k] for s in aud_stats])

    def counts(col):
        vals = [v for v in col]
        return (sum(v is not None and v >= threshold for v in vals), sum(v is not None and v < threshold for v in vals), sum(v is None for v in vals))

    ih, il, inull = counts(img_cols[3])
    ah, al, anull = counts(aud_cols[3])
    rows.append([f"≥ threshold ({threshold:.2f})", "–", "–", "–", ih, "–", "–", "–", ah])
    rows.append([f"< threshold ({threshold:.2f})", "–", "–", "–", il, "–", "–", "–", al])
    rows.append(["no score (null)", "–", "–", "–", inull, "–", "–", "–", anull])
    headers = ["statistic", "image length", "CLIP-S", "PAC-S", "ICS", "audio length", "BERTScore", "ROUGE-1", "ACS"]
    return R.md_table(headers, rows)


def attempts_table(table: pa.Table, id_column: str, composite: str, max_attempts: int) -> str:
    """How many items needed 1..N attempts, and how many of them passed."""
    ok = table.filter(pc.is_null(table.column("error")))
    per_item: dict[str, int] = {}
    for item in ok.column(id_column).to_pylist():
        per_item[item] = per_item.get(item, 0) + 1
    kept = kept_rows(table)
    passed = dict(zip(kept.column(id_column).to_pylist(), kept.column("passed").to_pylist()))
    rows = []
    for n in range(1, max_attempts + 1):
        ids = [i for i, c in per_item.items() if c == n]
        rows.append((n, len(ids), sum(passed.get(i) is True for i in ids), sum(passed.get(i) is False for i in ids), sum(passed.get(i) is None for i in ids)))
    return R.md_table(["attempts", "items", f"kept caption passed ({composite})", "none passed (best kept)", "no score"], rows)


def _provenance(table: pa.Table) -> list[tuple]:
    if table.num_rows == 0:
        return []
    pairs = sorted(set(zip(table.column("backend").to_pylist(), table.column("model").to_pylist(), table.column("prompt_version").to_pylist() if "prompt_version" in table.column_names else [None] * table.num_rows)))
    return pairs


def caption_notes(folder: Path) -> list[str]:
    """What the report and the card say about how the captions were made:
    which captioner (a stand-in or the paper's models), which scores are
    missing and why, how many segments are zero-padded, and how many
    artworks have transparent pixels (and what they were composited onto)."""
    from synesthesia.stages.captioning import FEATURES_MODEL

    names = ("image_captions.parquet", "audio_captions.parquet", "audio_segment_captions.parquet", "artworks.parquet")
    if not all((folder / n).is_file() for n in names):  # a folder paired without the captioning phase's tables
        return []
    images = dio.read_table(folder / "image_captions.parquet", S.IMAGE_CAPTIONS)
    audio = dio.read_table(folder / "audio_captions.parquet", S.AUDIO_CAPTIONS)
    segments = dio.read_table(folder / "audio_segment_captions.parquet", S.AUDIO_SEGMENT_CAPTIONS)
    artworks = dio.read_table(folder / "artworks.parquet", S.IMAGES)
    config = dio.read_manifest(folder).get("config") or {}
    img_kept, aud_kept = kept_rows(images), kept_rows(audio)
    notes = []
    models = {(b, m) for b, m, _ in _provenance(images) + _provenance(audio)} | set(zip(segments.column("backend").to_pylist(), segments.column("model").to_pylist()))
    if any(b == "features" for b, _ in models):
        passed = sum(v is True for v in aud_kept.column("passed").to_pylist())
        notes.append(
            f"**Stand-in captions.** The captions come from the offline `features` captioner (`model = {FEATURES_MODEL}`), "
            "a stand-in for the paper's models: sentences about measured properties (palette, brightness, composition; "
            "loudness, spectral brightness, and a tempo or key only where the signal shows a clear pulse or key), "
            "not written by LLaVA, LP-MusicCaps or Qwen3, and silent on subject, instruments and style. "
            "Its fused audio caption summarises the values its segment captions state, in its own sentences, so ACS here "
            "measures how much of the segments' wording and meaning such a summary keeps, not the quality of a language "
            f"model's fusion: {passed} of {aud_kept.num_rows} kept fused captions reach the threshold."
        )
    else:
        notes.append("Captions: " + "; ".join(f"`{b}` / `{m}`" for b, m in sorted(models)) + ".")
    for what, table, scores in (("ICS (image captions)", img_kept, ("clip_norm", "pac_norm", "ics")), ("ACS (fused audio captions)", aud_kept, ("rouge1", "bertscore", "acs"))):
        nulls = sum(v is None for v in table.column(scores[-1]).to_pylist())
        if nulls:
            why = sorted({n for n in table.column("score_note").to_pylist() if n})
            notes.append(f"**Missing scores.** {what} is empty for {nulls} of {table.num_rows} kept captions" + (f": {'; '.join(why)}." if why else "."))
    padded = int(pc.sum(segments.column("padded").cast(pa.int64())).as_py() or 0)
    if padded:
        seconds = (config.get("segment_clip") or {}).get("clip_seconds", 10)
        notes.append(f"**Zero padding.** {padded} of {segments.num_rows} {seconds:g} s segments are zero-padded (their track is shorter than one segment); their captions describe the real signal only.")
    alpha = sum(v is True for v in artworks.column("has_alpha").to_pylist())
    if alpha:
        notes.append(
            f"**Transparency.** {alpha} of {artworks.num_rows} artworks have transparent pixels; every caption, score and embedding "
            f"saw them composited onto `{config.get('alpha_background', DEFAULT_ALPHA_BACKGROUND)}` (`--alpha-background`)."
        )
    return notes


def report_text(out: Path, summary: dict) -> str:
    artworks = dio.read_table(out / "artworks.parquet", S.IMAGES)
    tracks = dio.read_table(out / "tracks.parquet", S.AUDIO)
    quarantine = dio.read_table(out / "quarantine.parquet", S.QUARANTINE)
    segments = dio.read_table(out / "audio_segment_captions.parquet", S.AUDIO_SEGMENT_CAPTIONS)
    images = dio.read_table(out / "image_captions.parquet", S.IMAGE_CAPTIONS)
    audio = dio.read_table(out / "audio_captions.parquet", S.AUDIO_CAPTIONS)
    cfg = summary["config"]
    threshold = cfg["loop"]["threshold"]
    max_attempts = 1 + cfg["loop"]["max_regenerations"]
    img_kept, aud_kept = kept_rows(images), kept_rows(audio)
    img_failed = sorted(set(images.filter(pc.is_valid(images.column("error"))).column("image_id").to_pylist()) - set(img_kept.column("image_id").to_pylist()))
    aud_failed = sorted(set(audio.filter(pc.is_valid(audio.column("error"))).column("audio_id").to_pylist()) - set(aud_kept.column("audio_id").to_pylist()))
    sections = ["\n\n".join(f"> {n}" for n in caption_notes(out))]
    sections.append(
        "## Counts per stage\n\n"
        + R.md_table(
            ["stage", "count"],
            [
                ("artwork files found", summary["artworks_found"]),
                ("valid artworks (after dedup)", artworks.num_rows),
                ("music files found", summary["music_found"]),
                ("valid tracks (after dedup)", tracks.num_rows),
                (f"{cfg['segment_clip']['clip_seconds']:g} s segments captioned", segments.num_rows),
                ("  of which zero-padded (track shorter than a segment)", int(pc.sum(segments.column("padded").cast(pa.int64())).as_py() or 0)),
                ("artworks with a kept caption", img_kept.num_rows),
                ("tracks with a kept fused caption", aud_kept.num_rows),
                ("caption attempts (images / audio)", f"{images.num_rows} / {audio.num_rows}"),
                ("items whose every attempt failed (re-run to retry)", f"{len(img_failed)} / {len(aud_failed)}"),
                ("rejected inputs", quarantine.num_rows),
            ],
        )
    )
    sections.append("## Quarantine\n\n" + R.quarantine_section(quarantine))
    sections.append(licence_section({"artworks": item_licences(artworks), "tracks": item_licences(tracks)}))
    sections.append(
        "## Caption statistics (the paper's Table 1, on our data)\n\n"
        f"Over the kept caption of each item. Length in characters; CLIP-S and PAC-S are the scaled scores "
        f"clipped to [0, 1] (`clip_norm`, `pac_norm`), ICS = {cfg['ics']['gamma']}·CLIP-S + {1 - cfg['ics']['gamma']:.2f}·PAC-S, "
        f"ACS = {cfg['acs']['alpha']}·ROUGE-1 + {1 - cfg['acs']['alpha']:.2f}·BERTScore (BERTScore model "
        f"`{cfg['acs']['bertscore_model']}`, references: segment captions, mode `{cfg['acs']['reference_mode']}`). "
        f"A caption passes when its composite is ≥ {threshold:.2f}.\n\n"
        + caption_statistics(images, audio, threshold)
    )
    notes = sorted(set(n for n in images.column("score_note").to_pylist() + audio.column("score_note").to_pylist() if n))
    if notes:
        sections.append("Null scores: " + "; ".join(notes) + ".")
    sections.append(
        f"## Regeneration loop\n\nA caption below {threshold:.2f} is regenerated with a refined prompt, at most "
        f"{cfg['loop']['max_regenerations']} times ({max_attempts} attempts in total); the kept caption is the "
        f"`{cfg['loop']['keep']}` attempt. Every attempt is in the attempt tables.\n\n"
        "### Artworks (ICS)\n\n" + attempts_table(images, "image_id", "ICS", max_attempts)
        + "\n\n### Tracks (ACS)\n\n" + attempts_table(audio, "audio_id", "ACS", max_attempts)
    )
    prov = [("image captions", b, m, p) for b, m, p in _provenance(images)]
    prov += [("fused audio captions", b, m, p) for b, m, p in _provenance(audio)]
    prov += [("segment captions", b, m, "–") for b, m in sorted(set(zip(segments.column("backend").to_pylist(), segments.column("model").to_pylist())))]
    sections.append("## Models and prompts\n\n" + R.md_table(["captions", "backend", "model", "prompt version"], prov))
    if img_failed or aud_failed:
        sections.append(
            "## Failed items\n\nEvery attempt of these items failed in the backend (see `error` in the attempt tables); "
            "re-running the same command retries them.\n\n"
            + R.md_table(["kind", "id"], [("artwork", i) for i in img_failed[:50]] + [("track", i) for i in aud_failed[:50]])
        )
    sections.append("## Artworks by style\n\n" + R.counts_table(artworks.column("style").to_pylist(), "style"))
    sections.append("## Tracks by genre\n\n" + R.counts_table(tracks.column("genre").to_pylist(), "genre"))
    return "# ArtSound build report\n\n" + "\n\n".join(sections) + "\n"


# --- pairing phase --------------------------------------------------------------------

def _fmt(v: object) -> object:
    return f"{v:.4f}" if isinstance(v, float) and not np.isnan(v) else ("–" if isinstance(v, float) else v)


def report_block(summary: dict, stats: pa.Table, pairs: pa.Table, config: ArtSoundPairingConfig) -> str:
    """The ``pairing`` block of ``report.md``."""
    st = stats.to_pylist()
    main = [r for r in st if r["method"] == config.method]
    parts = [
        "## Pairing (section 3.3)",
        f"Embedder `{config.embedder}`; final approach **{APPROACHES[config.approach].label}** (`{config.approach}`); "
        f"pairing method `{config.method}`"
        + (f"; audio items below similarity {config.min_similarity:g} stay unpaired." if config.min_similarity is not None else "; every audio item is paired while images remain (as in the paper).")
        + " Similarity is the cosine of L2-normalised embeddings. Greedy = the global greedy of Eq. 4: repeatedly the most similar (audio, available image) pair, ties broken by audio id then image id.",
        "### Embeddings\n\n"
        + R.md_table(
            ["store", "items", "embedded", "rejected", "model", "dim"],
            [(k, v["items"], v["embedded"], v["rejected"], ", ".join(v["models"]) or "–", v["dim"] or "–") for k, v in summary["embeddings"].items()],
        ),
    ]
    check = lambda ok: "✓" if ok else "—"  # noqa: E731
    rows = []
    for r in main:
        a = APPROACHES[r["approach"]]
        rows.append(
            (a.label + (" (final)" if r["approach"] == config.approach else ""), check(a.image_view == "raw"), check(a.image_view == "caption"), check(a.audio_view == "raw"), check(a.audio_view == "caption"), r["pairs"], *(_fmt(r[k]) for k in ("min", "max", "mean", "std")))
        )
    header = ["pairing approach", "image", "image caption", "audio", "audio caption", "pairs", "min", "max", "avg", "std dev"]
    table5 = "### Table 5 on this data\n\n" + R.md_table(header, rows)
    if summary["skipped"]:
        table5 += "\n\nNot computed: " + "; ".join(f"{APPROACHES[k].label} ({v})" for k, v in summary["skipped"].items()) + "."
    table5 += (
        f"\n\nThe paper's Table 5 (ImageBind, {PAPER_PAIRS:,} audio items), for reference:\n\n"
        + R.md_table(["pairing approach", "min", "max", "avg", "std dev"], [(APPROACHES[k].label, *(f"{x:.4f}" for x in v)) for k, v in PAPER_TABLE5.items()])
        + "\n\nStandard deviation is the population one (ddof = 0). All rows also in `pairing_stats.parquet`."
    )
    parts.append(table5)
    parts.append(
        f"### Figure 2: similarity ranges\n\n![similarity violins](figures/similarity_violins.png)\n\n"
        f"Ranges: low ≤ {LOW_MAX:g}, medium in between, high ≥ {HIGH_MIN:g}.\n\n"
        + R.md_table(["pairing approach", "low", "medium", "high"], [(APPROACHES[r["approach"]].label, r["low"], r["medium"], r["high"]) for r in main])
    )
    final_rows = [r for r in st if r["approach"] == config.approach]
    if len(final_rows) > 1:
        parts.append(
            "### Greedy vs optimal k-NN assignment (final approach)\n\n"
            f"`optimal-knn` maximises the total similarity over each audio's {config.knn_k} most similar images "
            "(sparse assignment), then pairs what it cannot place greedily. The paper notes greedy leaves its last "
            "items with poor partners; the bottom decile shows it.\n\n"
            + R.md_table(
                ["method", "pairs", "mean", "p10", "bottom-decile mean", "min", "total similarity"],
                [(r["method"], r["pairs"], _fmt(r["mean"]), _fmt(r["p10"]), _fmt(r["bottom_decile_mean"]), _fmt(r["min"]), _fmt(float(r["mean"] * r["pairs"]) if r["pairs"] else float("nan"))) for r in final_rows],
            )
        )
    parts.append(
        "### Figure 5: artistic style by music genre (final pairs)\n\n![style by genre](figures/style_by_genre.png)\n\n"
        "Counts per (music genre, style) in `style_by_genre.parquet`."
    )
    splits = pairs.column("split").to_pylist()
    sizes = [(s, splits.count(s)) for s in ("train", "val", "test")]
    parts.append(
        "### Splits (section 5.2)\n\n"
        f"{config.train_fraction:.0%}/{1 - config.train_fraction:.0%} train/test stratified by artistic style (seed {config.seed}); "
        f"a validation set of up to {config.val_size} pairs sampled from the test split, stratified by style where possible, "
        "and removed from it (the three splits are disjoint).\n\n"
        + R.md_table(["split", "pairs"], sizes)
        + "\n\n"
        + R.crosstab(pairs.column("style").to_pylist(), splits, "style", ["train", "val", "test"])
    )
    parts.append(
        "### Unpaired and rejected\n\n"
        + R.md_table(
            ["what", "count"],
            [
                ("audio items", summary["audio_items"]),
                ("artworks", summary["artworks"]),
                ("final pairs", pairs.num_rows),
                ("audio items left unpaired", summary["unpaired_audio"]),
                ("items rejected by the embedding stage", summary["rejected"]),
            ],
        )
        + "\n\nRejected items are listed with their reason in `quarantine.parquet` (stage `embed`)."
    )
    return "\n\n".join(parts)


def write_card(folder: Path, pairs: pa.Table, config: ArtSoundPairingConfig, stats: pa.Table) -> Path:
    """The Hugging Face dataset card (``README.md``); its ``configs`` point at ``data/{split}.parquet``."""
    splits = pairs.column("split").to_pylist()
    # An empty split is left out of the configs: `datasets` cannot load a split
    # file without rows (a small test split can leave val empty, e.g. with --min-similarity).
    split_files = {s: f"data/{s}.parquet" for s in ("train", "val", "test") if s in splits}
    final = [r for r in stats.to_pylist() if r["approach"] == config.approach and r["method"] == config.method]
    mean = f"{final[0]['mean']:.4f}" if final and final[0]["pairs"] else "–"
    sections = [
        "Artwork–music pairs in the manner of *ArtSound* (Art2Mus paper): each music track is paired with an artwork "
        f"by the similarity of their `{config.embedder}` embeddings, approach **{APPROACHES[config.approach].label}**, "
        f"pairing method `{config.method}` (greedy: the most similar (track, free artwork) pair first, each artwork used "
        f"once). Every pair carries its similarity (mean {mean}) and the kept image and audio captions with their quality scores.",
        R.md_table(["split", "pairs"], [(s, splits.count(s)) for s in ("train", "val", "test")])
        + f"\n\nSplits: {config.train_fraction:.0%}/{1 - config.train_fraction:.0%} train/test stratified by artistic style, "
        f"a validation set of up to {config.val_size} pairs taken out of the test split (seed {config.seed}).",
        *(["## How the captions were made\n\n" + "\n\n".join(notes)] if (notes := caption_notes(folder)) else []),
        licence_section({
            "artworks": item_licences(pairs, "artwork_", id_column="image_id"),
            "tracks": item_licences(pairs, "music_", id_column="audio_id"),
        }),
        # types in backticks: a bare `list<item: string>` reads as an HTML tag and vanishes
        "## Columns\n\n"
        + R.md_table(["column", "type"], [(f"`{f.name}`", f"`{f.type}`") for f in pairs.schema])
        + "\n\n`image_path` / `audio_path` are relative to the media roots recorded in `dataset.json`. Similarity "
        "statistics per pairing approach (the paper's Table 5 on this data) are in `pairing_stats.parquet` and `report.md`.",
    ]
    extra = {"license": "other", "size_categories": [size_category(pairs.num_rows)], "tags": ["art", "music", "image-to-audio", "cross-modal"]}
    return write_dataset_card(folder, "ArtSound (synesthesia build)", split_files, sections, extra)
