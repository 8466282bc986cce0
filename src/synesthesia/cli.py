"""``synesthesia``: the command line. A thin wrapper over the flows and stages.

Every command's help says what it reads and writes; the README has the
walk-through.
"""

from __future__ import annotations

import os
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
train_app = typer.Typer(help="Train a model on a built dataset folder (re-run into the same --out to resume).", no_args_is_help=True)
app.add_typer(train_app, name="train")
eval_app = typer.Typer(help="Evaluate trained models on a split of a dataset folder.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
generate_app = typer.Typer(help="Generate with a trained model.", no_args_is_help=True)
app.add_typer(generate_app, name="generate")


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

# --- Art2Mus ---------------------------------------------------------------------------

FAD_HELP = "FAD embeddings: 'auto' (VGGish if its weights are found, else --fad-embedder), 'vggish', 'embedder' or 'none'."


def _eval_config(steps, seconds, guidance_scale, batch_size, seed, fad, vggish_weights, fad_embedder, ibsc_embedder):
    from synesthesia.models.art2mus.evaluate import EvalConfig

    return EvalConfig(seconds=seconds, steps=steps, guidance_scale=guidance_scale, batch_size=batch_size, seed=seed, fad=fad,
                      vggish_weights=str(vggish_weights) if vggish_weights else None, fad_embedder=fad_embedder,
                      ibsc_embedder=ibsc_embedder)


@train_app.command("art2mus")
def train_art2mus_cmd(
    data: Path = typer.Option(..., help="ArtSound folder (dataset.json, pairs/artworks/tracks.parquet, embeddings/)."),
    out: Path = typer.Option(..., help="Run folder: checkpoints/, final/, train_log.parquet, validation/ (re-run to resume)."),
    encoder: str = typer.Option("imagebind", help="Image embedder name: 'imagebind' (1024-d) or 'clip' (512-d), or any registered one."),
    embedding_dim: Optional[int] = typer.Option(None, help="The encoder's embedding size (default: 1024 ImageBind, 512 CLIP)."),
    tokens: Optional[int] = typer.Option(None, help="GPT-2 input tokens per image (default: 16 ImageBind, 6 CLIP)."),
    audioldm2: str = typer.Option("cvssp/audioldm2-music", help="AudioLDM 2 diffusers checkpoint: hub id or local folder."),
    image_embeddings: Optional[Path] = typer.Option(None, help="Embeddings folder (id, vector, model, dim) to read instead of searching DATA/embeddings."),
    steps: int = typer.Option(37_200, help="Total optimiser steps."),
    batch_size: int = typer.Option(128, help="Examples per optimiser step."),
    micro_batch_size: int = typer.Option(32, help="Examples per forward pass (gradient accumulation reaches --batch-size)."),
    lr: float = typer.Option(2e-5, help="AdamW learning rate."),
    warmup: int = typer.Option(1_324, help="Linear warm-up steps."),
    lr_schedule: str = typer.Option("constant", help="After warm-up: constant, linear or cosine."),
    min_snr_gamma: float = typer.Option(5.0, help="Min-SNR weighting gamma (Eq. 11); 0 disables."),
    train_guidance_scale: float = typer.Option(3.5, help="Guidance scale of the training prediction (authors' code: 3.5; 1 = plain conditional)."),
    segment_seconds: float = typer.Option(10.0, help="Seconds of each track the model trains on."),
    val_artworks: int = typer.Option(100, help="Validation artworks (the build's val split, else drawn from test)."),
    val_steps: int = typer.Option(200, help="DDIM steps of validation samples."),
    val_seconds: float = typer.Option(10.0, help="Length of validation samples."),
    validate_every: Optional[int] = typer.Option(None, help="Validate every N steps (default: once per epoch)."),
    checkpoint_every: int = typer.Option(500, help="Checkpoint every N steps."),
    num_workers: int = typer.Option(4, help="Data-loading worker processes."),
    mixed_precision: str = typer.Option("bf16", help="'bf16' (frozen components in bfloat16 on CUDA) or 'no'."),
    device: str = typer.Option("auto", help="'auto', 'cuda', 'cuda:1', 'cpu', ..."),
    seed: int = typer.Option(0, help="Seed for initialisation, data order and noise."),
    fad: str = typer.Option("auto", help=FAD_HELP),
    vggish_weights: Optional[Path] = typer.Option(None, help="VGGish state dict (vggish-10086976.pth)."),
    fad_embedder: str = typer.Option("imagebind", help="Audio embedder for FAD when VGGish is not used."),
    ibsc_embedder: str = typer.Option("imagebind", help="Embedder for the ImageBind score ('none' to skip)."),
):
    """Art2Mus: train the image aligner on a frozen AudioLDM 2 from an ArtSound folder."""
    import logging

    from synesthesia.models.art2mus.config import Art2MusConfig, FrontEndConfig, TrainConfig
    from synesthesia.models.art2mus.train import train_art2mus

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {k: v for k, v in {"embedding_dim": embedding_dim, "n_tokens": tokens}.items() if v is not None}
    model_config = Art2MusConfig.for_encoder(encoder, audioldm2=audioldm2, **overrides)
    train_config = TrainConfig(
        learning_rate=lr, warmup_steps=warmup, total_steps=steps, batch_size=batch_size, micro_batch_size=micro_batch_size,
        lr_schedule=lr_schedule, min_snr_gamma=min_snr_gamma, train_guidance_scale=train_guidance_scale,
        mixed_precision=mixed_precision, seed=seed, checkpoint_every=checkpoint_every, validate_every=validate_every,
        val_artworks=val_artworks, val_seconds=val_seconds, val_steps=val_steps, num_workers=num_workers,
    )
    eval_config = _eval_config(val_steps, val_seconds, None, 8, seed, fad, vggish_weights, fad_embedder, ibsc_embedder)
    started = time.perf_counter()
    summary = train_art2mus(data, out, model_config, train_config, FrontEndConfig.for_seconds(segment_seconds), eval_config,
                            image_embeddings=image_embeddings, device=device)
    typer.echo(f"Art2Mus trained to step {summary['step']} in {time.perf_counter() - started:.0f} s: {out / 'final'} "
               f"({summary['quarantined']} track(s) quarantined)")


@eval_app.command("art2mus")
def eval_art2mus_cmd(
    checkpoint: list[Path] = typer.Option(..., help="Checkpoint or run folder; repeat for a table of several models."),
    data: Path = typer.Option(..., help="ArtSound folder."),
    out: Path = typer.Option(..., help="Output folder: results.md (Table 7 layout), results.parquet, <model>/generated/*.wav."),
    split: str = typer.Option("test", help="Pairs to evaluate: test, val or train."),
    limit: Optional[int] = typer.Option(None, help="Evaluate the first N pairs only."),
    steps: int = typer.Option(200, help="DDIM steps."),
    seconds: float = typer.Option(10.0, help="Seconds per generated clip."),
    guidance_scale: Optional[float] = typer.Option(None, help="Classifier-free guidance scale (default: the model's, 3.5)."),
    batch_size: int = typer.Option(8, help="Clips generated per batch."),
    seed: int = typer.Option(0, help="Seed of the generation noise."),
    fad: str = typer.Option("auto", help=FAD_HELP),
    vggish_weights: Optional[Path] = typer.Option(None, help="VGGish state dict (vggish-10086976.pth)."),
    fad_embedder: str = typer.Option("imagebind", help="Audio embedder for FAD when VGGish is not used."),
    ibsc_embedder: str = typer.Option("imagebind", help="Embedder for the ImageBind score ('none' to skip)."),
    audioldm2: Optional[str] = typer.Option(None, help="Load AudioLDM 2 from here instead of the checkpoint's setting."),
    image_embeddings: Optional[Path] = typer.Option(None, help="Embeddings folder to read the conditioning image embeddings from."),
    device: str = typer.Option("auto", help="'auto', 'cuda', 'cpu', ..."),
):
    """Art2Mus: generate for an ArtSound split and report FAD, KL-Div and IBSc like the paper's Table 7."""
    from synesthesia.models.art2mus.evaluate import run_evaluation

    config = _eval_config(steps, seconds, guidance_scale, batch_size, seed, fad, vggish_weights, fad_embedder, ibsc_embedder)
    results = run_evaluation(checkpoint, data, out, config, split=split, limit=limit, audioldm2=audioldm2, device=device,
                             image_embeddings=image_embeddings)
    typer.echo(results.read_text())


@generate_app.command("art2mus")
def generate_art2mus_cmd(
    checkpoint: Path = typer.Option(..., help="Checkpoint or run folder."),
    image: Path = typer.Option(..., help="Artwork image."),
    out: Path = typer.Option(..., help="WAV file to write (16 kHz)."),
    seconds: float = typer.Option(10.0, help="Length in seconds."),
    steps: int = typer.Option(200, help="DDIM steps."),
    guidance_scale: Optional[float] = typer.Option(None, help="Classifier-free guidance scale (default: the model's, 3.5)."),
    seed: int = typer.Option(0, help="Seed of the generation noise."),
    audioldm2: Optional[str] = typer.Option(None, help="Load AudioLDM 2 from here instead of the checkpoint's setting."),
    device: str = typer.Option("auto", help="'auto', 'cuda', 'cpu', ..."),
):
    """Art2Mus: music for one artwork."""
    from synesthesia.models.art2mus.evaluate import generate_wav

    path = generate_wav(checkpoint, image, out, seconds=seconds, steps=steps, guidance_scale=guidance_scale, seed=seed,
                        audioldm2=audioldm2, device=device)
    typer.echo(f"wrote {path}")


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


# --- models: train / eval / judge ------------------------------------------------



@train_app.command("mpjudge")
def train_mpjudge_cmd(
    data: Path = typer.Option(..., help="An annotated MPD folder (pairs.parquet + scores.parquet [+ preference_pairs.parquet], mels/)."),
    out: Path = typer.Option(..., help="Run folder: config.yaml, checkpoints/, metrics.csv/.jsonl, best.pt, model.pt. If it holds checkpoints, training continues from the latest."),
    config: Optional[str] = typer.Option(None, help="YAML/JSON file with 'model' and/or 'train' sections, or a preset name (paper, tiny). Default: paper."),
    epochs: Optional[int] = typer.Option(None, help="Override train.epochs."),
    max_steps: Optional[int] = typer.Option(None, help="Stop (with a checkpoint) after this many optimizer steps in all."),
    device: Optional[str] = typer.Option(None, help="Override train.device (auto, cpu, cuda, cuda:1)."),
):
    """MPJudge: MSE on scored pairs + DPO (Eq. 6) on consensus preference pairs.

    One process: `synesthesia train mpjudge ...`. Several GPUs (DDP):
    `torchrun --nproc_per_node 8 -m synesthesia train mpjudge ...`.
    """
    from synesthesia.models.mpjudge.config import load_config
    from synesthesia.models.mpjudge.train import train

    run_config = load_config(config).replace(epochs=epochs, max_steps=max_steps, device=device)
    summary = train(data, out, run_config)
    if int(os.environ.get("RANK", "0")) == 0:
        last = summary["history"][-1] if summary["history"] else {}
        state = "finished" if summary["finished"] else "stopped early (re-run to continue)"
        typer.echo(f"MPJudge training {state} at step {summary['global_step']}: {out}" + (f" (last epoch: loss {last['train_loss']:.4f})" if last else ""))


@eval_app.command("mpjudge")
def eval_mpjudge_cmd(
    checkpoint: list[Path] = typer.Option(..., help="A checkpoint file or run folder (its model.pt); repeat to compare runs in one table."),
    data: Path = typer.Option(..., help="The annotated MPD folder."),
    split: str = typer.Option("test", help="Split to evaluate."),
    out: Optional[Path] = typer.Option(None, help="Folder for eval-<split>.json/.md and predictions-<split>.parquet (default: beside each checkpoint)."),
    batch_size: int = typer.Option(256, help="Pairs per forward pass."),
    device: str = typer.Option("auto", help="auto, cpu, cuda."),
):
    """SRCC, PLCC, MAE and ACC (threshold 0.5) on a split, printed as a table like the paper's Tables 2/3."""
    from synesthesia.models.mpjudge.evaluate import evaluate_checkpoints

    table, _ = evaluate_checkpoints(checkpoint, data, split, out, batch_size, device)
    typer.echo(table)


@app.command("judge")
def judge_cmd(
    checkpoint: Path = typer.Option(..., help="An MPJudge checkpoint file or run folder."),
    painting: Path = typer.Option(..., help="Any image file."),
    music: Path = typer.Option(..., help="Any audio file; cut into 15 s clips (the dataset's clip length), scores averaged."),
    maps: Optional[Path] = typer.Option(None, help="Write the modulation-intensity-map overlay (Figure 5 style) to this PNG."),
    device: str = typer.Option("auto", help="auto, cpu, cuda."),
):
    """Print the coherence score (0-1) of a painting with a piece of music: the mean of its clips' scores."""
    from synesthesia.models.mpjudge.judge import judge

    result = judge(checkpoint, painting, music, maps, device)
    n = len(result["clip_scores"])
    typer.echo(f"coherence: {result['score']:.4f}  (mean of {n} clip(s) of {result['clip_seconds']:g} s)")
    for start, score in zip(result["clip_starts_s"], result["clip_scores"]):
        typer.echo(f"  clip at {start:7.1f} s: {score:.4f}")
    if maps is not None:
        typer.echo(f"modulation maps: {result['maps_png']}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
