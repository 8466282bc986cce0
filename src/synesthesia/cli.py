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
annotate_app = typer.Typer(
    help=(
        "MPD annotation with Label Studio: export/push tasks, pull/import exports, run the annotation phases. "
        "The API key is read from LABEL_STUDIO_API_KEY only."
    ),
    no_args_is_help=True,
)
app.add_typer(annotate_app, name="annotate")


class Runner(str, Enum):
    local = "local"
    threads = "threads"
    dask = "dask"


class SplitMode(str, Enum):
    items = "items"
    pairs = "pairs"


class ClipFormat(str, Enum):
    flac = "flac"
    wav = "wav"


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
    raters: int = typer.Option(35, help="Size of the rater pool (MPD paper: 35)."),
    ratings_per_pair: int = typer.Option(5, help="Distinct raters asked per pair (paper: 5)."),
    preference_tasks: int = typer.Option(10_428, help="Target number of preference tasks (paper: 10,428; capped at what the ambiguous pairs allow)."),
    votes_per_task: int = typer.Option(3, help="Raters per preference task, and the votes a task needs before consensus (paper: at least 3)."),
    clip_format: ClipFormat = typer.Option(ClipFormat.flac, help="Format of the clips' listening copies for raters."),
):
    """MPD: ingest → 15 s clips → 128×469 mels → random pairs with leak-free splits,
    then the annotation phases as far as the data in OUT allows.

    Writes paintings.parquet, tracks.parquet, clips.parquet, mels/, pairs.parquet,
    quarantine.parquet, dataset.json and report.md into OUT; then (1) rating tasks
    (assignments.parquet, media/clips/, labelstudio/); with ratings.parquet (2) scores,
    agreement and preference tasks; with preference_votes.parquet (3) consensus
    preference_pairs.parquet, hf/ and the dataset card README.md. Says what it waits for.
    """
    from synesthesia.annotation.aggregate import AggregationConfig
    from synesthesia.annotation.preferences import ConsensusConfig
    from synesthesia.datasets.mpd import MPDConfig
    from synesthesia.datasets.mpd_annotation import MPDAnnotationConfig
    from synesthesia.flows.mpd import build_mpd

    started = time.perf_counter()
    annotation = MPDAnnotationConfig(
        rater_pool=raters,
        raters_per_pair=ratings_per_pair,
        raters_per_preference_task=votes_per_task,
        aggregation=AggregationConfig(),
        preference_tasks=preference_tasks,
        consensus=ConsensusConfig(min_votes=votes_per_task),
        clip_media_format=clip_format.value,
    )
    config = MPDConfig(n_pairs=pairs, seed=seed, split_mode=split_mode.value, annotation=annotation)
    summary = build_mpd(paintings, music, out, config, shard_size, _runner(runner, workers, dask_address))
    typer.echo(
        f"MPD built in {out} ({time.perf_counter() - started:.0f} s): {summary['pairs']['drawn']} pairs, "
        f"{summary['mels']} clips; report: {out / 'report.md'}"
    )
    typer.echo(f"Annotation: {summary['annotation']['status']['message']}")


# --- annotate ------------------------------------------------------------------------


class AnnotationKind(str, Enum):
    ratings = "ratings"
    preferences = "preferences"


class ProjectKind(str, Enum):
    ratings = "ratings"
    preferences = "preferences"
    clips_given_painting = "clips_given_painting"
    paintings_given_clip = "paintings_given_clip"


DATASET_HELP = "An MPD folder made by `synesthesia build mpd`."
ROOT_HELP = (
    "Media are referenced as Label Studio local files relative to this folder; it must equal the server's "
    "LOCAL_FILES_DOCUMENT_ROOT. Default: the deepest folder holding the paintings and the dataset."
)
PREFIX_HELP = "Reference media as URLs under this prefix instead (PREFIX/<path relative to --document-root>); the server must send Access-Control-Allow-Origin."
URL_HELP = "Label Studio URL (default: $LABEL_STUDIO_URL). The API key comes from $LABEL_STUDIO_API_KEY only."


def _links(dataset: Path, document_root: Optional[Path], url_prefix: Optional[str]):
    from synesthesia.annotation.labelstudio.tasks import MediaLinks
    from synesthesia.datasets.mpd_annotation import default_links

    root = document_root or default_links(dataset).document_root
    return MediaLinks(Path(root), url_prefix)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@annotate_app.command("export")
def annotate_export_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    kind: ProjectKind = typer.Option(..., help="ratings, preferences (both preference kinds) or one preference kind."),
    out: Path = typer.Option(..., help="Task JSON file to write; with --kind preferences, OUT's stem gets .clips_given_painting / .paintings_given_clip."),
    document_root: Optional[Path] = typer.Option(None, help=ROOT_HELP),
    url_prefix: Optional[str] = typer.Option(None, help=PREFIX_HELP),
):
    """Write Label Studio task JSON (task data carries our pair_id / task_id) and the project's labeling config (OUT with .xml)."""
    import json

    from synesthesia.annotation.labelstudio.configs import label_config
    from synesthesia.datasets.io import write_text
    from synesthesia.datasets.mpd_annotation import labelstudio_tasks

    try:
        projects = labelstudio_tasks(dataset, kind.value, _links(dataset, document_root, url_prefix))
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    for project_kind, tasks in projects.items():
        path = out if len(projects) == 1 else out.with_name(f"{out.stem}.{project_kind}{out.suffix or '.json'}")
        write_text(json.dumps(tasks, indent=1) + "\n", path)
        write_text(label_config(project_kind), path.with_suffix(".xml"))
        typer.echo(f"{len(tasks)} {project_kind} tasks -> {path} (labeling config: {path.with_suffix('.xml')})")


@annotate_app.command("config")
def annotate_config_cmd(kind: ProjectKind = typer.Option(..., help="ratings, clips_given_painting or paintings_given_clip.")):
    """Print a project's Label Studio labeling config (XML)."""
    from synesthesia.annotation.labelstudio.configs import label_config

    if kind == ProjectKind.preferences:
        _fail("name one preference kind: clips_given_painting or paintings_given_clip")
    typer.echo(label_config(kind.value))


@annotate_app.command("push")
def annotate_push_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    kind: AnnotationKind = typer.Option(..., help="ratings (one project) or preferences (one project per preference kind)."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
    document_root: Optional[Path] = typer.Option(None, help=ROOT_HELP),
    url_prefix: Optional[str] = typer.Option(None, help=PREFIX_HELP),
    project_id: Optional[int] = typer.Option(None, help="Push into this existing project (ratings, or with one preference kind only)."),
    title: Optional[str] = typer.Option(None, help="Project title (default: 'MPD <kind> (<dataset folder>)')."),
):
    """Create the Label Studio project(s) (or reuse the recorded ones) and import the tasks not there yet. Safe to repeat."""
    from synesthesia.annotation.labelstudio import client as C
    from synesthesia.annotation.labelstudio.configs import label_config
    from synesthesia.annotation.labelstudio.tasks import task_key
    from synesthesia.datasets.mpd_annotation import CLIP_MEDIA_DIR, PROJECTS, annotation_config, labelstudio_tasks
    from synesthesia.datasets.io import read_manifest

    try:
        links = _links(dataset, document_root, url_prefix)
        projects = labelstudio_tasks(dataset, kind.value, links)
        ls = C.connect(url)
        base = C.resolve_url(url)
        cfg, _ = annotation_config(dataset)
        folders = [Path(read_manifest(dataset)["media_roots"]["paintings"]), dataset / CLIP_MEDIA_DIR] if links.local_files else []
        for project_kind, tasks in projects.items():
            result = C.push(
                ls, base, project_kind, title or f"MPD {project_kind} ({Path(dataset).resolve().name})", label_config(project_kind),
                tasks, task_key(project_kind), dataset / PROJECTS, folders,
                project_id if len(projects) == 1 else None,
                cfg.raters_per_pair if project_kind == "ratings" else cfg.raters_per_preference_task,
            )
            typer.echo(
                f"{project_kind}: project {result['project_id']} ({'created' if result['created'] else 'reused'}); "
                f"{result['imported']} tasks imported, {result['already_there']} already there"
            )
    except (C.LabelStudioError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))


@annotate_app.command("pull")
def annotate_pull_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    kind: AnnotationKind = typer.Option(..., help="ratings or preferences (both preference projects)."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
    out: Optional[Path] = typer.Option(None, help="Where to save the export JSON (default: DATASET/labelstudio/exports/<kind>-<UTC time>.json)."),
    do_import: bool = typer.Option(True, "--import/--no-import", help="Import the export into the dataset right away."),
):
    """Download the full JSON export of the pushed project(s), save it, and import it."""
    from synesthesia.annotation.labelstudio import client as C
    from synesthesia.annotation.labelstudio.parse import ExportFormatError
    from synesthesia.datasets.io import write_text
    from synesthesia.datasets.mpd_annotation import LABELSTUDIO, PROJECTS, import_annotations
    from synesthesia.datasets.schema import PREFERENCE_KINDS

    kinds = ["ratings"] if kind == AnnotationKind.ratings else list(PREFERENCE_KINDS)
    recorded = C.load_projects(dataset / PROJECTS)
    try:
        ls = C.connect(url)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for project_kind in kinds:
            if project_kind not in recorded:
                _fail(f"no {project_kind} project recorded in {dataset / PROJECTS}: run `synesthesia annotate push` first")
            data = C.export_tasks(ls, int(recorded[project_kind]["project_id"]))
            path = out if (out and len(kinds) == 1) else (
                out.with_name(f"{out.stem}.{project_kind}{out.suffix or '.json'}") if out else dataset / LABELSTUDIO / "exports" / f"{project_kind}-{stamp}.json"
            )
            write_text(data.decode("utf-8"), path)
            typer.echo(f"{project_kind}: export saved to {path}")
            if do_import:
                _report_import(import_annotations(dataset, path))
    except (C.LabelStudioError, ExportFormatError) as exc:
        _fail(str(exc))


def _report_import(entry: dict) -> None:
    counts = dict(entry["counts"])
    head = f"{counts.pop('tasks', 0)} tasks, {counts.pop('annotations', 0)} annotations, {counts.pop('valid', 0)} valid"
    rest = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()) if v)
    typer.echo(f"imported {entry['kind']}: {head}" + (f"; not used: {rest}" if rest else "") + f"; {entry['rows_after']} rows now")


@annotate_app.command("import")
def annotate_import_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    export: Path = typer.Option(..., help="A Label Studio full JSON export (not JSON_MIN/CSV: they drop skipped annotations)."),
    kind: Optional[AnnotationKind] = typer.Option(None, help="ratings or preferences (default: detected from the task data)."),
):
    """Turn a Label Studio export into ratings.parquet or preference_votes.parquet (merged with earlier imports).

    Skipped, empty, out-of-range and unknown-task annotations, and older repeats by the same rater,
    are counted and kept with their reason in annotation_rejects.parquet. A malformed file stops
    with a message and writes nothing. Then run `synesthesia annotate run` to continue.
    """
    from synesthesia.annotation.labelstudio.parse import ExportFormatError
    from synesthesia.datasets.mpd_annotation import import_annotations

    try:
        entry = import_annotations(dataset, export, kind.value if kind else None)
    except ExportFormatError as exc:
        _fail(str(exc))
    _report_import(entry)
    typer.echo(f"next: synesthesia annotate run --dataset {dataset}")


@annotate_app.command("run")
def annotate_run_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    shard_size: int = typer.Option(200, help="Tracks per shard of the clip-media stage."),
    workers: int = typer.Option(2, help="Parallel workers."),
    runner: Runner = typer.Option(Runner.local, help=RUNNER_HELP),
):
    """Run the annotation phases as far as the data in DATASET allows (without re-running ingest), and say what is awaited."""
    from synesthesia.flows.mpd import annotate_mpd

    result = annotate_mpd(dataset, shard_size, _runner(runner, workers, None))
    typer.echo(f"Annotation: {result['status']['message']}")


@annotate_app.command("status")
def annotate_status_cmd(dataset: Path = typer.Option(..., help=DATASET_HELP)):
    """Say which annotation phase DATASET is in and what it waits for (reads only)."""
    from synesthesia.datasets.mpd_annotation import status

    st = status(dataset)
    typer.echo(f"{st['phase']}: {st['message']}")


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
    status = results.get("mpd", {}).get("annotation", {}).get("status")
    if status:
        typer.echo(f"  MPD annotation ({status['phase']}, simulated raters): {status['message']}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
