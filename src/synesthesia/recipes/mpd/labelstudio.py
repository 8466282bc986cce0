"""MPD ↔ Label Studio: task JSON and labeling configs for a folder, and the
import of full JSON exports into ``ratings.parquet`` / ``preference_votes.parquet``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pyarrow as pa

from synesthesia.annotation.labelstudio import parse as LP
from synesthesia.annotation.labelstudio.configs import RATINGS, label_config
from synesthesia.annotation.labelstudio.tasks import MediaLinks, preference_tasks, rating_tasks
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import stable_hash
from synesthesia.datasets.locks import writer_lock
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, open_rgb
from synesthesia.recipes.mpd.config import (
    ASSIGNMENTS,
    CLIP_MEDIA,
    CLIP_MEDIA_DIR,
    IMPORT_LOG,
    LABELSTUDIO,
    PREFERENCE_ASSIGNMENTS,
    PREFERENCE_TASKS_FILE,
    PREFERENCE_VOTES,
    RATINGS_FILE,
    REJECTS,
    SERVED_PAINTINGS,
    read_optional,
)


def served_painting(painting_id: str, suffix: str) -> str:
    """Where a painting's served file lives below :data:`SERVED_PAINTINGS`
    (256 sub-folders, like the listening copies)."""
    return f"{hashlib.sha1(painting_id.encode()).hexdigest()[:2]}/{painting_id}{suffix.lower()}"


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


def serve_paintings(out: str | os.PathLike) -> dict[str, Path]:
    """Every paired painting inside the dataset folder, under
    :data:`SERVED_PAINTINGS`, so that Label Studio serves the dataset's own
    media folders and never the input tree (the source is resolved, so a
    symlinked corpus serves the real file, and must stay inside the paintings
    root ingest read it from). A painting with transparent pixels is served
    as a PNG composited onto the build's alpha background
    (:func:`~synesthesia.datasets.media.open_rgb`, the picture the model's
    reader gives), so raters and the model judge the same image; named by its
    content and background, it is made once. Idempotent: an up-to-date file
    is kept, files of paintings no longer paired are removed. Returns
    painting id → file."""
    out = Path(out)
    manifest = dio.read_manifest(out)
    root = Path(manifest["media_roots"]["paintings"]).resolve()
    background = (manifest.get("config") or {}).get("alpha_background") or DEFAULT_ALPHA_BACKGROUND
    wanted = set(dio.read_table(out / "pairs.parquet", S.MPD_PAIRS, columns=["painting_id"]).column("painting_id").to_pylist())
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS, columns=["painting_id", "path", "sha256", "has_alpha"])
    folder = out / SERVED_PAINTINGS
    served = {}
    for pid, rel, sha, alpha in zip(*(paintings.column(c).to_pylist() for c in ("painting_id", "path", "sha256", "has_alpha"))):
        if pid not in wanted:
            continue
        source = (root / rel).resolve()
        if not source.is_relative_to(root):
            raise ValueError(f"{root / rel}: resolves outside the paintings root ({source}); it is not served")
        if alpha:
            target = folder / served_painting(pid, f".{stable_hash(sha, background, length=8)}.png")
            if not target.exists():
                with dio.atomic_output(target) as tmp:
                    open_rgb(source, background=background).save(tmp, format="PNG")
            served[pid] = target
            continue
        target = folder / served_painting(pid, source.suffix)
        have = target.stat() if target.exists() else None
        src = source.stat()
        if have is None or not (os.path.samefile(source, target) or (have.st_size, have.st_mtime_ns) == (src.st_size, src.st_mtime_ns)):
            _serve(source, target)
        served[pid] = target
    keep = {p.resolve() for p in served.values()}
    if folder.is_dir():
        for f in folder.glob("*/*"):
            if f.resolve() not in keep:
                f.unlink()
    return served


def media_files(out: str | os.PathLike) -> tuple[dict[str, Path], dict[str, Path]]:
    """The files raters get: every paired painting's served copy and every
    clip's listening copy (absolute paths inside the dataset folder)."""
    out = Path(out)
    p_files = serve_paintings(out)
    media = read_optional(out, CLIP_MEDIA, S.CLIP_FILES)
    if media is None:
        raise FileNotFoundError(f"{out}: no {CLIP_MEDIA}; run `synesthesia build mpd` (phase 1 writes the clips' listening copies)")
    c_files = {cid: out / CLIP_MEDIA_DIR / path for cid, path in zip(media["clip_id"].to_pylist(), media["path"].to_pylist())}
    return p_files, c_files


def media_folders(out: str | os.PathLike) -> list[Path]:
    """The folders Label Studio may serve: the served paintings and the
    listening copies, both inside the dataset folder (its local-files storages)."""
    out = Path(out).resolve()
    return [out / SERVED_PAINTINGS, out / CLIP_MEDIA_DIR]


def default_links(out: str | os.PathLike) -> MediaLinks:
    """Local-files links relative to the dataset folder, the default document
    root (every medium raters get lives inside it: :func:`media_folders`)."""
    return MediaLinks(Path(out).resolve())


def _raters_by(table: pa.Table | None, key: str) -> dict[str, list[str]]:
    if table is None:
        return {}
    out: dict[str, list[str]] = {}
    for item, rater in zip(table.column(key).to_pylist(), table.column("rater_id").to_pylist()):
        out.setdefault(item, []).append(rater)
    return out


def labelstudio_tasks(out: str | os.PathLike, kind: str, links: MediaLinks | None = None) -> dict[str, list[dict]]:
    """Label Studio task JSON per project kind: ``kind`` ``ratings`` → one
    project; ``preferences`` → one per preference kind (or name one kind)."""
    out = Path(out)
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
    if kind == RATINGS:
        pairs = dio.read_table(out / "pairs.parquet", S.MPD_PAIRS, columns=["pair_id"])
        known: set | dict = set(pairs.column("pair_id").to_pylist())
        target, schema, key = RATINGS_FILE, S.MPD_RATINGS, "pair_id"
    elif kind == LP.PREFERENCES:
        ptasks = read_optional(out, PREFERENCE_TASKS_FILE, S.MPD_PREFERENCE_TASKS)
        if ptasks is None:
            raise LP.ExportFormatError(f"{export}: {out} has no {PREFERENCE_TASKS_FILE} yet, so preference votes cannot be matched")
        known = {t: (a, b) for t, a, b in zip(ptasks["task_id"].to_pylist(), ptasks["candidate_a"].to_pylist(), ptasks["candidate_b"].to_pylist())}
        target, schema, key = PREFERENCE_VOTES, S.MPD_PREFERENCE_VOTES, "task_id"
    else:
        raise ValueError(f"unknown kind {kind!r}: ratings or preferences")
    parsed = LP.parse_export(tasks, kind, known, export.name)
    if not parsed.known_tasks:
        what = "pair ids" if kind == RATINGS else "preference task ids"
        raise LP.ExportFormatError(
            f"{export}: none of its {parsed.counts.get('tasks', 0)} tasks has one of {out}'s {what}: is it the export of "
            "another dataset's project? Nothing was imported."
        )
    seen = set(parsed.rows.column("annotation_id").to_pylist()) | set(parsed.rejects.column("annotation_id").to_pylist())
    existing = read_optional(out, target, schema)
    merged, repeated = LP.merge(existing if existing is not None else S.empty(schema), parsed.rows, key, export.name, kind, seen)
    old_rejects = read_optional(out, REJECTS, S.ANNOTATION_REJECTS)
    old_rejects = S.empty(S.ANNOTATION_REJECTS) if old_rejects is None else old_rejects
    rejects = LP.merge_rejects(old_rejects, pa.concat_tables([parsed.rejects, repeated]), seen)
    counts = dict(parsed.counts)
    counts[LP.REPEATED] = repeated.num_rows
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
    dio.write_text(json.dumps(log, indent=2) + "\n", out / IMPORT_LOG)
    return entry


def import_log(out: Path) -> list:
    path = out / IMPORT_LOG
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
