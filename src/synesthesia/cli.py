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


def _choices(name: str, values) -> type[Enum]:
    """A string Enum (what typer shows as choices) from a registry's names."""
    return Enum(name, {v.replace("-", "_"): v for v in values}, type=str)


def _artsound_choices():
    from synesthesia.datasets.artsound_pairing import APPROACHES
    from synesthesia.pipelines.embedding import EMBEDDERS
    from synesthesia.pipelines.matching import METHODS

    return _choices("EmbedderName", EMBEDDERS), _choices("PairingMethod", METHODS), _choices("ApproachName", APPROACHES)


EmbedderName, PairingMethod, ApproachName = _artsound_choices()


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


def _option_value(text: str):
    """A KEY=VALUE option's value: int, float, true/false, none, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _options(pairs: list[str]) -> tuple:
    out = []
    for item in pairs:
        if "=" not in item:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out.append((key.strip(), _option_value(value)))
    return tuple(out)


def artsound_pairing_config(
    embedder: EmbedderName,
    pairing: PairingMethod,
    approach: ApproachName,
    approaches: Optional[str] = None,
    embedder_option: Optional[list[str]] = None,
    **kwargs,
):
    """The pairing config from CLI options (shared by `build artsound` and `build artsound-pairs`)."""
    from synesthesia.datasets.artsound_pairing import APPROACHES, ArtSoundPairingConfig

    chosen = tuple(a.strip() for a in approaches.split(",") if a.strip()) if approaches else tuple(APPROACHES)
    return ArtSoundPairingConfig(
        embedder=embedder.value,
        embedder_options=_options(embedder_option or []),
        approaches=chosen,
        approach=approach.value,
        method=pairing.value,
        **kwargs,
    )


@build_app.command("artsound-pairs")
def build_artsound_pairs_cmd(
    dataset: Path = typer.Option(..., help="ArtSound folder written by the captioning phase (dataset.json, artworks/tracks/captions Parquet)."),
    embedder: EmbedderName = typer.Option(EmbedderName.imagebind, help="Embedding model: imagebind (paper), clip (image+text), minilm-text (captions only, offline)."),
    pairing: PairingMethod = typer.Option(PairingMethod.greedy, help="greedy (paper: most similar pair first, each image once) or optimal-knn (max total similarity on a k-NN graph)."),
    approach: ApproachName = typer.Option(ApproachName.image_audio, help="Approach whose pairs become the dataset (paper: image-audio)."),
    approaches: Optional[str] = typer.Option(None, help="Comma-separated approaches computed for Table 5 (default: all four; those the embedder cannot serve are skipped)."),
    compare: bool = typer.Option(True, help="Also run the other pairing method on the final approach and report both."),
    knn_k: int = typer.Option(10, help="Candidate images per audio for optimal-knn."),
    candidates: int = typer.Option(32, help="Candidate images per audio kept by the greedy's first pass (speed only; the result is exact for any value)."),
    min_similarity: Optional[float] = typer.Option(None, help="Leave audio unpaired when its best available image is less similar (default: off, as in the paper)."),
    val_size: int = typer.Option(100, help="Validation pairs sampled from the test split."),
    seed: int = typer.Option(0, help="Seed of the splits."),
    embedder_option: Optional[list[str]] = typer.Option(None, help="KEY=VALUE passed to the embedder (repeatable), e.g. model_id=/ckpt/clip-vit-base-patch32, device=cuda."),
    batch_size: int = typer.Option(16, help="Items per embedding batch."),
    shard_size: int = typer.Option(256, help="Items per embedding shard."),
    workers: int = typer.Option(2, help="Parallel workers of the local runner / local Dask cluster."),
    runner: Runner = typer.Option(Runner.local, help=RUNNER_HELP),
    dask_address: Optional[str] = typer.Option(None, help="Scheduler address of an existing Dask cluster (with --runner dask)."),
):
    """ArtSound pairing phase on an existing ArtSound folder: embeddings → four approaches (Table 5) → pairs, splits, card, report.

    Writes embeddings/, pairings/, pairing_stats.parquet, style_by_genre.parquet, pairs.parquet,
    data/{train,val,test}.parquet, figures/, README.md (dataset card) and the pairing block of report.md into DATASET.
    """
    from synesthesia.flows.artsound_pairing import pair_artsound

    started = time.perf_counter()
    config = artsound_pairing_config(
        embedder, pairing, approach, approaches, embedder_option,
        compare_methods=compare, knn_k=knn_k, candidates=candidates, min_similarity=min_similarity,
        val_size=val_size, seed=seed, embed_batch_size=batch_size, shard_size=shard_size,
    )
    summary = pair_artsound(dataset, config, _runner(runner, workers, dask_address))
    typer.echo(
        f"ArtSound pairs in {dataset} ({time.perf_counter() - started:.0f} s): {summary['pairs']} pairs {summary['splits']}, "
        f"{summary['unpaired_audio']} audio unpaired; report: {dataset / 'report.md'}"
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
