"""What a flow run shows in the Prefect UI besides its logs: the dataset's
``report.md`` as a Markdown artifact and its headline tables (counts per
stage, quarantine reasons, α and σ, Table 5…) as table artifacts.

The tables are read back from ``report.md`` itself (the first table under
each named heading, :func:`synesthesia.datasets.markdown.markdown_tables`),
so the UI and the report cannot disagree. Artifacts are keyed by dataset and
table (``mpd-report``, ``mpd-counts-per-stage``…): the Artifacts page shows
the latest of each, with the earlier versions linked to their flow runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from synesthesia.datasets.markdown import markdown_tables


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def publish_report(folder: Path, dataset: str, headline_tables: Sequence[str]) -> list[str]:
    """Publish ``folder/report.md`` and the first table under each heading in
    ``headline_tables`` that the report has; returns the artifact keys."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    report = folder / "report.md"
    text = report.read_text(encoding="utf-8")
    keys = [artifact_key(dataset, "report")]
    create_markdown_artifact(markdown=text, key=keys[0], description=f"{report}")
    tables = markdown_tables(text)
    for heading in headline_tables:
        if tables.get(heading):
            keys.append(artifact_key(dataset, heading))
            create_table_artifact(table=tables[heading], key=keys[-1], description=f"{heading} — {report}")
    return keys
