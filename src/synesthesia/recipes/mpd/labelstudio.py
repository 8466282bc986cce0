"""MPD ↔ Label Studio: task JSON and labeling configs for a folder, and the
import of full JSON exports into ``ratings.parquet`` / ``preference_votes.parquet``."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pyarrow as pa

from synesthesia.annotation.labelstudio import parse as LP
from synesthesia.annotation.labelstudio.configs import RATINGS, label_config
from synesthesia.annotation.labelstudio.tasks import MediaLinks, default_document_root, preference_tasks, rating_tasks
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import stable_hash
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, open_rgb
from synesthesia.recipes.mpd.config import (
    ASSIGNMENTS,
    CLIP_MEDIA,
    CLIP_MEDIA_DIR,
    IMPORT_LOG,
    LABELSTUDIO,
    PAINTING_COPIES_DIR,
    PREFERENCE_ASSIGNMENTS,
    PREFERENCE_TASKS_FILE,
    PREFERENCE_VOTES,
    RATINGS_FILE,
    REJECTS,
    read_optional,
)


def _copy_names(out: Path) -> tuple[dict[str, str], dict[str, Path], str]:
    """({painting id: copy file name} for paintings with transparent pixels,
    {painting id: source file} for those, the alpha background)."""
    manifest = dio.read_manifest(out)
    background = (manifest.get("config") or {}).get("alpha_background") or DEFAULT_ALPHA_BACKGROUND
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS, columns=["painting_id", "path", "sha256", "has_alpha"])
    names, sources = {}, {}
    for pid, path, sha, alpha in zip(*(paintings[c].to_pylist() for c in ("painting_id", "path", "sha256", "has_alpha"))):
        if alpha:
            names[pid] = f"{pid}-{stable_hash(sha, background, length=8)}.png"
            sources[pid] = Path(manifest["media_roots"]["paintings"]) / path
    return names, sources, background


def write_painting_copies(out: str | os.PathLike) -> int:
    """``painting_copies/<id>-<key>.png`` for every painting with transparent
    pixels: composited onto the build's alpha background as the model sees it
    (:func:`~synesthesia.datasets.media.open_rgb`), at full size, so raters
    and the model judge the same picture. Made once per file and background;
    copies no painting owns any more are removed. Returns how many there are."""
    out = Path(out)
    names, sources, background = _copy_names(out)
    folder = out / PAINTING_COPIES_DIR
    for pid, name in names.items():
        if not (folder / name).is_file():
            with dio.atomic_output(folder / name) as tmp:
                open_rgb(sources[pid], background).save(tmp, format="PNG")
    keep = set(names.values())
    if folder.is_dir():
        for f in folder.iterdir():
            if f.name not in keep:
                f.unlink()
    return len(names)


def storage_folders(out: str | os.PathLike) -> list[Path]:
    """Every folder a task's media link may point into (each needs a Label Studio storage)."""
    out = Path(out)
    folders = [Path(dio.read_manifest(out)["media_roots"]["paintings"]), out / CLIP_MEDIA_DIR]
    return folders + ([out / PAINTING_COPIES_DIR] if (out / PAINTING_COPIES_DIR).is_dir() else [])


def media_files(out: str | os.PathLike) -> tuple[dict[str, Path], dict[str, Path]]:
    """Absolute paths of what raters see: every painting (its composited copy
    when it has transparent pixels, see :func:`write_painting_copies`) and
    every clip's listening copy."""
    out = Path(out)
    roots = dio.read_manifest(out)["media_roots"]
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS)
    p_files = {pid: Path(roots["paintings"]) / path for pid, path in zip(paintings["painting_id"].to_pylist(), paintings["path"].to_pylist())}
    names, _, _ = _copy_names(out)
    missing = [pid for pid, name in names.items() if not (out / PAINTING_COPIES_DIR / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{out}: {len(missing)} painting(s) with transparency have no copy in {PAINTING_COPIES_DIR}/; run `synesthesia annotate run`")
    p_files.update({pid: out / PAINTING_COPIES_DIR / name for pid, name in names.items()})
    media = read_optional(out, CLIP_MEDIA, S.CLIP_FILES)
    if media is None:
        raise FileNotFoundError(f"{out}: no {CLIP_MEDIA}; run `synesthesia build mpd` (phase 1 writes the clips' listening copies)")
    c_files = {cid: out / CLIP_MEDIA_DIR / path for cid, path in zip(media["clip_id"].to_pylist(), media["path"].to_pylist())}
    return p_files, c_files


def default_links(out: str | os.PathLike) -> MediaLinks:
    """Local-files links under the deepest folder holding the paintings and DIR."""
    out = Path(out)
    roots = dio.read_manifest(out)["media_roots"]
    return MediaLinks(default_document_root(roots["paintings"], out))


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

    A malformed file raises :class:`~synesthesia.annotation.labelstudio.parse.ExportFormatError`
    before anything is written."""
    out = Path(out)
    export = Path(export)
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
