"""``synesthesia train | eval | generate`` for MPJudge, Art2Mus and
Musipainter, and ``synesthesia judge``: thin wrappers over ``models``.

Each checks for torch (and transformers/diffusers where needed) first and
says what to install when one is missing (exit 2).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

import typer

from synesthesia.cli.common import command, options
from synesthesia.models.art2mus import config as A2M
from synesthesia.models.musipainter.evaluate import PAPER_GENERATED as MP_PAPER_GENERATED
from synesthesia.models.musipainter.evaluate import PAPER_GIILS_IMAGES as MP_PAPER_GIILS_IMAGES
from synesthesia.models.tracking import TRACKER_HELP

train_app = typer.Typer(help="Train a model on a built dataset folder (re-run into the same --out to resume).", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate trained models on a split of a dataset folder.", no_args_is_help=True)
generate_app = typer.Typer(help="Generate with a trained model.", no_args_is_help=True)
#: ``judge`` is a top-level command; it is defined here with the other model commands.
judge_app = typer.Typer()


@train_app.command("mpjudge")
@command("torch")
def train_mpjudge_cmd(
    data: Path = typer.Option(..., help="An annotated MPD folder (pairs.parquet + scores.parquet [+ preference_pairs.parquet], mels/), or its `export webdataset` shards."),
    out: Path = typer.Option(..., help="Run folder: config.yaml, checkpoints/, metrics.csv/.jsonl, best.pt, model.pt. If it holds checkpoints, training continues from the latest."),
    config: Optional[str] = typer.Option(None, help="YAML/JSON file with 'model' and/or 'train' sections, or a preset name (paper, tiny). Default: paper."),
    epochs: Optional[int] = typer.Option(None, help="Override train.epochs."),
    max_steps: Optional[int] = typer.Option(None, help="Stop (with a checkpoint) after this many optimizer steps in all."),
    device: Optional[str] = typer.Option(None, help="Override train.device (auto, cpu, cuda, cuda:1)."),
    tracker: Optional[str] = typer.Option(None, help=TRACKER_HELP + " Default: train.tracker (tensorboard)."),
):
    """MPJudge: MSE on scored pairs + DPO (Eq. 6) on consensus preference pairs.

    One process: `synesthesia train mpjudge ...`. Several GPUs (DDP):
    `torchrun --nproc_per_node 8 -m synesthesia train mpjudge ...`.

    Example: synesthesia train mpjudge --data demo-output/mpd --out runs/mpjudge --config tiny
    """
    from synesthesia.models.mpjudge.config import load_config
    from synesthesia.models.mpjudge.train import train

    run_config = load_config(config).replace(epochs=epochs, max_steps=max_steps, device=device, tracker=tracker)
    summary = train(data, out, run_config)
    if int(os.environ.get("RANK", "0")) == 0:
        last = summary["history"][-1] if summary["history"] else {}
        state = "finished" if summary["finished"] else "stopped early (re-run to continue)"
        typer.echo(f"MPJudge training {state} at step {summary['global_step']}: {out}" + (f" (last epoch: loss {last['train_loss']:.4f})" if last else ""))


@eval_app.command("mpjudge")
@command("torch")
def eval_mpjudge_cmd(
    checkpoint: list[Path] = typer.Option(..., help="A checkpoint file or run folder (its model.pt); repeat to compare runs in one table."),
    data: Path = typer.Option(..., help="The annotated MPD folder."),
    split: str = typer.Option("test", help="Split to evaluate."),
    out: Optional[Path] = typer.Option(None, help="Folder for eval-<split>.json/.md and predictions-<split>.parquet (default: beside each checkpoint)."),
    batch_size: int = typer.Option(256, help="Pairs per forward pass."),
    device: str = typer.Option("auto", help="auto, cpu, cuda."),
):
    """SRCC, PLCC, MAE and ACC (threshold 0.5) on a split, printed as a table like the paper's Tables 2/3.

    Example: synesthesia eval mpjudge --checkpoint runs/mpjudge --data demo-output/mpd --split test
    """
    from synesthesia.models.mpjudge.evaluate import evaluate_checkpoints

    table, _ = evaluate_checkpoints(checkpoint, data, split, out, batch_size, device)
    typer.echo(table)


@judge_app.command("judge")
@command("torch")
def judge_cmd(
    checkpoint: Path = typer.Option(..., help="An MPJudge checkpoint file or run folder."),
    painting: Path = typer.Option(..., help="Any image file."),
    music: Path = typer.Option(..., help="Any audio file; cut into 15 s clips (the dataset's clip length), scores averaged."),
    maps: Optional[Path] = typer.Option(None, help="Write the modulation-intensity-map overlay (Figure 5 style) to this PNG."),
    device: str = typer.Option("auto", help="auto, cpu, cuda."),
):
    """Print the coherence score (0-1) of a painting with a piece of music: the mean of its clips' scores.

    Example: synesthesia judge --checkpoint runs/mpjudge --painting starry.jpg --music nocturne.flac
    """
    from synesthesia.models.mpjudge.judge import judge

    result = judge(checkpoint, painting, music, maps, device)
    n = len(result["clip_scores"])
    typer.echo(f"coherence: {result['score']:.4f}  (mean of {n} clip(s) of {result['clip_seconds']:g} s)")
    for start, score in zip(result["clip_starts_s"], result["clip_scores"]):
        typer.echo(f"  clip at {start:7.1f} s: {score:.4f}")
    if maps is not None:
        typer.echo(f"modulation maps: {result['maps_png']}")


# --- Musipainter ---------------------------------------------------------------------------

SD_MODEL_HELP = "Stable Diffusion v1-4: hub id or local diffusers folder (default: the checkpoint's / config's, CompVis/stable-diffusion-v1-4)."
BEATS_HELP = "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt (default: the config's, else $SYNESTHESIA_BEATS_CHECKPOINT)."


@train_app.command("musipainter")
@command("torch", "transformers", "diffusers")
def train_musipainter_cmd(
    data: Path = typer.Option(..., help="A Museart folder built by `synesthesia build museart` (pairs/<split>/, clips/, dataset.json), or its `export webdataset` shards."),
    out: Path = typer.Option(..., help="Run folder: config.yaml, checkpoints/, metrics.csv/.jsonl, best.pt (lowest validation loss), model.pt. Re-run to resume."),
    config: str = typer.Option("model1", help="model1 (projection only, 25 epochs, lr 8e-5), model2 (+ BEATs and UNet, 50 epochs, lr 1e-5), tiny, or a YAML/JSON file."),
    sd_model: Optional[str] = typer.Option(None, help=SD_MODEL_HELP),
    beats_checkpoint: Optional[Path] = typer.Option(None, help=BEATS_HELP),
    epochs: Optional[int] = typer.Option(None, help="Override train.epochs."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps (smoke runs)."),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda, cuda:1 ..."),
    tracker: Optional[str] = typer.Option(None, help=TRACKER_HELP + " Default: train.tracker (tensorboard)."),
):
    """Musipainter: train the audio token (Eq. 3 loss) on a Museart folder; validation loss per epoch picks best.pt.

    Example: synesthesia train musipainter --data demo-output/museart --out runs/musipainter --config model1 --sd-model /ckpt/sd-v1-4
    """
    from synesthesia.models.musipainter.config import load_config
    from synesthesia.models.musipainter.train import train_musipainter

    model = {"sd_model": sd_model, "beats_checkpoint": str(beats_checkpoint) if beats_checkpoint else None}
    run = load_config(config).replace(model, epochs=epochs, max_steps=max_steps, device=device, tracker=tracker)
    summary = train_musipainter(data, out, run)
    best = summary["best"] or {}
    typer.echo(f"Musipainter trained {summary['epochs']} epoch(s), {summary['steps']} steps: {out} (best epoch {best.get('epoch')}, loss {best.get('score', float('nan')):.4f})")


@eval_app.command("musipainter")
@command("torch", "transformers", "diffusers")
def eval_musipainter_cmd(
    checkpoint: list[Path] = typer.Option(..., help="Checkpoint file or run folder (its best.pt); repeat for one table row per model."),
    data: Path = typer.Option(..., help="Museart folder."),
    out: Path = typer.Option(..., help="Output folder: results.md (Tables 1 and 5 layout), results.parquet, giils.parquet, <model>/generated/*.png."),
    split: str = typer.Option("test", help="Split the music inputs are sampled from."),
    n: int = typer.Option(MP_PAPER_GENERATED, help=f"Images generated per model (the paper: {MP_PAPER_GENERATED}), one per sampled pair."),
    steps: int = typer.Option(50, help="Diffusion steps."),
    guidance_scale: float = typer.Option(7.5, help="Classifier-free guidance scale."),
    seed: int = typer.Option(0, help="Seed of the sample of pairs and of the generation noise."),
    embedder: str = typer.Option("imagebind", help="Similarity space of AIS/IIS/GIILS (the paper: Wav2CLIP; default ImageBind, audio + image)."),
    embedder_option: Optional[list[str]] = typer.Option(None, help="KEY=VALUE for the embedder (repeatable), e.g. checkpoint=/ckpt/imagebind_huge.pth."),
    fid_model: str = typer.Option("auto", help="inception (pytorch-fid), embedder (Fréchet distance of the embedder's image features), or auto."),
    giils_images: int = typer.Option(
        MP_PAPER_GIILS_IMAGES, help=f"Generated images per category GIILS uses, a seeded sample (paper: {MP_PAPER_GIILS_IMAGES}); 0: all."
    ),
    sd_model: Optional[str] = typer.Option(None, help=SD_MODEL_HELP),
    beats_checkpoint: Optional[Path] = typer.Option(None, help=BEATS_HELP),
    device: str = typer.Option("auto", help="auto, cpu, cuda ..."),
):
    """Musipainter: generate from test music and report AIS, IIS, FID (Table 1) and GIILS per category (Table 5).

    Example: synesthesia eval musipainter --checkpoint runs/musipainter --data demo-output/museart --out eval/musipainter
    """
    from synesthesia.models.musipainter.evaluate import EvalConfig, evaluate

    config = EvalConfig(split=split, n_generated=n, steps=steps, guidance_scale=guidance_scale, seed=seed, embedder=embedder,
                        embedder_options=tuple(options(embedder_option or []).items()), fid_model=fid_model,
                        giils_images=giils_images or None)
    path = evaluate(checkpoint, data, out, config, sd_model, str(beats_checkpoint) if beats_checkpoint else None, device)
    typer.echo(path.read_text())


@generate_app.command("musipainter")
@command("torch", "transformers", "diffusers")
def generate_musipainter_cmd(
    checkpoint: Path = typer.Option(..., help="Checkpoint file or run folder (its best.pt)."),
    audio: Path = typer.Option(..., help="Music file (its first 30 s, resampled to 16 kHz mono)."),
    out: Path = typer.Option(..., help="PNG to write: the images side by side."),
    n: int = typer.Option(4, help="Images to generate."),
    steps: int = typer.Option(50, help="Diffusion steps."),
    guidance_scale: float = typer.Option(7.5, help="Classifier-free guidance scale."),
    seed: int = typer.Option(0, help="Seed of the generation noise."),
    sd_model: Optional[str] = typer.Option(None, help=SD_MODEL_HELP),
    beats_checkpoint: Optional[Path] = typer.Option(None, help=BEATS_HELP),
    device: str = typer.Option("auto", help="auto, cpu, cuda ..."),
):
    """Musipainter: paintings for a piece of music ("an art image of <*>" with its audio token).

    Example: synesthesia generate musipainter --checkpoint runs/musipainter --audio nocturne.flac --out paintings.png
    """
    from synesthesia.models.musipainter.pipeline import audio_fbank, load_generator, save_grid

    generator = load_generator(checkpoint, sd_model, str(beats_checkpoint) if beats_checkpoint else None, device)
    images = generator.images(audio_fbank(audio, generator.config.clip_seconds), n, steps, guidance_scale, seed)
    typer.echo(f"wrote {save_grid(images, out)} ({n} image(s))")


# --- Art2Mus ---------------------------------------------------------------------------

FAD_HELP = "FAD embeddings: 'auto' (VGGish if its weights are found, else --fad-embedder), 'vggish', 'embedder' or 'none'."


def _eval_config(steps, seconds, guidance_scale, batch_size, seed, fad, vggish_weights, fad_embedder, ibsc_embedder):
    from synesthesia.models.art2mus.evaluate import EvalConfig

    return EvalConfig(seconds=seconds, steps=steps, guidance_scale=guidance_scale, batch_size=batch_size, seed=seed, fad=fad,
                      vggish_weights=str(vggish_weights) if vggish_weights else None, fad_embedder=fad_embedder,
                      ibsc_embedder=ibsc_embedder)


@train_app.command("art2mus")
@command("torch", "transformers", "diffusers")
def train_art2mus_cmd(
    data: Path = typer.Option(..., help="ArtSound folder (dataset.json, pairs/artworks/tracks.parquet, embeddings/), or its `export webdataset` shards."),
    out: Path = typer.Option(..., help="Run folder: checkpoints/, final/, train_log.parquet, validation/ (re-run to resume)."),
    encoder: str = typer.Option("imagebind", help="Image embedder name: 'imagebind' (1024-d) or 'clip' (512-d), or any registered one."),
    embedding_dim: Optional[int] = typer.Option(None, help="The encoder's embedding size (default: 1024 ImageBind, 512 CLIP)."),
    tokens: Optional[int] = typer.Option(None, help="GPT-2 input tokens per image (default: 16 ImageBind, 6 CLIP)."),
    audioldm2: str = typer.Option(A2M.DEFAULT_AUDIOLDM2, help="AudioLDM 2 diffusers checkpoint: hub id or local folder."),
    image_embeddings: Optional[Path] = typer.Option(None, help="Embeddings folder (id, vector, model, dim) to read instead of searching DATA/embeddings."),
    steps: int = typer.Option(A2M.TrainConfig.total_steps, help="Total optimiser steps."),
    batch_size: int = typer.Option(A2M.TrainConfig.batch_size, help="Examples per optimiser step."),
    micro_batch_size: int = typer.Option(A2M.TrainConfig.micro_batch_size, help="Examples per forward pass (gradient accumulation reaches --batch-size)."),
    lr: float = typer.Option(A2M.TrainConfig.learning_rate, help="AdamW learning rate."),
    warmup: int = typer.Option(A2M.TrainConfig.warmup_steps, help="Linear warm-up steps."),
    lr_schedule: str = typer.Option(A2M.TrainConfig.lr_schedule, help="After warm-up: constant, linear or cosine."),
    min_snr_gamma: float = typer.Option(A2M.TrainConfig.min_snr_gamma, help="Min-SNR weighting gamma (Eq. 11); 0 disables."),
    train_guidance_scale: float = typer.Option(
        A2M.TrainConfig.train_guidance_scale, help="Guidance scale of the training prediction (authors' code: 3.5; 1 = plain conditional, Eq. 9/11 as written)."
    ),
    segment_seconds: float = typer.Option(A2M.FrontEndConfig.segment_seconds, help="Seconds of each track the model trains on."),
    val_artworks: int = typer.Option(A2M.TrainConfig.val_artworks, help="Validation artworks (the build's val split, else drawn from test)."),
    val_steps: int = typer.Option(A2M.TrainConfig.val_steps, help="DDIM steps of validation samples."),
    val_seconds: float = typer.Option(A2M.TrainConfig.val_seconds, help="Length of validation samples."),
    validate_every: Optional[int] = typer.Option(None, help="Validate every N steps (default: once per epoch)."),
    checkpoint_every: int = typer.Option(A2M.TrainConfig.checkpoint_every, help="Checkpoint every N steps."),
    num_workers: int = typer.Option(A2M.TrainConfig.num_workers, help="Data-loading worker processes."),
    mixed_precision: str = typer.Option(A2M.TrainConfig.mixed_precision, help="'bf16' (frozen components in bfloat16 on CUDA) or 'no'."),
    device: str = typer.Option("auto", help="'auto', 'cuda', 'cuda:1', 'cpu', ..."),
    seed: int = typer.Option(0, help="Seed for initialisation, data order and noise."),
    fad: str = typer.Option("auto", help=FAD_HELP),
    vggish_weights: Optional[Path] = typer.Option(None, help="VGGish state dict (vggish-10086976.pth)."),
    fad_embedder: str = typer.Option("imagebind", help="Audio embedder for FAD when VGGish is not used."),
    ibsc_embedder: str = typer.Option("imagebind", help="Embedder for the ImageBind score ('none' to skip)."),
    tracker: str = typer.Option(A2M.TrainConfig.tracker, help=TRACKER_HELP),
):
    """Art2Mus: train the image aligner on a frozen AudioLDM 2 from an ArtSound folder.

    Example: synesthesia train art2mus --data artsound/ --out runs/art2mus --audioldm2 /ckpt/audioldm2-music
    """
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
        val_artworks=val_artworks, val_seconds=val_seconds, val_steps=val_steps, num_workers=num_workers, tracker=tracker,
    )
    eval_config = _eval_config(val_steps, val_seconds, None, 8, seed, fad, vggish_weights, fad_embedder, ibsc_embedder)
    started = time.perf_counter()
    summary = train_art2mus(data, out, model_config, train_config, FrontEndConfig.for_seconds(segment_seconds), eval_config,
                            image_embeddings=image_embeddings, device=device)
    typer.echo(f"Art2Mus trained to step {summary['step']} in {time.perf_counter() - started:.0f} s: {out / 'final'} "
               f"({summary['quarantined']} track(s) quarantined)")


@eval_app.command("art2mus")
@command("torch", "transformers", "diffusers")
def eval_art2mus_cmd(
    checkpoint: list[Path] = typer.Option(..., help="Checkpoint or run folder; repeat for a table of several models."),
    data: Path = typer.Option(..., help="ArtSound folder."),
    out: Path = typer.Option(..., help="Output folder: results.md (Table 7 layout), results.parquet, <model>/generated/*.wav."),
    split: str = typer.Option("test", help="Pairs to evaluate: test, val or train."),
    limit: Optional[int] = typer.Option(None, help="Evaluate the first N pairs only."),
    steps: int = typer.Option(A2M.INFERENCE_STEPS, help="DDIM steps."),
    seconds: float = typer.Option(A2M.SAMPLE_SECONDS, help="Seconds per generated clip."),
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
    """Art2Mus: generate for an ArtSound split and report FAD, KL-Div and IBSc like the paper's Table 7.

    Example: synesthesia eval art2mus --checkpoint runs/art2mus --data artsound/ --out eval/art2mus --limit 100
    """
    from synesthesia.models.art2mus.evaluate import run_evaluation

    config = _eval_config(steps, seconds, guidance_scale, batch_size, seed, fad, vggish_weights, fad_embedder, ibsc_embedder)
    results = run_evaluation(checkpoint, data, out, config, split=split, limit=limit, audioldm2=audioldm2, device=device,
                             image_embeddings=image_embeddings)
    typer.echo(results.read_text())


@generate_app.command("art2mus")
@command("torch", "transformers", "diffusers")
def generate_art2mus_cmd(
    checkpoint: Path = typer.Option(..., help="Checkpoint or run folder."),
    image: Path = typer.Option(..., help="Artwork image."),
    out: Path = typer.Option(..., help="WAV file to write (16 kHz)."),
    seconds: float = typer.Option(A2M.SAMPLE_SECONDS, help="Length in seconds."),
    steps: int = typer.Option(A2M.INFERENCE_STEPS, help="DDIM steps."),
    guidance_scale: Optional[float] = typer.Option(None, help="Classifier-free guidance scale (default: the model's, 3.5)."),
    seed: int = typer.Option(0, help="Seed of the generation noise."),
    audioldm2: Optional[str] = typer.Option(None, help="Load AudioLDM 2 from here instead of the checkpoint's setting."),
    device: str = typer.Option("auto", help="'auto', 'cuda', 'cpu', ..."),
):
    """Art2Mus: music for one artwork.

    Example: synesthesia generate art2mus --checkpoint runs/art2mus --image starry.jpg --out starry.wav
    """
    from synesthesia.models.art2mus.evaluate import generate_wav

    path = generate_wav(checkpoint, image, out, seconds=seconds, steps=steps, guidance_scale=guidance_scale, seed=seed,
                        audioldm2=audioldm2, device=device)
    typer.echo(f"wrote {path}")
