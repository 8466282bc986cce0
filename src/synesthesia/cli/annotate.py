"""``synesthesia annotate export | config | push | pull | import | run | status``
(and ``serve``, in :mod:`synesthesia.cli.annotate_serve`): the MPD annotation
campaign with Label Studio."""

from __future__ import annotations

import json
import os
import time
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from synesthesia.cli import checks
from synesthesia.cli.common import DaskAddressOption, Runner, RunnerOption, ShardSizeOption, WorkersOption, command, fail, start_run, writes
from synesthesia.cli.runconfig import ConfigOption

app = typer.Typer(
    help=(
        "MPD annotation with Label Studio: serve a campaign, export/push tasks, pull/import exports, run the annotation phases. "
        "The API key is read from LABEL_STUDIO_API_KEY (or, for `annotate serve`'s own server, from its user-only credentials file)."
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
    "LOCAL_FILES_DOCUMENT_ROOT and contain DATASET/labelstudio/media. Default: DATASET/labelstudio/media itself "
    "(links to the dataset's paintings and listening copies, nothing else)."
)
PREFIX_HELP = "Reference media as URLs under this prefix instead (PREFIX/<path relative to --document-root>); the server must send Access-Control-Allow-Origin."
URL_HELP = (
    "Label Studio URL (default: $LABEL_STUDIO_URL, else the server `annotate serve` runs for DATASET). "
    "The API key comes from $LABEL_STUDIO_API_KEY (or that server's user-only credentials file)."
)
RATERS_HELP = "CSV of the raters (an email column, optional name), one per planned rater, in order; accounts are created for them."
GOLD_HELP = "CSV of gold items mixed into every queue: kind,painting_id,clip_id,score,query_id,better_id,worse_id (see docs/annotation.md)."
GOLD_SHARE_HELP = "Share of a rater's planned tasks added as gold checks (default: the folder's config, 0.05)."
REPEAT_SHARE_HELP = "Share of a rater's planned tasks shown a second time, half a queue later (default: the folder's config, 0.05)."


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
    checks.dataset_folder(dataset, "mpd")
    checks.output_file(out, "--out")
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
@writes("dataset", "annotate push", kind="mpd")
def annotate_push_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    kind: Optional[AnnotationKind] = typer.Option(
        None, help="ratings (one shared project) or preferences (one per preference kind); not needed for a campaign (per-rater projects)."
    ),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
    raters_file: Optional[Path] = typer.Option(None, help=RATERS_HELP),
    gold: Optional[Path] = typer.Option(None, help=GOLD_HELP),
    gold_share: Optional[float] = typer.Option(None, help=GOLD_SHARE_HELP),
    repeat_share: Optional[float] = typer.Option(None, help=REPEAT_SHARE_HELP),
    document_root: Optional[Path] = typer.Option(None, help=ROOT_HELP),
    url_prefix: Optional[str] = typer.Option(None, help=PREFIX_HELP),
    project_id: Optional[int] = typer.Option(None, help="Push into this existing project (ratings, or with one preference kind only)."),
    title: Optional[str] = typer.Option(None, help="Project title (default: 'MPD <kind> (<dataset folder>)')."),
):
    """Create the Label Studio project(s) (or reuse the recorded ones) and import the tasks not there yet. Safe to repeat.

    With --raters-file (or on the Label Studio that `annotate serve` runs): a campaign, one project per rater and kind
    holding that rater's queue with gold and repeat checks, for every phase the folder has reached.

    Example: LABEL_STUDIO_URL=http://localhost:8080 synesthesia annotate push --dataset mpd/ --kind ratings
    """
    checks.dataset_folder(dataset, "mpd")
    from synesthesia.annotation.labelstudio import client as C
    from synesthesia.annotation.labelstudio.configs import label_config
    from synesthesia.annotation.labelstudio.tasks import task_key
    from synesthesia.recipes.mpd import PROJECTS, annotation_config, labelstudio_tasks, storage_folders
    from synesthesia.recipes.mpd import server as MS

    links = _links(dataset, document_root, url_prefix)
    ls, base = MS.connect_for(dataset, url)
    served = MS.campaign_state(dataset) if not (url or os.environ.get(C.URL_ENV)) else None
    if raters_file or served:
        _campaign(dataset, ls, base, served, raters_file, gold, gold_share, repeat_share, links)
        return
    if kind is None:
        fail("--kind is needed for a shared project (or give --raters-file for a campaign of per-rater projects)")
    projects = labelstudio_tasks(dataset, kind.value, links)
    cfg, _ = annotation_config(dataset)
    folders = storage_folders(dataset) if links.local_files else []
    for project_kind, tasks in projects.items():
        result = C.push(
            ls, base, project_kind, title or f"MPD {project_kind} ({Path(dataset).resolve().name})", label_config(project_kind),
            tasks, task_key(project_kind), dataset / PROJECTS, folders,
            project_id if len(projects) == 1 else None,
            cfg.raters_per_pair if project_kind == "ratings" else cfg.raters_per_preference_task,
            settings={"enable_empty_annotation": False},  # Submit stays disabled until the page is answered
        )
        typer.echo(
            f"{project_kind}: project {result['project_id']} ({'created' if result['created'] else 'reused'}); "
            f"{result['imported']} tasks imported, {result['already_there']} already there"
        )


def _campaign(dataset: Path, ls, base: str, served: Optional[dict], raters_file, gold, gold_share, repeat_share, links=None, create=None) -> dict:
    """Accounts, queues and per-rater projects (annotate serve, push --raters-file, run)."""
    from synesthesia.annotation.labelstudio.accounts import read_raters_csv
    from synesthesia.recipes.mpd import annotation_config, import_gold, roster_for, setup_campaign
    from synesthesia.recipes.mpd import server as MS

    cfg, _ = annotation_config(dataset)
    if gold:
        table = import_gold(dataset, gold)
        typer.echo(f"gold: {table.num_rows} items from {gold}")
    people = read_raters_csv(raters_file) if raters_file else None
    if served and served.get("raters"):
        roster = [{k: r[k] for k in ("rater_id", "email", "name") if k in r} for r in served["raters"]]
        if people is not None and [p["email"].lower() for p in people] != [r["email"].lower() for r in roster]:
            fail("this campaign already has its raters; a different --raters-file would reassign their queues (start a new server folder with --server-dir to change them)")
    else:
        roster = roster_for(dataset, people)
    result = setup_campaign(
        dataset, ls, base, roster,
        cfg.qc.gold_share if gold_share is None else gold_share, cfg.qc.repeat_share if repeat_share is None else repeat_share,
        links, say=typer.echo, create_accounts=create,
    )
    if served is not None:
        known = {r["email"].lower(): r for r in served.get("raters", [])}
        served["raters"] = [
            {**p, **{k: v for k, v in a.items() if v is not None}, "password": a["password"] or known.get(a["email"].lower(), {}).get("password")}
            for p, a in zip(roster, result["accounts"])
        ]
        MS.save_state(dataset, Path(MS.pointer(dataset)["server_dir"]), served)
    else:
        made = [a for a in result["accounts"] if a["password"]]
        for a in made:
            typer.echo(f"  new account {a['email']} ({a['rater_id']}): password {a['password']}  (shown once)")
    return result


@app.command("pull")
@command()
@writes("dataset", "annotate pull", kind="mpd")
def annotate_pull_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    kind: Optional[AnnotationKind] = typer.Option(None, help="ratings or preferences (default: every kind with a recorded project)."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
    out: Optional[Path] = typer.Option(None, help="Where to save the export JSON (default: DATASET/labelstudio/exports/<kind>-<UTC time>.json)."),
    do_import: bool = typer.Option(True, "--import/--no-import", help="Import the export into the dataset right away."),
):
    """Download the full JSON export of the pushed project(s) (a campaign's per-rater projects together), save it, and import it.

    Example: synesthesia annotate pull --dataset mpd/
    """
    checks.dataset_folder(dataset, "mpd")
    if out is not None:
        checks.output_file(out, "--out")
    from synesthesia.annotation.labelstudio import client as C
    from synesthesia.annotation.labelstudio.configs import PROJECT_KINDS
    from synesthesia.datasets.io import write_text
    from synesthesia.datasets.schema import PREFERENCE_KINDS
    from synesthesia.recipes.mpd import LABELSTUDIO, PROJECTS, import_annotations
    from synesthesia.recipes.mpd import server as MS

    ls, base = MS.connect_for(dataset, url)
    kinds = list(PROJECT_KINDS) if kind is None else ["ratings"] if kind == AnnotationKind.ratings else list(PREFERENCE_KINDS)
    found = {k: C.projects_of(dataset / PROJECTS, k, base) for k in kinds}
    found = {k: v for k, v in found.items() if v}
    if not found:
        fail(f"no {kind.value if kind else ''} project recorded for {base} in {dataset / PROJECTS}: run `synesthesia annotate push` (or serve) first")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for project_kind, projects in found.items():
        tasks = []
        for entry in projects.values():
            tasks.extend(json.loads(C.export_tasks(ls, int(entry["project_id"])) or b"[]"))
        path = _sibling(out, project_kind, len(found) > 1) if out else dataset / LABELSTUDIO / "exports" / f"{project_kind}-{stamp}.json"
        write_text(json.dumps(tasks) + "\n", path)
        typer.echo(f"{project_kind}: export of {len(projects)} project(s) saved to {path}")
        if do_import and tasks:
            _report_import(import_annotations(dataset, path))


def _report_import(entry: dict) -> None:
    counts = dict(entry["counts"])
    head = f"{counts.pop('tasks', 0)} tasks, {counts.pop('annotations', 0)} annotations, {counts.pop('valid', 0)} valid"
    if counts.get("checks"):
        head += f", {counts.pop('checks')} answers to gold/repeat checks (qc_answers.parquet)"
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
    checks.dataset_folder(dataset, "mpd")
    checks.input_file(export, "--export")
    from synesthesia.recipes.mpd import import_annotations

    _report_import(import_annotations(dataset, export, kind.value if kind else None))
    typer.echo(f"next: synesthesia annotate run --dataset {dataset}")


@app.command("run")
@command()
def annotate_run_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    exclude_flagged: Optional[bool] = typer.Option(
        None, "--exclude-flagged/--include-flagged",
        help="Leave the raters the quality-control rule flags out of scores, alpha and consensus (or take them back); "
        "recorded in dataset.json for later runs. Default: as recorded (included).",
    ),
    shard_size: ShardSizeOption = None,
    workers: WorkersOption = 2,
    runner: RunnerOption = Runner.local,
    dask_address: DaskAddressOption = None,
    config: ConfigOption = None,
):
    """Run the annotation phases as far as the data in DATASET allows (without re-running ingest), and say what is awaited.

    On a folder that `annotate serve` serves, the tasks of a phase just reached are pushed to the raters' projects.

    Example: synesthesia annotate run --dataset mpd/ --exclude-flagged
    """
    checks.dataset_folder(dataset, "mpd")
    checks.output_folder(dataset, "--dataset")
    run = start_run(runner, workers, dask_address)
    from synesthesia.annotation.labelstudio import client as C
    from synesthesia.flows.mpd import annotate_mpd
    from synesthesia.recipes.mpd import DEFAULT_SHARD_SIZE, set_exclude_flagged
    from synesthesia.recipes.mpd import server as MS

    if exclude_flagged is not None:
        set_exclude_flagged(dataset, exclude_flagged)
    result = annotate_mpd(dataset, shard_size or DEFAULT_SHARD_SIZE, run)
    typer.echo(f"Annotation: {result['status']['message']}")
    served = None if os.environ.get(C.URL_ENV) else MS.campaign_state(dataset)
    if served:
        if MS.answers(served["url"]):
            _campaign(dataset, C.connect(served["url"], key=served["admin"]["token"]), served["url"], served, None, None, None, None)
        else:
            typer.echo(f"Label Studio at {served['url']} is not running: `synesthesia annotate serve --dataset {dataset}` pushes the new tasks when it starts")


@app.command("status")
@command()
def annotate_status_cmd(
    dataset: Path = typer.Option(..., help=DATASET_HELP),
    live: bool = typer.Option(False, "--live", help="Also read the campaign's progress from Label Studio: per phase and rater, done / assigned, skipped, median seconds per task, flags."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
):
    """Say which annotation phase DATASET is in and what it waits for (reads only).

    Example: synesthesia annotate status --dataset mpd/ --live
    """
    checks.dataset_folder(dataset, "mpd")
    from synesthesia.recipes.mpd import require_mpd_folder, status

    st = status(require_mpd_folder(dataset))  # and its build has finished (pairs.parquet)
    typer.echo(f"{st['phase']}: {st['message']}")
    if live:
        from synesthesia.recipes.mpd import server as MS
        from synesthesia.recipes.mpd.live import format_live, live_status

        ls, base = MS.connect_for(dataset, url)
        served = MS.campaign_state(dataset) if base == (MS.pointer(dataset) or {}).get("url") else None
        emails = {r["user_id"]: r["email"] for r in (served or {}).get("raters", []) if r.get("user_id") is not None}
        typer.echo(format_live(live_status(dataset, ls, base, emails)))
