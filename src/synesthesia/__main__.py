"""``python -m synesthesia``: the same as the ``synesthesia`` command."""

from synesthesia.cli import app

app(prog_name="synesthesia")
