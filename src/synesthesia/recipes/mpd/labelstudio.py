"""MPD ↔ Label Studio: task JSON and labeling configs for a folder, and the
import of full JSON exports into ``ratings.parquet`` / ``preference_votes.parquet``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from synesthesia.annotation.labelstudio import merge as LM
from synesthesia.annotation.labelstudio import parse as LP
from synesthesia.annotation.labelstudio.configs import RATINGS, label_config
from synesthesia.annotation.labelstudio.tasks import MediaLinks, preference_tasks, rating_tasks
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import stable_hash
from synesthesia.datasets.locks import writer_lock
from synesthesia.datasets.media import build_alpha_background, open_rgb
from synesthesia.recipes.mpd.config import (
    ASSIGNMENTS,
    CLIP_MEDIA,
    CLIP_MEDIA_DIR,
    IMPORT_LOG,
    LABELSTUDIO,
    PREFERENCE_ASSIGNMENTS,
    PREFERENCE_TASKS_FILE,
    PREFERENCE_VOTES,
    QC_ANSWERS,
    QC_TASKS,
    RATINGS_FILE,
    REJECTS,
    SERVED_MEDIA,
    read_optional,
    require_mpd_folder,
)

#: The two sub-folders of the served media folder (each a Label Studio Local Files storage).
SERVED_PAINTINGS, SERVED_CLIPS = "paintings", "clips"


def _serve(source: Path, target: Path) -> None:
    """``target`` becomes ``source``'s content: a hard link when both are on
    one file system (no copy), else a copy; written under a temp name and
    renamed, so a kill never leaves half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.serve.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, target)


def _up_to_date(source: Path, target: Path) -> bool:
    if target.is_symlink() or not target.is_file():
        return False
    have, src = target.stat(), source.stat()
    return os.path.samefile(source, target) or (have.st_size, have.st_mtime_ns) == (src.st_size, src.st_mtime_ns)


def served_painting(rel: str, has_alpha: bool, sha256: str, background: str) -> Path:
    """Where a painting lives below ``paintings/`` of the served folder: at its
    own relative path, or, with transparent pixels, as
    ``<path without suffix>.<key>.png`` (its composite, named by its content and
    the background, so a new background makes a new file)."""
    rel = Path(rel)
    return rel.with_name(f"{rel.stem}.{stable_hash(sha256, background, length=8)}.png") if has_alpha else rel


def served_media(out: str | os.PathLike) -> Path:
    """``DIR/labelstudio/media``, the one folder Label Studio serves (its
    document root), made or brought up to date here: ``paintings/<path>`` is
    each painting of ``paintings.parquet`` as a real file inside the dataset
    (a hard link, or a copy across file systems; never a link out of it, so
    nothing outside the dataset is served even if Label Studio resolves
    paths), its source resolved (a symlinked corpus serves the real file)
    and confined to the paintings root ingest read it from; ``clips`` a
    relative link to the listening copies ``DIR/clips``. A painting with
    transparent pixels is served as a PNG composited onto the build's alpha
    background (:func:`~synesthesia.datasets.media.open_rgb`, the picture the
    model's reader gives; :func:`served_painting` names it), so raters and the
    model judge the same image. Files of paintings no longer in the table are
    removed. The single place that decides what Label Studio may serve."""
    out = Path(out)
    root = out / SERVED_MEDIA
    manifest = dio.read_manifest(out)
    paintings_root = Path(manifest["media_roots"]["paintings"]).resolve()
    background = build_alpha_background(manifest)
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS, columns=["path", "sha256", "has_alpha"])
    folder = root / SERVED_PAINTINGS
    folder.mkdir(parents=True, exist_ok=True)
    wanted, composites = set(), []
    for rel, sha, alpha in zip(*(paintings.column(c).to_pylist() for c in ("path", "sha256", "has_alpha"))):
        served = served_painting(rel, bool(alpha), sha, background)
        wanted.add(served)
        target, source = folder / served, (paintings_root / rel).resolve()
        if not source.is_relative_to(paintings_root):
            raise ValueError(f"{paintings_root / rel}: resolves outside the paintings root ({source}); it is not served")
        if alpha:
            if target.is_symlink() or not target.is_file():
                target.unlink(missing_ok=True)
                composites.append((source, target))
        elif not _up_to_date(source, target):
            if target.is_symlink():
                target.unlink()
            _serve(source, target)
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # Pillow decodes and encodes without the GIL
        list(pool.map(lambda job: write_composite(*job, background), composites))
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            if path.relative_to(folder) not in wanted:
                path.unlink()
    clips, target = root / SERVED_CLIPS, Path("..") / ".." / CLIP_MEDIA_DIR  # relative: the dataset folder may move
    if not (clips.is_symlink() and os.readlink(clips) == str(target)):
        if clips.is_dir() and not clips.is_symlink():
            shutil.rmtree(clips)  # a copy made by a copy of the folder that followed the link: ours to replace
        elif clips.is_symlink() or clips.exists():
            clips.unlink()
        clips.symlink_to(target, target_is_directory=True)
    return root


def write_composite(source: Path, target: Path, background: str) -> None:
    """A transparent painting's served copy: composited onto ``background``,
    as PNG at zlib level 1 (4x faster to write than Pillow's default level 6
    on multi-megapixel paintings, ~13 % larger; at the paper's scale the
    ~420 transparent paintings took 3 of the build's 10 minutes at level 6)."""
    with dio.atomic_output(target) as tmp:
        open_rgb(source, background=background).save(tmp, format="PNG", compress_level=1)


def media_files(out: str | os.PathLike) -> tuple[dict[str, Path], dict[str, Path]]:
    """Every painting and every clip's listening copy, as paths inside the
    served media folder (:func:`served_media`)."""
    out = Path(out)
    root = served_media(out)
    manifest = dio.read_manifest(out)
    background = build_alpha_background(manifest)
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS, columns=["painting_id", "path", "sha256", "has_alpha"])
    p_files = {
        pid: root / SERVED_PAINTINGS / served_painting(rel, bool(alpha), sha, background)
        for pid, rel, sha, alpha in zip(*(paintings.column(c).to_pylist() for c in ("painting_id", "path", "sha256", "has_alpha")))
    }
    media = read_optional(out, CLIP_MEDIA, S.CLIP_FILES)
    if media is None:
        raise FileNotFoundError(f"{out}: no {CLIP_MEDIA}; run `synesthesia build mpd` (phase 1 writes the clips' listening copies)")
    c_files = {cid: root / SERVED_CLIPS / path for cid, path in zip(media["clip_id"].to_pylist(), media["path"].to_pylist())}
    return p_files, c_files


def storage_folders(out: str | os.PathLike) -> list[Path]:
    """The Local Files storages a project needs: the two served sub-folders."""
    root = Path(out) / SERVED_MEDIA
    return [root / SERVED_PAINTINGS, root / SERVED_CLIPS]


def default_links(out: str | os.PathLike) -> MediaLinks:
    """Local-files links relative to the served media folder (Label Studio's
    LOCAL_FILES_DOCUMENT_ROOT must be that folder)."""
    return MediaLinks(Path(os.path.abspath(Path(out) / SERVED_MEDIA)))


def _raters_by(table: pa.Table | None, key: str) -> dict[str, list[str]]:
    if table is None:
        return {}
    out: dict[str, list[str]] = {}
    for item, rater in zip(table.column(key).to_pylist(), table.column("rater_id").to_pylist()):
        out.setdefault(item, []).append(rater)
    return out


def labelstudio_tasks(out: str | os.PathLike, kind: str, links: MediaLinks | None = None) -> dict[str, list[dict]]:
    """Label Studio task JSON per project kind: ``kind`` ``ratings`` → one
    project; ``preferences`` → one per preference kind (or name one kind).
    A folder that is not a built MPD folder raises :class:`NotAnMPDFolder`."""
    out = require_mpd_folder(out)
    links = links or default_links(out)
    p_files, c_files = media_files(out)
    if kind == RATINGS:
        pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS)
        return {RATINGS: rating_tasks(pairs, p_files, c_files, links, _raters_by(read_optional(out, ASSIGNMENTS, S.MPD_ASSIGNMENTS), "pair_id"))}
    kinds = S.PREFERENCE_KINDS if kind == LP.PREFERENCES else (kind,)
    if any(k not in S.PREFERENCE_KINDS for k in kinds):
        raise ValueError(f"unknown kind {kind!r}; choose ratings, preferences or one of {S.PREFERENCE_KINDS}")
    tasks = read_optional(out, PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    if tasks is None:
        raise FileNotFoundError(f"{out}: no {PREFERENCE_TASKS_FILE} yet; import ratings and run `synesthesia annotate run` first")
    raters = _raters_by(read_optional(out, PREFERENCE_ASSIGNMENTS, S.MPD_PREFERENCE_ASSIGNMENTS), "task_id")
    return {k: preference_tasks(k, tasks, p_files, c_files, links, raters) for k in kinds}


def write_labelstudio_files(out: str | os.PathLike, kind: str, links: MediaLinks | None = None) -> list[Path]:
    """``labelstudio/<project kind>.tasks.json`` and ``<project kind>.xml`` for
    ``kind`` (``ratings`` or ``preferences``)."""
    out = Path(out)
    written = []
    for project_kind, tasks in labelstudio_tasks(out, kind, links).items():
        written.append(dio.write_text(json.dumps(tasks, indent=1) + "\n", out / LABELSTUDIO / f"{project_kind}.tasks.json"))
        written.append(dio.write_text(label_config(project_kind), out / LABELSTUDIO / f"{project_kind}.xml"))
    return written


def import_annotations(out: str | os.PathLike, export: str | os.PathLike, kind: str | None = None) -> dict:
    """Turn a Label Studio full JSON export into rows of ``ratings.parquet`` or
    ``preference_votes.parquet`` (merged with earlier imports), with the
    unusable annotations in ``annotation_rejects.parquet``.

    A malformed file, or one none of whose tasks is this dataset's, raises
    :class:`~synesthesia.annotation.labelstudio.parse.ExportFormatError`
    before anything is written. Holds the folder's writer lock: two imports
    at once cannot lose each other's rows."""
    out = Path(out)
    not_mpd = f"{out}: not a built MPD folder (no pairs.parquet); build it with `synesthesia build mpd` first"
    if not out.is_dir():
        raise FileNotFoundError(not_mpd)
    with writer_lock(out, "annotate import"):  # first: a folder being built says so
        if not (out / "pairs.parquet").is_file():
            raise FileNotFoundError(not_mpd)
        return _import(out, Path(export), kind)


def _import(out: Path, export: Path, kind: str | None) -> dict:
    tasks = LP.read_export(export)
    detected = LP.detect_kind(tasks, export)  # refuses an export with no tasks, or none of ours
    if kind is not None:
        wanted = LP.PREFERENCES if kind in S.PREFERENCE_KINDS else kind
        if wanted != detected:
            field = "pair_id" if detected == RATINGS else "task_id"
            raise LP.ExportFormatError(f"{export}: --kind {kind} was given, but its tasks are {detected} tasks ({field} in the task data)")
    kind = detected
    if kind == LP.PREFERENCES and not (out / PREFERENCE_TASKS_FILE).exists():
        raise LP.ExportFormatError(f"{export}: {out} has no {PREFERENCE_TASKS_FILE} yet, so preference votes cannot be matched")
    known = known_items(out, kind)
    target, schema, key = (RATINGS_FILE, S.MPD_RATINGS, "pair_id") if kind == RATINGS else (PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES, "task_id")
    parsed = LP.parse_export(tasks, kind, known, export.name, checks=check_tasks(out, kind))
    if not parsed.known_tasks:
        what = "pair ids" if kind == RATINGS else "preference task ids"
        raise LP.ExportFormatError(
            f"{export}: none of its {parsed.counts.get('tasks', 0)} tasks has one of {out}'s {what}: is it the export of "
            "another dataset's project? Nothing was imported."
        )
    seen = set().union(*(t.column("annotation_id").to_pylist() for t in (parsed.rows, parsed.rejects, parsed.qc_rows)))
    existing = read_optional(out, target, schema)
    merged, repeated = LM.merge(existing if existing is not None else S.empty(schema), parsed.rows, key, export.name, kind, seen)
    old_answers = read_optional(out, QC_ANSWERS, S.MPD_QC_ANSWERS)
    answers, repeated_checks = LM.merge(
        old_answers if old_answers is not None else S.empty(S.MPD_QC_ANSWERS), parsed.qc_rows, "qc_id", export.name, kind, seen
    )
    old_rejects = read_optional(out, REJECTS, S.ANNOTATION_REJECTS)
    old_rejects = S.empty(S.ANNOTATION_REJECTS) if old_rejects is None else old_rejects
    rejects = LM.merge_rejects(old_rejects, pa.concat_tables([parsed.rejects, repeated, repeated_checks]), seen)
    counts = dict(parsed.counts)
    counts[LM.REPEATED] = repeated.num_rows + repeated_checks.num_rows
    entry = {
        "file": str(export.resolve()),
        "sha256": hashlib.sha256(export.read_bytes()).hexdigest(),
        "kind": kind,
        "imported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "counts": counts,
        "rows_after": merged.num_rows,
    }
    log = import_log(out)
    log.append(entry)
    dio.write_table(rejects, out / REJECTS, S.ANNOTATION_REJECTS)
    dio.write_table(merged, out / target, schema)
    if answers.num_rows or old_answers is not None:
        dio.write_table(answers, out / QC_ANSWERS, S.MPD_QC_ANSWERS)
    dio.write_text(json.dumps(log, indent=2) + "\n", out / IMPORT_LOG)
    return entry


def known_items(out: Path, kind: str) -> set | dict:
    """What an export of ``kind`` may name: the pair ids (``ratings``), or per
    preference task id its (candidate_a, candidate_b) (``preferences``)."""
    if kind == RATINGS:
        return set(dio.read_table(out / "pairs.parquet", S.MPD_PAIRS, columns=["pair_id"]).column("pair_id").to_pylist())
    if kind != LP.PREFERENCES:
        raise ValueError(f"unknown kind {kind!r}: ratings or preferences")
    ptasks = read_optional(out, PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
    if ptasks is None:
        return {}
    return {t: (a, b) for t, a, b in zip(ptasks["task_id"].to_pylist(), ptasks["candidate_a"].to_pylist(), ptasks["candidate_b"].to_pylist())}


def check_tasks(out: Path, kind: str) -> dict[str, tuple[str, str] | None]:
    """The quality-control tasks an export of ``kind`` may hold: qc_id →
    (candidate_a, candidate_b) for preference checks, ``None`` for rating ones."""
    table = read_optional(out, QC_TASKS, S.MPD_QC_TASKS)
    if table is None:
        return {}
    rows = table.select(["qc_id", "project_kind", "candidate_a", "candidate_b"]).to_pylist()
    if kind == RATINGS:
        return {r["qc_id"]: None for r in rows if r["project_kind"] == RATINGS}
    return {r["qc_id"]: (r["candidate_a"], r["candidate_b"]) for r in rows if r["project_kind"] != RATINGS}


def import_log(out: Path) -> list:
    path = out / IMPORT_LOG
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
