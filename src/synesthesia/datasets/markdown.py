"""Markdown for reports and dataset cards: tables, counts, crosstabs, replaceable blocks."""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

import pyarrow as pa


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def value_counts(values: Iterable[object], missing: str = "(none)") -> list[tuple[str, int]]:
    counts = Counter(missing if v is None else str(v) for v in values)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def counts_table(values: Iterable[object], header: str) -> str:
    return md_table([header, "count"], value_counts(values))


def crosstab(rows: Iterable[object], cols: Iterable[object], row_header: str, col_order: Sequence[str]) -> str:
    counts: Counter = Counter()
    row_keys: set = set()
    for r, c in zip(rows, cols):
        r = "(none)" if r is None else str(r)
        counts[(r, c)] += 1
        row_keys.add(r)
    body = [[r] + [counts[(r, c)] for c in col_order] + [sum(counts[(r, c)] for c in col_order)] for r in sorted(row_keys)]
    return md_table([row_header, *col_order, "total"], body)


def quarantine_section(quarantine: pa.Table) -> str:
    if quarantine.num_rows == 0:
        return "No input was rejected."
    kinds = quarantine.column("kind").to_pylist()
    stages = quarantine.column("stage").to_pylist()
    reasons = quarantine.column("reason").to_pylist()
    # Group reasons by their general form (text before the first ':').
    keyed = [(k, s, r.split(":")[0]) for k, s, r in zip(kinds, stages, reasons)]
    rows = sorted(Counter(keyed).items(), key=lambda kv: (-kv[1], kv[0]))
    table = md_table(["kind", "stage", "reason", "files"], [(k, s, r, n) for (k, s, r), n in rows])
    return f"{quarantine.num_rows} input(s) rejected; every one is listed with its full reason in `quarantine.parquet`.\n\n{table}"


def upsert_section(existing: str, name: str, text: str, title: str = "") -> str:
    """Insert or replace the block ``name`` of a Markdown report, delimited by
    HTML comments, so several phases can each own a part of one ``report.md``
    and re-running a phase replaces only its part."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.strip()}\n{end}"
    if start in existing and end in existing:
        head, rest = existing.split(start, 1)
        _, tail = rest.split(end, 1)
        return head + block + tail
    if not existing.strip():
        existing = f"# {title}\n" if title else ""
    return existing.rstrip("\n") + "\n\n" + block + "\n"


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


_SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$")


def markdown_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """The first table under each heading of a Markdown text (as :func:`md_table`
    writes them): ``{heading: [row as {column: cell}]}``, in order."""
    tables: dict[str, list[dict[str, str]]] = {}
    heading = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _HEADING.match(lines[i])
        if match:
            heading = match.group(1)
        elif heading is not None and heading not in tables and lines[i].startswith("|") and i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1]):
            header, i = _cells(lines[i]), i + 2
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(dict(zip(header, _cells(lines[i]))))
                i += 1
            tables[heading] = rows
            continue
        i += 1
    return tables
