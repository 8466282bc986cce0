"""A local Label Studio: installed in its own virtual environment, started on
one machine, stopped with its whole process group.

Label Studio pins its own Django, pydantic and friends, so it never shares
synesthesia's environment:

* :func:`ensure_labelstudio` creates the venv (``LABEL_STUDIO_SPEC``) when it
  is missing and migrates an empty **template database** once; a new server
  data folder starts from a copy of it, so the first start of a campaign
  takes seconds instead of the minute and a half Label Studio's ~200
  migrations take. Callable on its own (a setup step before the tests, or
  ``synesthesia annotate serve`` on first use); one installer at a time
  (file lock).
* :class:`LabelStudioServer`: ``label-studio start`` with HOME and the data
  folder of our choosing (it writes nowhere else), the version check and
  Sentry off, Local Files serving on for one document root, an admin
  account and a 40-character legacy API token. The admin's email, password
  and token reach the process through its environment, never its command
  line (which every local user can read with ``ps``), and are scrubbed from
  :meth:`~LabelStudioServer.log_tail`. Never ``label-studio --version``: it
  starts a server on 0.0.0.0.

Everything here raises :class:`~synesthesia.annotation.labelstudio.client.LabelStudioError`
with what to do; the test support turns that into ``pytest.fail``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from synesthesia.annotation.labelstudio.client import LabelStudioError

LABEL_STUDIO_SPEC = "label-studio>=1.23,<1.24"
#: Where the Label Studio venv lives (default: the user's data folder, shared by every dataset).
VENV_ENV = "SYNESTHESIA_LABEL_STUDIO_VENV"
MARKER = ".synesthesia-installed"
TEMPLATE = ".synesthesia-template"
DATABASE = "label_studio.sqlite3"
INSTALL_TIMEOUT_S = 1800


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/synesthesia`` (default ``~/.local/share/synesthesia``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "synesthesia"


def default_venv() -> Path:
    return Path(os.environ[VENV_ENV]) if os.environ.get(VENV_ENV) else user_data_dir() / "label-studio-venv"


def executable(venv: Path) -> Path:
    return Path(venv) / "bin" / "label-studio"


def installed(venv: Path) -> bool:
    venv = Path(venv)
    return executable(venv).exists() and (venv / MARKER).exists() and (venv / TEMPLATE / DATABASE).exists()


def _run(cmd: list[str], what: str, env: dict | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=env)
    if done.returncode != 0:
        raise LabelStudioError(f"{what} failed ({' '.join(cmd[:4])} ...):\n{(done.stdout + done.stderr)[-3000:]}")


def _server_env(home: Path, data_dir: Path) -> dict:
    """The environment of every Label Studio process we start: our HOME and
    data folder, no inherited LABEL_STUDIO_*/DJANGO_* settings, no phoning home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO", "DJANGO", "HEARTEX"))}
    env.update(
        HOME=str(home),
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LABEL_STUDIO_LATEST_VERSION_CHECK="false",
        # accounts are made by whoever holds the admin token, not by anyone who finds the page
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
        PYTHONUNBUFFERED="1",
    )
    return env


def ensure_labelstudio(venv: Path | None = None, python: str = sys.executable, say=None) -> Path:
    """The ``label-studio`` executable of ``venv`` (default :func:`default_venv`),
    installing Label Studio and migrating the template database if needed
    (a few minutes, once). ``say``: a callable told what is happening."""
    venv = Path(venv or default_venv()).absolute()
    if installed(venv):
        return executable(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    lock_path = Path(tempfile.gettempdir()) / f"synesthesia-labelstudio-{hashlib.sha1(str(venv.resolve()).encode()).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time
        if installed(venv):
            return executable(venv)
        hint = f"install it by hand with: python3 -m venv {venv} && {venv}/bin/pip install '{LABEL_STUDIO_SPEC}'"
        if not (executable(venv).exists() and (venv / MARKER).exists()):
            if say:
                say(f"installing Label Studio ({LABEL_STUDIO_SPEC}) into {venv} (once; a few minutes)")
            try:
                _run([python, "-m", "venv", "--clear", str(venv)], "creating the Label Studio venv")
                _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", LABEL_STUDIO_SPEC],
                     "installing Label Studio")
            except LabelStudioError as exc:
                raise LabelStudioError(f"{exc}\n{hint}") from None
            (venv / MARKER).write_text(LABEL_STUDIO_SPEC + "\n")
        if say:
            say("preparing Label Studio's empty database (once; about a minute)")
        _make_template(venv)
    return executable(venv)


def _make_template(venv: Path) -> None:
    """Migrate an empty database into ``venv/.synesthesia-template``."""
    work = Path(tempfile.mkdtemp(prefix="ls-template-", dir=venv))
    try:
        (work / "home").mkdir()
        (work / "data").mkdir()
        code = "from label_studio.server import _setup_env, _apply_database_migrations; _setup_env(); _apply_database_migrations()"
        _run([str(venv / "bin" / "python"), "-c", code], "migrating Label Studio's database", _server_env(work / "home", work / "data"))
        target = venv / TEMPLATE
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        shutil.copy2(work / "data" / DATABASE, target / DATABASE)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on ``port`` (a socket of a stopped server waiting out
    TIME_WAIT does not count: the server binds with SO_REUSEADDR too)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_USERS_MARK = "SYNESTHESIA-USERS "
_CREATE_USERS = f"""
import json, sys
from label_studio.server import _setup_env
_setup_env()
from organizations.models import Organization
from users.models import User
org = Organization.objects.first()
made = []
for p in json.load(sys.stdin):
    user = User.objects.filter(email__iexact=p["email"]).first()
    if user is None:
        user = User.objects.create_user(email=p["email"], password=p["password"], first_name=p.get("first_name", ""))
    org.add_user(user)
    user.active_organization = org
    user.save(update_fields=["active_organization"])
    made.append({{"email": p["email"], "user_id": user.id}})
print("{_USERS_MARK}" + json.dumps(made))
"""


@dataclass
class Admin:
    """The Label Studio admin account a server is started with."""

    email: str = "lead@campaign.local"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    token: str = field(default_factory=lambda: secrets.token_hex(20))  # 40 characters: a legacy API token


class LabelStudioServer:
    """One ``label-studio start`` process. ``workdir`` holds ``home/``,
    ``data/`` (the database: keep it to resume) and ``label-studio.log``."""

    def __init__(self, exe: Path, workdir: Path, document_root: Path, port: int | None = None,
                 host: str = "127.0.0.1", admin: Admin | None = None):
        self.exe = Path(exe)
        self.workdir = Path(workdir)
        self.document_root = Path(document_root)
        self.host = host
        self.port = port or free_port()
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{self.port}"
        self.admin = admin or Admin()
        self.log = self.workdir / "label-studio.log"
        self.proc: subprocess.Popen | None = None
        self.launched = 0.0

    # the test support and older callers read these directly
    @property
    def email(self) -> str:
        return self.admin.email

    @property
    def password(self) -> str:
        return self.admin.password

    @property
    def token(self) -> str:
        return self.admin.token

    def start(self, timeout: float = 420.0) -> "LabelStudioServer":
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> "LabelStudioServer":
        """Start the server process and return at once."""
        if not port_is_free(self.port, self.host):
            raise LabelStudioError(f"port {self.port} is in use: stop what runs there or choose another --port")
        home, data = self.workdir / "home", self.workdir / "data"
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)  # the database holds password hashes and tokens
        home.mkdir(parents=True, exist_ok=True)
        data.mkdir(parents=True, exist_ok=True)
        if not (data / ".env").exists():  # one key for the data folder's life: logins survive a restart
            fd = os.open(data / ".env", os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(f"SECRET_KEY={secrets.token_urlsafe(48)}\n")
        template = self.exe.parent.parent / TEMPLATE / DATABASE
        if not (data / DATABASE).exists() and template.exists():
            shutil.copy2(template, data / DATABASE)  # migrated once at install: starts in seconds
        env = _server_env(home, data)
        env.update(
            LOCAL_FILES_SERVING_ENABLED="true",
            LOCAL_FILES_DOCUMENT_ROOT=str(self.document_root),
            LABEL_STUDIO_USERNAME=self.admin.email,
            LABEL_STUDIO_PASSWORD=self.admin.password,
            LABEL_STUDIO_USER_TOKEN=self.admin.token,
        )
        cmd = [str(self.exe), "start", "--no-browser", "--internal-host", self.host, "-p", str(self.port), "--enable-legacy-api-token"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=home)
        self.launched = time.time()
        return self

    def wait_ready(self, timeout: float = 420.0) -> "LabelStudioServer":
        """Wait until ``/health`` answers (``timeout`` counts from the launch)."""
        import httpx

        deadline = self.launched + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise LabelStudioError(f"Label Studio exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise LabelStudioError(f"Label Studio did not answer /health within {timeout:.0f} s:\n{self.log_tail()}")

    def create_users(self, people: list[dict]) -> dict[str, int]:
        """Accounts with the given ``email``, ``password`` (and ``first_name``)
        in the server's organization, made in its own database (the API cannot
        set passwords); existing ones are kept. Returns email → user id. The
        passwords go through a pipe, not the command line."""
        import json

        done = subprocess.run(
            [str(self.exe.parent / "python"), "-c", _CREATE_USERS], input=json.dumps(people), capture_output=True, text=True,
            env=_server_env(self.workdir / "home", self.workdir / "data"), timeout=600, cwd=self.workdir / "home",
        )
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith(_USERS_MARK)), None)
        if done.returncode != 0 or line is None:
            text = (done.stdout + done.stderr)[-2000:]
            for p in people:
                text = text.replace(p["password"], "<password>")
            raise LabelStudioError(f"creating rater accounts failed:\n{text}")
        return {u["email"]: int(u["user_id"]) for u in json.loads(line[len(_USERS_MARK):])}

    def log_tail(self, n: int = 3000) -> str:
        text = self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""
        return text.replace(self.admin.token, "<token>").replace(self.admin.password, "<password>")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if not self.running():
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the server and its workers: our own process group
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
