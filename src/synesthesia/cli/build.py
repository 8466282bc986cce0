"""``synesthesia build mpd | artsound | artsound-pairs | museart``.

Every build takes its inputs as ``--paintings`` and ``--music`` (``--music``
for the published Museart audio too) and writes ``--out``; the old
spellings (``--artworks``, ``--images``, ``--audio``, ``--dataset``,
``--split``) still work, hidden, for one release. An input is a selector
string, passed on unchanged: a folder or CSV, or a corpus reader's
``KIND:PATH[?option=value&...]`` (``wikiart:``, ``artgraph:``, ``fma:``,
``mtg-jamendo:``; :mod:`synesthesia.sources`, docs/sources.md).
"""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Optional, Tuple

import typer

from synesthesia.annotation.aggregate import AMBIGUITY_BAND
from synesthesia.annotation.agreement import DEFAULT_BOOTSTRAP
from synesthesia.annotation.assign import MPD_RATER_POOL, MPD_RATERS_PER_PAIR, MPD_RATERS_PER_PREFERENCE_TASK
from synesthesia.annotation.preferences import MPD_PREFERENCE_TASKS
from synesthesia.cli import checks
from synesthesia.cli.common import (
    ANNOTATION,
    DATASET,
    INPUTS,
    ALPHA_BACKGROUND,
    AlphaBackgroundOption,
    DaskAddressOption,
    RunnerOption,
    Runner,
    ShardSizeOption,
    WorkersOption,
    aliased,
    command,
    hidden_alias,
    start_run,
)
from synesthesia.cli.runconfig import ConfigOption, record_run_config
from synesthesia.recipes.museart.config import DEFAULT_GROUP_PATTERN, DEFAULT_MIN_AUDIO_SECONDS
from synesthesia.stages.pairing import MPD_DEFAULT_PAIRS

app = typer.Typer(help="Build a dataset folder from paintings and music (resumable: re-run to continue).", no_args_is_help=True)

SELECTOR_HELP = "Or a corpus as downloaded: KIND:PATH[?option=value&...], see docs/sources.md."
PAINTINGS_HELP = f"(required) Folder of paintings (sub-folders = style/genre) or a CSV with path,style,genre,artist,title,source,licence. {SELECTOR_HELP} E.g. 'wikiart:/data/wikiart?styles=mpd' (quoted: ? is a shell wildcard), artgraph:/data/artgraph."
MUSIC_HELP = f"(required) Folder of music tracks (sub-folder = genre) or a CSV with path,genre,source,licence. {SELECTOR_HELP} E.g. fma:/data/fma_large, mtg-jamendo:/data/mtg-jamendo."
OUT_HELP = "(required) Dataset folder to write (may exist: finished shards are reused)."


def inputs(paintings, music, out, *, artworks=None, images=None, audio=None) -> tuple[str, str, Path]:
    """The two input selectors and the output folder every build takes, from
    the current or the old spellings, checked (readable inputs, a writable
    output folder). The selectors stay strings (``KIND:PATH?…`` is not a
    path); the flows open them (:mod:`synesthesia.sources`)."""
    paths = (
        aliased(paintings, "--paintings", artworks=artworks, images=images),
        aliased(music, "--music", audio=audio),
        aliased(out, "--out"),
    )
    checks.source(paths[0], "--paintings", "image")
    checks.source(paths[1], "--music", "audio")
    checks.output_folder(paths[2], "--out")
    return paths


class SplitMode(str, Enum):
    items = "items"
    pairs = "pairs"


class ClipFormat(str, Enum):
    flac = "flac"
    wav = "wav"


@app.command("mpd")
@command()
def build_mpd_cmd(
    paintings: Optional[str] = typer.Option(None, help=PAINTINGS_HELP, rich_help_panel=INPUTS),
    music: Optional[str] = typer.Option(None, help=MUSIC_HELP, rich_help_panel=INPUTS),
    out: Optional[Path] = typer.Option(None, help=OUT_HELP, rich_help_panel=INPUTS),
    pairs: int = typer.Option(MPD_DEFAULT_PAIRS, help="Number of random (painting, clip) pairs, capped at what is possible.", rich_help_panel=DATASET),
    seed: int = typer.Option(0, help="Seed for splits and pairing.", rich_help_panel=DATASET),
    split_mode: SplitMode = typer.Option(SplitMode.items, help="'items': split paintings/tracks first, pair within splits (leak-free). 'pairs': pair-level split.", rich_help_panel=DATASET),
    raters: int = typer.Option(MPD_RATER_POOL, help=f"Size of the rater pool (MPD paper: {MPD_RATER_POOL}).", rich_help_panel=ANNOTATION),
    ratings_per_pair: int = typer.Option(MPD_RATERS_PER_PAIR, help=f"Distinct raters asked per pair (paper: {MPD_RATERS_PER_PAIR}).", rich_help_panel=ANNOTATION),
    ambiguity_band: Tuple[float, float] = typer.Option(
        AMBIGUITY_BAND, help=f"LO HI: pairs whose final score is in [LO, HI] (inclusive) get preference tasks (paper: {AMBIGUITY_BAND[0]} {AMBIGUITY_BAND[1]}).",
        rich_help_panel=ANNOTATION,
    ),
    bootstrap: int = typer.Option(DEFAULT_BOOTSTRAP, help="Bootstrap resamples of pairs for α's 95 % interval (0: no interval).", rich_help_panel=ANNOTATION),
    preference_tasks: int = typer.Option(
        MPD_PREFERENCE_TASKS, help=f"Target number of preference tasks (paper: {MPD_PREFERENCE_TASKS:,}; capped at what the ambiguous pairs allow).",
        rich_help_panel=ANNOTATION,
    ),
    votes_per_task: int = typer.Option(
        MPD_RATERS_PER_PREFERENCE_TASK,
        help=f"Raters per preference task, and the votes a task needs before consensus (paper: at least {MPD_RATERS_PER_PREFERENCE_TASK}).",
        rich_help_panel=ANNOTATION,
    ),
    clip_format: ClipFormat = typer.Option(ClipFormat.flac, help="Format of the clips' listening copies for raters.", rich_help_panel=ANNOTATION),
    alpha_background: AlphaBackgroundOption = ALPHA_BACKGROUND,
    exclude_flagged: bool = typer.Option(
        False, "--exclude-flagged/--include-flagged",
        help="Leave raters flagged by the quality-control rule out of scores, alpha and consensus (their ratings stay in ratings.parquet).",
        rich_help_panel=ANNOTATION,
    ),
    shard_size: ShardSizeOption = None,
    workers: WorkersOption = 2,
    runner: RunnerOption = Runner.local,
    dask_address: DaskAddressOption = None,
    config: ConfigOption = None,
    artworks: Optional[str] = hidden_alias("--artworks", "--paintings"),
    images: Optional[str] = hidden_alias("--images", "--paintings"),
    audio: Optional[str] = hidden_alias("--audio", "--music"),
):
    """MPD: ingest → 15 s clips → 128×469 mels → random pairs with leak-free splits,
    then the annotation phases as far as the data in OUT allows.

    Writes paintings.parquet, tracks.parquet, clips.parquet, mels/, pairs.parquet,
    quarantine.parquet, dataset.json and report.md into OUT; then (1) rating tasks
    (assignments.parquet, clips/, labelstudio/); with ratings.parquet (2) scores,
    agreement and preference tasks; with preference_votes.parquet (3) consensus
    preference_pairs.parquet, hf/ and the dataset card README.md. Says what it waits for.

    Example: synesthesia build mpd --paintings 'wikiart:/data/wikiart?styles=mpd' --music fma:/data/fma_large --out mpd/ --pairs 50000
    """
    paintings, music, out = inputs(paintings, music, out, artworks=artworks, images=images, audio=audio)
    started = time.perf_counter()
    from synesthesia.annotation.aggregate import AggregationConfig
    from synesthesia.annotation.preferences import ConsensusConfig
    from synesthesia.recipes import mpd

    annotation = mpd.MPDAnnotationConfig(
        rater_pool=raters,
        raters_per_pair=ratings_per_pair,
        raters_per_preference_task=votes_per_task,
        aggregation=AggregationConfig(band=tuple(ambiguity_band)),
        n_boot=bootstrap,
        preference_tasks=preference_tasks,
        consensus=ConsensusConfig(min_votes=votes_per_task),
        clip_media_format=clip_format.value,
        exclude_flagged=exclude_flagged,
    )
    build_config = mpd.MPDConfig(n_pairs=pairs, seed=seed, split_mode=split_mode.value, annotation=annotation, alpha_background=alpha_background)
    run = start_run(runner, workers, dask_address)
    from synesthesia.flows.mpd import build_mpd

    summary = build_mpd(paintings, music, out, build_config, shard_size or mpd.DEFAULT_SHARD_SIZE, run)
    record_run_config(out)
    typer.echo(
        f"MPD built in {out} (whole run {time.perf_counter() - started:.0f} s; audio pass {summary['audio_pass']['seconds']:.0f} s of "
        f"worker time): {summary['pairs']['drawn']} pairs, {summary['mels']} clips; report: {out / 'report.md'}"
    )
    typer.echo(f"Annotation: {summary['annotation']['status']['message']}")


class MuseartSplit(str, Enum):
    grouped = "grouped"
    paper = "paper"
    from_csv = "from-csv"


class ShortAudio(str, Enum):
    pad = "pad"
    drop = "drop"


@app.command("museart")
@command()
def build_museart_cmd(
    paintings: Optional[str] = typer.Option(None, help="(required) Folder of images: one sub-folder per category, or any tree of files named <id>.* with --csv-dir. Or a corpus KIND:PATH (no --csv-dir): its style is the category, see docs/sources.md.", rich_help_panel=INPUTS),
    music: Optional[str] = typer.Option(None, help="(required) Folder of audio files (30 s WAVs in the published Museart): one sub-folder per category, or any tree with --csv-dir. Or a corpus KIND:PATH (no --csv-dir): its genre is the category.", rich_help_panel=INPUTS),
    out: Optional[Path] = typer.Option(None, help=OUT_HELP, rich_help_panel=INPUTS),
    csv_dir: Optional[Path] = typer.Option(None, help="Folder with the published images.csv and audio.csv (id,class,set); files are matched by name. Without it, sub-folders are the categories.", rich_help_panel=INPUTS),
    split_mode: MuseartSplit = typer.Option(
        MuseartSplit.grouped,
        help="'grouped': 80/10/10 per category, no source track in two splits (default). 'paper': 80/10/10 per category at item level. 'from-csv': the published set column.",
        rich_help_panel=DATASET,
    ),
    seed: int = typer.Option(0, help="Seed for splits and pairing.", rich_help_panel=DATASET),
    group_pattern: str = typer.Option(DEFAULT_GROUP_PATTERN, help="Regex over an audio item's name; its first group is the source track (grouped split, leakage figures).", rich_help_panel=DATASET),
    short_audio: ShortAudio = typer.Option(ShortAudio.pad, help="Files under 30 s: 'pad' with silence (if at least --min-audio-seconds long) or 'drop' (quarantine).", rich_help_panel=DATASET),
    min_audio_seconds: float = typer.Option(DEFAULT_MIN_AUDIO_SECONDS, help="With --short-audio pad: shorter files are quarantined.", rich_help_panel=DATASET),
    alpha_background: AlphaBackgroundOption = ALPHA_BACKGROUND,
    shard_size: ShardSizeOption = None,
    workers: WorkersOption = 2,
    runner: RunnerOption = Runner.local,
    dask_address: DaskAddressOption = None,
    config: ConfigOption = None,
    images: Optional[str] = hidden_alias("--images", "--paintings"),
    audio: Optional[str] = hidden_alias("--audio", "--music"),
    split: Optional[MuseartSplit] = hidden_alias("--split", "--split-mode"),
):
    """Museart: ingest → 30 s 16 kHz mono clips → splits → one image of the same category and split per audio item.

    Writes images.parquet, audio.parquet, clips/, pairs.parquet, pairs/<split>/part-*.parquet,
    quarantine.parquet, dataset.json, report.md and a dataset card (README.md) into OUT.

    Example: synesthesia build museart --paintings museart/images --music museart/audio --csv-dir museart/ --out museart-built/
    """
    paintings, music, out = inputs(paintings, music, out, images=images, audio=audio)
    if csv_dir is not None:
        checks.source(csv_dir, "--csv-dir")
    mode = split or split_mode
    started = time.perf_counter()
    from synesthesia.recipes import museart

    build_config = museart.MuseartConfig(
        split=mode.value, seed=seed, group_pattern=group_pattern, short_audio=short_audio.value, min_audio_seconds=min_audio_seconds,
        alpha_background=alpha_background,
    )
    run = start_run(runner, workers, dask_address)
    from synesthesia.flows.museart import build_museart

    summary = build_museart(paintings, music, out, build_config, csv_dir, shard_size or museart.DEFAULT_SHARD_SIZE, run)
    record_run_config(out)
    sizes = " / ".join(f"{s} {n}" for s, n in summary["split_sizes"].items())
    leak = summary["leakage"][build_config.split]
    typer.echo(
        f"Museart built in {out} (whole run {time.perf_counter() - started:.0f} s): pairs {sizes}; "
        f"{leak['leaked']} of {leak['groups']} source tracks in more than one split; report: {out / 'report.md'}"
    )

