"""The checks every command makes on its input before it imports Prefect or
starts any work: a problem is one ``error:`` line and exit status 2, within
a second, instead of a traceback after the Prefect server has started.

Each check is one small function a command calls with its option values
(nothing here imports Prefect, pyarrow or the stages)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from synesthesia.cli.common import fail

#: What ``dataset.json`` names each dataset, as the commands say it.
DATASET_NAMES = {"mpd": "MPD", "artsound": "ArtSound", "museart": "Museart"}
BUILD_COMMANDS = {"mpd": "build mpd", "artsound": "build artsound", "museart": "build museart"}


def _readable(path: Path, option: str, what: str = "folder or file") -> None:
    if not path.exists():
        fail(f"{option} {path}: no such {what}")
    if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
        fail(f"{option} {path}: not readable (permission denied)")


def source(value: object, option: str, kind: Optional[str] = None) -> None:
    """An input of a build: an existing, readable folder or file (CSV), or a
    corpus selector ``KIND:PATH?options`` (:mod:`synesthesia.sources`) with a
    known reader of ``kind`` (``"image"``/``"audio"``), valid options and a
    readable path."""
    from synesthesia.sources.selector import absolute, parse_selector

    try:
        selector = parse_selector(str(value))
    except ValueError as exc:
        fail(f"{option} {exc}")
    _readable(Path(selector.path).expanduser(), option)
    try:
        absolute(str(value), kind)
    except (ValueError, OSError) as exc:
        fail(f"{option} {exc}")


def input_file(value: object, option: str) -> None:
    path = Path(str(value))
    _readable(path, option, "file")
    if path.is_dir():
        fail(f"{option} {path}: is a folder, not a file")


def output_folder(value: object, option: str = "--out") -> None:
    """A folder a command writes: a folder (or a path that can become one)
    that this user can write."""
    path = Path(str(value))
    if path.exists() and not path.is_dir():
        fail(f"{option} {path}: is a file, not a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        fail(f"{option} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        fail(f"{option} {path}: {existing} is not writable (permission denied)")


def output_file(value: object, option: str) -> None:
    path = Path(str(value))
    if path.is_dir():
        fail(f"{option} {path}: is a folder, not a file")
    output_folder(path.parent, option)


def dataset_folder(value: object, kind: str, option: str = "--dataset") -> dict:
    """A folder a command reads: it exists and holds a dataset of ``kind``
    (its ``dataset.json`` says so). Returns the manifest."""
    path = Path(str(value))
    if not path.exists():
        fail(f"{option} {path}: no such folder (build it with `synesthesia {BUILD_COMMANDS[kind]}`)")
    if not path.is_dir():
        fail(f"{option} {path}: is a file, not a dataset folder")
    manifest_path = path / "dataset.json"
    if not manifest_path.is_file():
        from synesthesia.datasets.locks import holder

        writer = holder(path)
        if writer:  # a build that has not written dataset.json yet
            fail(f"{option} {path}: is being written by {writer}; wait for it to finish (or stop it)")
        fail(f"{option} {path}: not a dataset folder (no dataset.json; build it with `synesthesia {BUILD_COMMANDS[kind]}`)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{option} {path}: cannot read dataset.json ({exc})")
    found = manifest.get("dataset")
    if found != kind:
        name = DATASET_NAMES.get(found, found)
        held = f"holds {'an' if name in ('ArtSound', 'MPD') else 'a'} {name} dataset" if found else "has no dataset name in dataset.json"
        fail(f"{option} {path}: {held}; this command works on {DATASET_NAMES[kind]} folders (`synesthesia {BUILD_COMMANDS[kind]}`)")
    return manifest


def _answers(host: str, port: int, timeout_s: float) -> Optional[str]:
    """None when a TCP server accepts at host:port, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


def execution(runner: object, dask_address: Optional[str], timeout_s: float = 3.0) -> None:
    """The runner options, and the servers they name: a Dask scheduler at
    ``--dask-address`` and the Prefect server at ``PREFECT_API_URL`` must answer."""
    runner = getattr(runner, "value", runner)
    if dask_address:
        if runner != "dask":
            fail(f"--dask-address {dask_address} needs --runner dask (the runner is {runner})")
        url = urlparse(dask_address if "://" in dask_address else f"tcp://{dask_address}")
        if url.scheme == "tcp":
            if not url.hostname or not url.port:
                fail(f"--dask-address {dask_address}: expected tcp://HOST:PORT")
            why = _answers(url.hostname, url.port, timeout_s)
            if why:
                fail(f"--dask-address {dask_address}: no Dask scheduler answers ({why})")
    api = os.environ.get("PREFECT_API_URL")
    if api:
        url = urlparse(api)
        why = _answers(url.hostname or "", url.port or (443 if url.scheme == "https" else 80), timeout_s) if url.hostname else "not a URL"
        if why:
            fail(f"PREFECT_API_URL={api}: no Prefect server answers ({why}); start it (`prefect server start`) or unset PREFECT_API_URL to use an embedded one")
