"""Report figures (matplotlib, object API: no global pyplot state, safe in
worker threads, no display needed)."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from synesthesia.stages.matching import HIGH_MIN, LOW_MAX, RANGES, similarity_range

_RANGE_COLORS = {"low": "#4C72B0", "medium": "#DD8452", "high": "#55A868"}


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def similarity_violins(groups: Mapping[str, np.ndarray], path: str | os.PathLike, title: str = "") -> dict[str, dict[str, int]]:
    """Figure 2: per pairing approach, one violin per similarity range (low
    ≤ 0.25, medium, high ≥ 0.6), labelled with its count. A range with fewer
    than two distinct values is drawn as points (a violin needs a spread).

    Writes the figure to ``path`` and returns what it plotted: per group
    label, the number of values drawn in each range (NaNs are not drawn)."""
    from matplotlib.figure import Figure

    labels = list(groups)
    fig = Figure(figsize=(max(5.0, 2.6 * len(labels)), 4.2))
    ax = fig.add_subplot()
    ticks, names = [], []
    plotted: dict[str, dict[str, int]] = {}
    for i, label in enumerate(labels):
        values = np.asarray(groups[label], dtype=np.float64)
        values = values[~np.isnan(values)]
        ranges = similarity_range(values)
        plotted[label] = {}
        for j, r in enumerate(RANGES):
            x = i * (len(RANGES) + 1) + j
            v = values[ranges == r]
            if len(np.unique(v)) >= 2:
                parts = ax.violinplot([v], positions=[x], widths=0.9, showmedians=True)
                for body in parts["bodies"]:
                    body.set_facecolor(_RANGE_COLORS[r])
                    body.set_alpha(0.7)
                for key in ("cbars", "cmins", "cmaxes", "cmedians"):
                    parts[key].set_color(_RANGE_COLORS[r])
            elif len(v):
                ax.scatter(np.full(len(v), x), v, color=_RANGE_COLORS[r], s=12)
            ax.annotate(f"n={len(v)}", (x, 1.02), xycoords=("data", "axes fraction"), ha="center", fontsize=7)
            plotted[label][r] = int(len(v))
        ticks.append(i * (len(RANGES) + 1) + 1)
        names.append(label)
    for y in (LOW_MAX, HIGH_MIN):
        ax.axhline(y, color="grey", lw=0.8, ls="--")
    # Every range keeps its slot (and its n= label) even when empty.
    ax.set_xlim(-0.8, len(labels) * (len(RANGES) + 1) - 1.2)
    ax.set_xticks(ticks, names, fontsize=8)
    ax.set_ylabel("cosine similarity of the chosen pairs")
    handles = [ax.scatter([], [], color=_RANGE_COLORS[r], label=f"{r}") for r in RANGES]
    ax.legend(handles=handles, title=f"range (≤{LOW_MAX:g} / ≥{HIGH_MIN:g})", fontsize=7, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10, pad=16)
    _save(fig, path)
    return plotted


def segment_colors(count: int) -> list:
    """``count`` distinguishable colours: tab20, then tab20b and tab20c (60
    in all), then evenly spaced along ``turbo`` for more."""
    from matplotlib import colormaps

    palette = [colormaps[name](k) for name in ("tab20", "tab20b", "tab20c") for k in range(20)]
    if count <= len(palette):
        return palette[:count]
    return [colormaps["turbo"](x) for x in np.linspace(0.02, 0.98, count)]


def stacked_counts(
    rows: Sequence[tuple[str, str, int]],
    path: str | os.PathLike,
    title: str = "",
    max_segments: int | None = None,
    xlabel: str = "pairs",
    legend_title: str = "",
) -> dict[str, dict[str, int]]:
    """Figure 5: one horizontal bar per category (music genre), stacked by
    segment (artistic style). Bars sorted by total. Every segment is drawn
    (default); with ``max_segments`` only that many of the most frequent are,
    and the rest are merged into one "other (K more)" segment.

    Writes the figure to ``path`` and returns what it plotted, read back from
    the drawn bars: ``{bar: {segment: count}}`` for every non-empty piece."""
    from matplotlib.figure import Figure

    if max_segments is not None and max_segments < 1:
        raise ValueError("max_segments must be >= 1 (or None: every segment)")
    totals_seg: dict[str, int] = defaultdict(int)
    totals_bar: dict[str, int] = defaultdict(int)
    for bar, seg, n in rows:
        totals_seg[seg] += n
        totals_bar[bar] += n
    segs = sorted(totals_seg, key=lambda s: (-totals_seg[s], s))
    shown = list(segs)
    merged = set()
    if max_segments is not None and len(segs) > max_segments:
        shown, merged = segs[:max_segments], set(segs[max_segments:])
        shown.append(f"other ({len(merged)} more)")
    bars = sorted(totals_bar, key=lambda b: (totals_bar[b], b))  # largest at the top
    index = {b: k for k, b in enumerate(bars)}
    column = {seg: k for k, seg in enumerate(shown)}
    data = np.zeros((len(bars), len(shown)))
    for bar, seg, n in rows:
        data[index[bar], len(shown) - 1 if seg in merged else column[seg]] += n
    fig = Figure(figsize=(9 + 2.2 * (len(shown) > 30), max(2.5, 0.28 * len(bars) + 1.5, 0.16 * min(len(shown), 30) + 1.0)))
    ax = fig.add_subplot()
    colors = segment_colors(len(shown))
    left = np.zeros(len(bars))
    containers = []
    for j, seg in enumerate(shown):
        containers.append((seg, ax.barh(bars, data[:, j], left=left, color=colors[j], label=seg, height=0.8)))
        left += data[:, j]
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left", title=legend_title or None, ncol=1 if len(shown) <= 30 else 2)
    if title:
        ax.set_title(title, fontsize=10)
    _save(fig, path)
    plotted: dict[str, dict[str, int]] = {b: {} for b in bars}
    for seg, container in containers:
        for bar, patch in zip(bars, container.patches):
            width = int(round(patch.get_width()))
            if width:
                plotted[bar][seg] = width
    return plotted
