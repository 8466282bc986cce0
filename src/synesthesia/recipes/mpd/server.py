"""The local Label Studio of ``synesthesia annotate serve``, and how the other
``annotate`` commands find it.

A served campaign keeps its state outside the dataset folder, in a *server
folder* (default ``~/.local/share/synesthesia/label-studio/<dataset>-<hash>``):
Label Studio's database and log, and ``campaign.json`` (mode 0600: the admin
login and API token, the raters' logins). The dataset folder only records
where that is and the URL (``labelstudio/server.json``, no secrets), so
``annotate pull`` / ``push`` / ``run`` / ``status --live`` work without
flags, and a dataset folder can be shared without its campaign's passwords.

The server's document root is the dataset's served media folder
(``labelstudio/media``: links to its paintings and listening copies, nothing
else; see ``recipes.mpd.labelstudio.served_media``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from synesthesia.annotation.labelstudio import accounts as LA
from synesthesia.annotation.labelstudio import client as C
from synesthesia.annotation.labelstudio import server as LSS
from synesthesia.datasets import io as dio
from synesthesia.datasets.keys import stable_hash
from synesthesia.recipes.mpd.config import CLIP_MEDIA, SERVER_POINTER
from synesthesia.recipes.mpd.labelstudio import served_media

STATE = "campaign.json"
DEFAULT_PORT = 8080


def default_server_dir(out: str | os.PathLike) -> Path:
    out = Path(out).resolve()
    return LSS.user_data_dir() / "label-studio" / f"{out.name}-{stable_hash(str(out), length=8)}"


def pointer(out: str | os.PathLike) -> dict | None:
    path = Path(out) / SERVER_POINTER
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def campaign_state(out: str | os.PathLike) -> dict | None:
    """The served campaign's state (from its user-only file), or None when the
    folder has never been served."""
    where = pointer(out)
    if where is None:
        return None
    path = Path(where["server_dir"]) / STATE
    if not path.exists():
        raise C.LabelStudioError(f"{out}: {SERVER_POINTER} points at {where['server_dir']}, which holds no {STATE} (moved or deleted?)")
    return LA.read_private(path)


def save_state(out: str | os.PathLike, server_dir: Path, state: dict) -> None:
    LA.write_private(Path(server_dir) / STATE, state)
    dio.write_text(json.dumps({"server_dir": str(server_dir), "url": state["url"]}, indent=2) + "\n", Path(out) / SERVER_POINTER)


def connect_for(out: str | os.PathLike, url: str | None = None):
    """``(client, url)`` for the dataset's Label Studio: ``url`` /
    ``$LABEL_STUDIO_URL`` with ``$LABEL_STUDIO_API_KEY`` (a team's server) when
    given, else the local server ``annotate serve`` runs for the folder."""
    if url or os.environ.get(C.URL_ENV):
        return C.connect(url), C.resolve_url(url)
    state = campaign_state(out)
    if state is None:
        raise C.LabelStudioError(
            f"no Label Studio for {out}: run `synesthesia annotate serve --dataset {out}`, "
            f"or set {C.URL_ENV} and {C.KEY_ENV} for a team's server"
        )
    if not answers(state["url"]):
        raise C.LabelStudioError(f"Label Studio at {state['url']} does not answer: start it with `synesthesia annotate serve --dataset {out}`")
    return C.connect(state["url"], key=state["admin"]["token"]), state["url"]


def answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def start(out: str | os.PathLike, port: int | None, host: str, venv: Path | None, server_dir: Path | None, say=print):
    """Install Label Studio if needed and start it for ``out``; returns
    ``(server, state, new)`` (``new``: the campaign's first start, whose admin
    login and token the caller prints once). Resumes an earlier campaign of
    the folder with its database and accounts."""
    out = Path(out)
    if not (out / CLIP_MEDIA).exists():
        raise FileNotFoundError(f"{out}: no {CLIP_MEDIA}: build the dataset first (`synesthesia build mpd`)")
    old = campaign_state(out)
    server_dir = Path(server_dir or (pointer(out) or {}).get("server_dir") or default_server_dir(out)).absolute()
    root = served_media(out).absolute()
    exe = LSS.ensure_labelstudio(venv, say=say)
    new = old is None
    admin = LSS.Admin(**old["admin"]) if old else LSS.Admin()
    port = port or (old or {}).get("port") or DEFAULT_PORT
    server = LSS.LabelStudioServer(exe, server_dir, root, port=port, host=host, admin=admin)
    state = dict(old or {})
    state.update(url=server.url, port=port, host=host, document_root=str(root), admin=vars(admin))
    state.setdefault("raters", [])
    server.launch()
    try:
        server.wait_ready()
        save_state(out, server_dir, state)
    except BaseException:
        server.stop()
        raise
    return server, state, new
