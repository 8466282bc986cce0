"""Label Studio accounts for a campaign, and the file that keeps their secrets.

* :func:`read_raters_csv`: the people who rate (a CSV with an ``email``
  column, optionally ``name``); :func:`generated_raters`: N placeholder
  accounts (``rater-01@campaign.local`` ...) for a pilot or a test.
* :func:`ensure_accounts`: finds the raters' accounts, and on a server we
  run creates the missing ones with a random password each (returned once,
  for the person running the campaign to hand out).
* :func:`write_private` / :func:`read_private`: a JSON file only its owner
  can read or write (mode 0600 in a 0700 folder), written atomically; the
  local server's admin password, API token and rater passwords live there
  and nowhere else.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import stat
from pathlib import Path

from synesthesia.annotation.labelstudio.client import LabelStudioError, _call

GENERATED_DOMAIN = "campaign.local"
#: The columns of a raters file (``name`` may be empty).
RATERS_COLUMNS = ("email", "name")


def read_raters_csv(path: str | os.PathLike) -> list[dict]:
    """``[{"email": ..., "name": ...}]`` from a CSV with an ``email`` column
    (``name`` optional), in file order; a bad or repeated email stops the read."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if "email" not in (reader.fieldnames or ()):
            raise ValueError(f"{path}: no 'email' column (expected a header like: email,name)")
        people = []
        for line, row in enumerate(reader, start=2):
            email = (row.get("email") or "").strip()
            if "@" not in email or any(c.isspace() for c in email):
                raise ValueError(f"{path}, line {line}: {email!r} is not an email address")
            people.append({"email": email, "name": (row.get("name") or "").strip()})
    emails = [p["email"].lower() for p in people]
    if len(set(emails)) != len(emails):
        raise ValueError(f"{path}: the same email appears twice")
    if not people:
        raise ValueError(f"{path}: no raters listed")
    return people


def generated_raters(planned_ids: list[str], domain: str = GENERATED_DOMAIN) -> list[dict]:
    """One placeholder account per planned rater id (``rater-01@campaign.local`` ...)."""
    return [{"email": f"{rid}@{domain}", "name": rid} for rid in planned_ids]


def ensure_accounts(client, people: list[dict], create=None) -> list[dict]:
    """Per person, in order: ``email``, ``user_id`` and ``password`` (set only
    for an account created now; ``None`` for one that existed).

    Label Studio's API cannot set another user's password, so accounts are
    made by ``create`` (``LabelStudioServer.create_users``, for a server we
    run); on a team's server every rater must already have an account (they
    sign up through the organization's invite link) and a missing one stops
    here, naming it."""
    existing = {u.email.lower(): int(u.id) for u in _call("listing users", client.users.list) or [] if getattr(u, "email", None)}
    missing = [p for p in people if p["email"].lower() not in existing]
    passwords = {}
    if missing:
        if create is None:
            raise LabelStudioError(
                f"{len(missing)} rater(s) have no account on this Label Studio: {', '.join(p['email'] for p in missing[:10])}"
                f"{' ...' if len(missing) > 10 else ''}. Invite them (Organization → Add People gives an invite link), "
                "let them sign up with these emails, and run this again."
            )
        passwords = {p["email"].lower(): secrets.token_urlsafe(9) for p in missing}
        made = create([{"email": p["email"], "password": passwords[p["email"].lower()], "first_name": p.get("name") or ""} for p in missing])
        existing.update({email.lower(): int(uid) for email, uid in made.items()})
    return [{"email": p["email"], "user_id": existing[p["email"].lower()], "password": passwords.get(p["email"].lower())} for p in people]


def write_private(path: Path, data: dict) -> Path:
    """Write ``data`` as JSON readable and writable by the owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, stat.S_IRWXU)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)  # also when tmp existed with wider permissions
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return path


def read_private(path: Path) -> dict:
    """Read a file :func:`write_private` wrote; refuse one that others can read."""
    path = Path(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise LabelStudioError(f"{path} holds passwords and an API token but other users can read it: chmod 600 {path}")
    return json.loads(path.read_text(encoding="utf-8"))
