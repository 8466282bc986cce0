"""Report figures (matplotlib, object API: no global pyplot state, safe in
worker threads, no display needed)."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from synesthesia.pipelines.matching import HIGH_MIN, LOW_MAX, RANGES, similarity_range

_RANGE_COLORS = {"low": "#4C72B0", "medium": "#DD8452", "high": "#55A868"}


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def similarity_violins(groups: Mapping[str, np.ndarray], path: str | os.PathLike, title: str = "") -> Path:
    """Figure 2: per pairing approach, one violin per similarity range (low
    ≤ 0.25, medium, high ≥ 0.6), labelled with its count. A range with fewer
    than two distinct values is drawn as points (a violin needs a spread)."""
    from matplotlib.figure import Figure

    labels = list(groups)
    fig = Figure(figsize=(max(5.0, 2.6 * len(labels)), 4.2))
    ax = fig.add_subplot()
    ticks, names = [], []
    for i, label in enumerate(labels):
        values = np.asarray(groups[label], dtype=np.float64)
        values = values[~np.isnan(values)]
        ranges = similarity_range(values)
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
    return _save(fig, path)


def stacked_counts(rows: Sequence[tuple[str, str, int]], path: str | os.PathLike, title: str = "", max_segments: int = 20, xlabel: str = "pairs", legend_title: str = "") -> Path:
    """Figure 5: one horizontal bar per category (music genre), stacked by
    segment (artistic style). Bars sorted by total; segments beyond the
    ``max_segments`` most frequent are merged into "other"."""
    from matplotlib.figure import Figure

    totals_seg: dict[str, int] = defaultdict(int)
    totals_bar: dict[str, int] = defaultdict(int)
    for bar, seg, n in rows:
        totals_seg[seg] += n
        totals_bar[bar] += n
    segs = sorted(totals_seg, key=lambda s: (-totals_seg[s], s))
    shown = segs[:max_segments]
    if len(segs) > max_segments:
        shown.append("other")
    bars = sorted(totals_bar, key=lambda b: (totals_bar[b], b))  # largest at the top
    index = {b: k for k, b in enumerate(bars)}
    data = np.zeros((len(bars), len(shown)))
    for bar, seg, n in rows:
        col = shown.index(seg) if seg in shown else len(shown) - 1
        data[index[bar], col] += n
    fig = Figure(figsize=(9, max(2.5, 0.28 * len(bars) + 1.5)))
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    left = np.zeros(len(bars))
    for j, seg in enumerate(shown):
        ax.barh(bars, data[:, j], left=left, color=cmap(j % 20), label=seg, height=0.8)
        left += data[:, j]
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left", title=legend_title or None)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)
