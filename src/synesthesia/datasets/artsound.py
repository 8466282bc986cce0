"""ArtSound (Art2Mus paper): build config, folder layout, report.

A built ArtSound folder (captioning phase)::

    DIR/
      dataset.json                   dataset "artsound", media roots {artworks, music}, build config
      artworks.parquet               schema.IMAGES   (valid artworks: style, genre, artist, title...)
      tracks.parquet                 schema.AUDIO    (valid tracks)
      quarantine.parquet             schema.QUARANTINE
      audio_segment_captions.parquet schema.AUDIO_SEGMENT_CAPTIONS (one row per 10 s segment)
      image_captions.parquet         schema.IMAGE_CAPTIONS (every attempt; kept = the dataset's caption)
      audio_captions.parquet         schema.AUDIO_CAPTIONS (every attempt; kept = the dataset's caption)
      report.md
      _work/                         shard parts (kept so re-runs resume)

The pairing phase (embeddings, greedy pairing, splits) adds its own tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.pipelines import report as R
from synesthesia.pipelines.audio import ClipConfig
from synesthesia.pipelines.captioning import (
    DEFAULT_FUSION_MODEL,
    DEFAULT_IMAGE_MODEL,
    FEATURES_MODEL,
    GeneratorConfig,
    SegmentCaptionerConfig,
)
from synesthesia.pipelines.captioning.loop import LoopConfig
from synesthesia.pipelines.captioning.stages import MIN_TRACK_SECONDS, SEGMENT_CLIP
from synesthesia.pipelines.quality.image import ICSConfig
from synesthesia.pipelines.quality.text import ACSConfig

DATASET = "artsound"
CAPTIONERS = ("vllm", "openai", "transformers", "features")


@dataclass(frozen=True)
class ArtSoundConfig:
    """Everything that decides the captions of an ArtSound build."""

    image_captioner: GeneratorConfig = GeneratorConfig("features", FEATURES_MODEL)
    fusion: GeneratorConfig = GeneratorConfig("features", FEATURES_MODEL)
    segments: SegmentCaptionerConfig = SegmentCaptionerConfig("features")
    ics: ICSConfig = field(default_factory=ICSConfig)
    acs: ACSConfig = field(default_factory=ACSConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    segment_clip: ClipConfig = SEGMENT_CLIP
    min_track_seconds: float = MIN_TRACK_SECONDS
    seed: int = 0


def make_config(
    captioner: str = "features",
    *,
    image_model: str | None = None,
    fusion_model: str | None = None,
    segment_captioner: str | None = None,
    lpmusiccaps_checkpoint: str | None = None,
    bart_tokenizer: str | None = None,
    engine: dict | None = None,
    runtime: dict | None = None,
    image_engine: dict | None = None,
    fusion_engine: dict | None = None,
    image_runtime: dict | None = None,
    fusion_runtime: dict | None = None,
    ics: ICSConfig = ICSConfig(),
    acs: ACSConfig = ACSConfig(),
    loop: LoopConfig = LoopConfig(),
    seed: int = 0,
) -> ArtSoundConfig:
    """The config behind ``synesthesia build artsound``: one backend for the
    image captions and the fusion (``captioner``), the paper's models by
    default, and LP-MusicCaps for segments unless the captioner is
    ``features`` (then the features segment captioner too).

    ``engine``/``runtime`` options apply to both models; ``image_*`` and
    ``fusion_*`` override them for one model: two vLLM engines in one process
    need their own ``gpu_memory_utilization``, and an OpenAI-compatible server
    (``vllm serve``) serves one model, so each model may have its ``base_url``."""
    if captioner not in CAPTIONERS:
        raise ValueError(f"captioner must be one of {CAPTIONERS}")

    def merged(shared: dict | None, own: dict | None) -> tuple:
        return tuple(sorted({**(shared or {}), **(own or {})}.items()))

    if captioner == "features":
        image = fusion = GeneratorConfig("features", FEATURES_MODEL)
    else:
        image = GeneratorConfig(captioner, image_model or DEFAULT_IMAGE_MODEL, engine=merged(engine, image_engine),
                                runtime=merged(runtime, image_runtime), seed=seed)
        fusion = GeneratorConfig(captioner, fusion_model or DEFAULT_FUSION_MODEL, engine=merged(engine, fusion_engine),
                                 runtime=merged(runtime, fusion_runtime), seed=seed, max_tokens=512)
    segments_backend = segment_captioner or ("features" if captioner == "features" else "lpmusiccaps")
    segments = SegmentCaptionerConfig(segments_backend, lpmusiccaps_checkpoint, bart_tokenizer)
    return ArtSoundConfig(image, fusion, segments, ics, acs, loop, seed=seed)


# --- report ------------------------------------------------------------------------------

def _stats(values) -> tuple:
    arr = np.array([v for v in values if v is not None], dtype=np.float64)
    if not len(arr):
        return ("–", "–", "–")
    return (float(arr.min()), float(arr.mean()), float(arr.max()))


def kept_rows(table: pa.Table) -> pa.Table:
    """The rows with ``kept == true``: one caption per item, the dataset's."""
    return table.filter(pc.fill_null(table.column("kept"), False))


def read_kept_captions(folder: str | Path) -> tuple[pa.Table, pa.Table]:
    """(image captions, audio captions) of a built folder, kept rows only:
    what the pairing phase and the readers use."""
    folder = Path(folder)
    images = dio.read_table(folder / "image_captions.parquet", S.IMAGE_CAPTIONS)
    audio = dio.read_table(folder / "audio_captions.parquet", S.AUDIO_CAPTIONS)
    return kept_rows(images), kept_rows(audio)


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
    sections = []
    backends = {b for b, _, _ in _provenance(images) + _provenance(audio)} | set(segments.column("backend").to_pylist())
    if "features" in backends:
        sections.append(
            "> **Note: captions from the `features` captioner.** They describe measured properties (palette, "
            "brightness, contrast, edges, composition; loudness, tempo, spectral brightness, key) and were not "
            "written by LLaVA, LP-MusicCaps or Qwen3. Their rows carry `backend = features`."
        )
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
