"""Talking to a live Label Studio through ``label-studio-sdk`` 2.x.

The server URL comes from an argument or ``LABEL_STUDIO_URL``; the API key
from ``LABEL_STUDIO_API_KEY``, or, for the Label Studio that ``synesthesia
annotate serve`` runs, from that campaign's user-only credentials file. The
key is never printed (except the once ``annotate serve`` creates it), logged
or written anywhere else; errors from the server are re-raised with the
status code and the server's message only (the SDK's own error text includes
response headers), with any key in use scrubbed.

A push is safe to repeat: projects are remembered per kind in the dataset
folder (``labelstudio/projects.json``: URL and project id, no key), Local
Files storages are added once per folder, and only tasks whose id (our
``pair_id`` / ``task_id``) is not yet in the project are imported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from synesthesia.datasets.secrets import redact

URL_ENV = "LABEL_STUDIO_URL"
KEY_ENV = "LABEL_STUDIO_API_KEY"
IMPORT_BATCH = 1000
#: Keys handed to connect(): scrubbed from every error message.
_KEYS_IN_USE: set[str] = set()


class LabelStudioError(RuntimeError):
    """A failed call to Label Studio, with a message safe to show."""


def resolve_url(url: str | None = None) -> str:
    url = url or os.environ.get(URL_ENV)
    if not url:
        raise LabelStudioError(f"no Label Studio URL: pass --url or set {URL_ENV}")
    return url.rstrip("/")


def connect(url: str | None = None, timeout: float = 120.0, key: str | None = None):
    """A ``label_studio_sdk.LabelStudio`` client for ``url`` (or ``$LABEL_STUDIO_URL``)
    with ``key`` (a local campaign's token, from its user-only file) or ``$LABEL_STUDIO_API_KEY``."""
    url = resolve_url(url)
    key = key or os.environ.get(KEY_ENV)
    if not key:
        raise LabelStudioError(f"no API key: set {KEY_ENV} (it is read from the environment only)")
    _KEYS_IN_USE.add(key)
    try:
        from label_studio_sdk import LabelStudio
    except ImportError:
        raise LabelStudioError("label-studio-sdk is not installed: pip install 'synesthesia[annotation]'") from None
    return LabelStudio(base_url=url, api_key=key, timeout=timeout)


def _call(what: str, fn, *args, **kwargs):
    """Run an SDK call; turn its errors into messages without headers or secrets."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # the SDK raises ApiError, httpx errors, ...
        status = getattr(exc, "status_code", None)
        body = getattr(exc, "body", None)
        detail = body if isinstance(body, (dict, str)) else type(exc).__name__
        if isinstance(detail, dict):
            detail = {k: v for k, v in detail.items() if k in ("detail", "validation_errors", "status_code")}
        # a server may echo the request back in its error body
        detail = redact(str(detail), os.environ.get(KEY_ENV, ""), *_KEYS_IN_USE)
        raise LabelStudioError(f"Label Studio: {what} failed" + (f" (HTTP {status})" if status else "") + f": {detail}") from None


def project_exists(client, project_id: int) -> bool:
    try:
        client.projects.get(project_id)
        return True
    except Exception:
        return False


def create_project(client, title: str, label_config: str, maximum_annotations: int | None = None, **settings) -> int:
    """A new project; ``settings``: other ``projects.create`` fields (sampling, ...)."""
    kwargs = {"title": title, "label_config": label_config, **settings}
    if maximum_annotations:
        kwargs["maximum_annotations"] = maximum_annotations
    project = _call("creating a project", client.projects.create, **kwargs)
    return int(project.id)


def add_local_storage(client, project_id: int, folder: str | os.PathLike, title: str) -> None:
    """A Local Files import storage on ``folder`` (needed for Label Studio to
    serve ``/data/local-files/`` URLs from it); added once per folder."""
    folder = os.path.abspath(folder)  # not resolved: Label Studio compares paths lexically (links stay links)
    existing = _call("listing storages", client.import_storage.local.list, project=project_id)
    if any(getattr(s, "path", None) == folder for s in existing or []):
        return
    _call("adding a Local Files storage", client.import_storage.local.create, project=project_id, path=folder, title=title[:256], use_blob_urls=False)


def export_tasks(client, project_id: int) -> bytes:
    """The project's full JSON export (every task, every annotation, skipped ones included)."""
    chunks = _call(
        "exporting",
        lambda: list(client.projects.exports.download_sync(project_id, export_type="JSON", download_all_tasks=True)),
    )
    return b"".join(chunks)


def existing_ids(client, project_id: int, key: str) -> set[str]:
    tasks = json.loads(export_tasks(client, project_id) or b"[]")
    return {t.get("data", {}).get(key) for t in tasks if isinstance(t, dict)} - {None}


def import_tasks(client, project_id: int, tasks: list[dict], key: str, present: set | None = None) -> dict:
    """Import the tasks whose ``data[key]`` is not in the project yet
    (``present``: the ids known to be there; default: read from the project)."""
    present = existing_ids(client, project_id, key) if present is None else present
    new = [t for t in tasks if t["data"][key] not in present]
    for start in range(0, len(new), IMPORT_BATCH):
        _call("importing tasks", client.projects.import_tasks, project_id, request=new[start : start + IMPORT_BATCH])
    return {"project_id": project_id, "imported": len(new), "already_there": len(tasks) - len(new)}


def load_projects(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def remember_project(path: Path, key: str, url: str, project_id: int, **extra) -> None:
    """Record project ``key`` (a project kind, or ``<kind>/<rater>`` for a
    rater's own project, with ``kind`` and ``rater`` in ``extra``)."""
    from synesthesia.datasets.io import write_text

    projects = load_projects(path)
    projects[key] = {"url": url, "project_id": project_id, **extra}
    write_text(json.dumps(projects, indent=2, sort_keys=True) + "\n", path)


def projects_of(registry: Path, kind: str, url: str | None = None) -> dict[str, dict]:
    """The recorded projects of a project kind (the shared one and every
    rater's own), optionally only those on ``url``."""
    return {
        key: entry
        for key, entry in load_projects(registry).items()
        if entry.get("kind", key) == kind and (url is None or entry.get("url") == url)
    }


def push(
    client,
    url: str,
    kind: str,
    title: str,
    label_config: str,
    tasks: list[dict],
    key: str,
    registry: Path,
    storage_folders: Iterable[Path] = (),
    project_id: int | None = None,
    maximum_annotations: int | None = None,
    settings: dict | None = None,
    extra: dict | None = None,
) -> dict:
    """Create (or reuse) the project recorded as ``kind`` (a project kind, or
    a rater's ``<kind>/<rater>``) and import its missing tasks. ``settings``:
    more ``projects.create`` fields; ``extra``: more fields to record."""
    known = load_projects(registry).get(kind)
    if project_id is None and known and known.get("url") == url and project_exists(client, known["project_id"]):
        project_id = int(known["project_id"])
    created = project_id is None
    if created:
        project_id = create_project(client, title, label_config, maximum_annotations, **(settings or {}))
    remember_project(registry, kind, url, project_id, **(extra or {}))
    for folder in storage_folders:
        add_local_storage(client, project_id, folder, f"synesthesia media: {Path(folder).name}")
    result = import_tasks(client, project_id, tasks, key, set() if created else None)  # a new project holds nothing yet
    result["created"] = created
    return result
