"""``synesthesia annotate export | config | push | pull | import | run | status``:
the MPD annotation campaign with Label Studio."""

from __future__ import annotations

import json
import time
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from synesthesia.cli.common import EXECUTION, Runner, RunnerOption, WorkersOption, command, fail, runner_config, writes

app = typer.Typer(
    help=(
        "MPD annotation with Label Studio: export/push tasks, pull/import exports, run the annotation phases. "
        "The API key is read from LABEL_STUDIO_API_KEY only."
    ),
    no_args_is_help=True,
)


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
    from synesthesia.recipes.mpd import default_links

    root = document_root or default_links(dataset).document_root
    return MediaLinks(Path(root), url_prefix)


def _sibling(out: Path, project_kind: str, several: bool) -> Path:
    """OUT itself, or OUT with the project kind before its suffix when one command writes several projects."""
    return out.with_name(f"{out.stem}.{project_kind}{out.suffix or '.json'}") if several else out


@app.command("export")
@command()
def annotate_export_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    kind: ProjectKind = typer.Option(..., help="ratings, preferences (both preference kinds) or one preference kind."),
    out: Path = typer.Option(..., help="Task JSON file to write; with --kind preferences, OUT's stem gets .clips_given_painting / .paintings_given_clip."),
    document_root: Optional[Path] = typer.Option(None, help=ROOT_HELP),
    url_prefix: Optional[str] = typer.Option(None, help=PREFIX_HELP),
):
    """Write Label Studio task JSON (task data carries our pair_id / task_id) and the project's labeling config (OUT with .xml).

    Example: synesthesia annotate export --dataset mpd/ --kind ratings --out ratings.json
    """
    from synesthesia.annotation.labelstudio.configs import label_config
    from synesthesia.datasets.io import write_text
    from synesthesia.recipes.mpd import labelstudio_tasks

    projects = labelstudio_tasks(dataset, kind.value, _links(dataset, document_root, url_prefix))
    for project_kind, tasks in projects.items():
        path = _sibling(out, project_kind, len(projects) > 1)
        write_text(json.dumps(tasks, indent=1) + "\n", path)
        write_text(label_config(project_kind), path.with_suffix(".xml"))
        typer.echo(f"{len(tasks)} {project_kind} tasks -> {path} (labeling config: {path.with_suffix('.xml')})")


@app.command("config")
@command()
def annotate_config_cmd(kind: ProjectKind = typer.Option(..., help="ratings, clips_given_painting or paintings_given_clip.")):
    """Print a project's Label Studio labeling config (XML).

    Example: synesthesia annotate config --kind ratings > ratings.xml
    """
    from synesthesia.annotation.labelstudio.configs import label_config

    if kind == ProjectKind.preferences:
        fail("name one preference kind: clips_given_painting or paintings_given_clip")
    typer.echo(label_config(kind.value))


@app.command("push")
@command()
@writes("dataset", "annotate push")
def annotate_push_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    kind: AnnotationKind = typer.Option(..., help="ratings (one project) or preferences (one project per preference kind)."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
    document_root: Optional[Path] = typer.Option(None, help=ROOT_HELP),
    url_prefix: Optional[str] = typer.Option(None, help=PREFIX_HELP),
    project_id: Optional[int] = typer.Option(None, help="Push into this existing project (ratings, or with one preference kind only)."),
    title: Optional[str] = typer.Option(None, help="Project title (default: 'MPD <kind> (<dataset folder>)')."),
):
    """Create the Label Studio project(s) (or reuse the recorded ones) and import the tasks not there yet. Safe to repeat.

    Example: LABEL_STUDIO_URL=http://localhost:8080 synesthesia annotate push --dataset mpd/ --kind ratings
    """
    from synesthesia.annotation.labelstudio import client as C
    from synesthesia.annotation.labelstudio.configs import label_config
    from synesthesia.annotation.labelstudio.tasks import task_key
    from synesthesia.recipes.mpd import PROJECTS, annotation_config, labelstudio_tasks, media_folders

    links = _links(dataset, document_root, url_prefix)
    projects = labelstudio_tasks(dataset, kind.value, links)
    ls = C.connect(url)
    base = C.resolve_url(url)
    cfg, _ = annotation_config(dataset)
    folders = media_folders(dataset) if links.local_files else []
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


@app.command("pull")
@command()
@writes("dataset", "annotate pull")
def annotate_pull_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    kind: AnnotationKind = typer.Option(..., help="ratings or preferences (both preference projects)."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
    out: Optional[Path] = typer.Option(None, help="Where to save the export JSON (default: DATASET/labelstudio/exports/<kind>-<UTC time>.json)."),
    do_import: bool = typer.Option(True, "--import/--no-import", help="Import the export into the dataset right away."),
):
    """Download the full JSON export of the pushed project(s), save it, and import it.

    Example: synesthesia annotate pull --dataset mpd/ --kind ratings
    """
    from synesthesia.annotation.labelstudio import client as C
    from synesthesia.datasets.io import write_text
    from synesthesia.datasets.schema import PREFERENCE_KINDS
    from synesthesia.recipes.mpd import LABELSTUDIO, PROJECTS, import_annotations

    kinds = ["ratings"] if kind == AnnotationKind.ratings else list(PREFERENCE_KINDS)
    recorded = C.load_projects(dataset / PROJECTS)
    ls = C.connect(url)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for project_kind in kinds:
        if project_kind not in recorded:
            fail(f"no {project_kind} project recorded in {dataset / PROJECTS}: run `synesthesia annotate push` first")
        data = C.export_tasks(ls, int(recorded[project_kind]["project_id"]))
        path = _sibling(out, project_kind, len(kinds) > 1) if out else dataset / LABELSTUDIO / "exports" / f"{project_kind}-{stamp}.json"
        write_text(data.decode("utf-8"), path)
        typer.echo(f"{project_kind}: export saved to {path}")
        if do_import:
            _report_import(import_annotations(dataset, path))


def _report_import(entry: dict) -> None:
    counts = dict(entry["counts"])
    head = f"{counts.pop('tasks', 0)} tasks, {counts.pop('annotations', 0)} annotations, {counts.pop('valid', 0)} valid"
    rest = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()) if v)
    typer.echo(f"imported {entry['kind']}: {head}" + (f"; not used: {rest}" if rest else "") + f"; {entry['rows_after']} rows now")


@app.command("import")
@command()
def annotate_import_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    export: Path = typer.Option(..., help="A Label Studio full JSON export (not JSON_MIN/CSV: they drop skipped annotations)."),
    kind: Optional[AnnotationKind] = typer.Option(None, help="ratings or preferences (default: detected from the task data)."),
):
    """Turn a Label Studio export into ratings.parquet or preference_votes.parquet (merged with earlier imports).

    Skipped, empty, out-of-range and unknown-task annotations, and older repeats by the same rater,
    are counted and kept with their reason in annotation_rejects.parquet. A malformed file stops
    with a message and writes nothing. Then run `synesthesia annotate run` to continue.

    Example: synesthesia annotate import --dataset mpd/ --export project-1-at-2026-12-01.json
    """
    from synesthesia.recipes.mpd import import_annotations

    _report_import(import_annotations(dataset, export, kind.value if kind else None))
    typer.echo(f"next: synesthesia annotate run --dataset {dataset}")


@app.command("run")
@command()
def annotate_run_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    shard_size: int = typer.Option(200, help="Tracks per shard of the clip-media stage.", rich_help_panel=EXECUTION),
    workers: WorkersOption = 2,
    runner: RunnerOption = Runner.local,
):
    """Run the annotation phases as far as the data in DATASET allows (without re-running ingest), and say what is awaited.

    Example: synesthesia annotate run --dataset mpd/
    """
    from synesthesia.flows.mpd import annotate_mpd

    result = annotate_mpd(dataset, shard_size, runner_config(runner, workers, None))
    typer.echo(f"Annotation: {result['status']['message']}")


@app.command("status")
@command()
def annotate_status_cmd(dataset: Path = typer.Option(..., help=DATASET_HELP)):
    """Say which annotation phase DATASET is in and what it waits for (reads only).

    Example: synesthesia annotate status --dataset mpd/
    """
    from synesthesia.recipes.mpd import status

    st = status(dataset)
    typer.echo(f"{st['phase']}: {st['message']}")
