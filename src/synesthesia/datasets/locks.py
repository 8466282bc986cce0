"""One writer per dataset folder.

Every command that writes into a dataset folder (a build, ``annotate
import/run/push/pull``, an export) holds :func:`writer_lock` on it: an
advisory lock (``fcntl.flock``) on ``DIR/.synesthesia.lock``, which records
who holds it. A second writer stops at once with :class:`FolderBusy` ("DIR
is being written by PID … since …") instead of interleaving its files with
the first one's. The kernel drops the lock when its process dies, so the
lock of a killed run is simply taken over; the file then still names the
dead process, which is reported as taken over.

Holding the lock makes this process the only writer, so temp files that
atomic writes left behind (``.NAME.XXXX.tmp``, from a killed run) are swept
when it is taken.

The lock is re-entrant within a thread (a build that imports, an ``annotate
pull`` that imports); another thread of the same process is refused like
another process. Worker processes of a build do not take it: the entry point
holds it for the whole run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, a warning in the docs
    fcntl = None

LOCK_FILE = ".synesthesia.lock"
#: What atomic writes name their temp files (``datasets.io.atomic_output``).
TEMP_FILE = re.compile(r"^\..+\.tmp$")


class FolderBusy(BlockingIOError):
    """Another process (or thread) is writing into the folder."""


_guard = threading.Lock()
_held: dict[str, tuple[threading.RLock, list]] = {}  # lock path -> (thread lock, [fd, depth])


def _describe(info: dict) -> str:
    since = info.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else "an unknown time"
    host = f" on {info['host']}" if info.get("host") and info.get("host") != socket.gethostname() else ""
    return f"PID {info.get('pid', '?')}{host} ({info.get('command') or 'synesthesia'}) since {when}"


def _read_info(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def sweep_temp_files(folder: str | os.PathLike) -> int:
    """Remove the temp files of killed atomic writes below ``folder``."""
    removed = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            if TEMP_FILE.match(name):
                Path(dirpath, name).unlink(missing_ok=True)
                removed += 1
    return removed


@contextlib.contextmanager
def writer_lock(folder: str | os.PathLike, command: str = "") -> Iterator[dict]:
    """Hold the writer lock of ``folder`` (created if needed) for the block.

    Yields what was found: ``{"taken_over": <the dead holder's info> | None,
    "swept": <temp files removed>}``. Raises :class:`FolderBusy` when another
    live writer holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = str((folder / LOCK_FILE).resolve())
    with _guard:
        entry = _held.setdefault(path, (threading.RLock(), [None, 0]))
    thread_lock, state = entry
    if not thread_lock.acquire(blocking=False):
        raise FolderBusy(f"{folder} is being written by another thread of this process (PID {os.getpid()})")
    try:
        if state[1]:  # re-entered by the holding thread
            state[1] += 1
            try:
                yield {"taken_over": None, "swept": 0}
            finally:
                state[1] -= 1
            return
        found = {"taken_over": None, "swept": 0}
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise FolderBusy(f"{folder} is being written by {_describe(_read_info(fd))}; wait for it to finish (or stop it)") from None
            previous = _read_info(fd)
            if previous.get("pid"):
                found["taken_over"] = previous  # its process died holding it (a clean exit empties the file)
            mine = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "since": time.time()}
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(mine).encode("utf-8"))
            found["swept"] = sweep_temp_files(folder)
            state[:] = [fd, 1]
            try:
                yield found
            finally:
                state[:] = [None, 0]
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # releases the flock
    finally:
        thread_lock.release()
