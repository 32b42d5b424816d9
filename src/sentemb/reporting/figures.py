"""PNG figures of the report (issue 6): every plot reads the same files as the tables, so a
figure can only show data the pipeline produced. Matplotlib with the Agg backend (no display).

Each ``fig_*`` function returns a Figure (tested for what it draws) and never invents a point:
a row without the data a figure needs is left out of that figure and named in its caption.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (the backend must be chosen first)
from matplotlib.figure import Figure  # noqa: E402

from sentemb.utils.io import atomic_open  # noqa: E402

LAYER_PANELS = (("anisotropy_baseline", "anisotropy baseline"), ("intra_sim_adjusted", "intra-sentence sim. (adj.)"),
                ("self_sim_content_adjusted", "self-sim. content (adj.)"),
                ("self_sim_function_adjusted", "self-sim. function (adj.)"), ("rogue_top1", "top-1 rogue share"),
                ("norm_mean", "mean token norm"))


def fig_layers(analyses: Mapping[str, dict[str, Any]]) -> Figure:
    """The docs/methods.md §6.1 metrics by layer, one line per row (isotropy, contextualisation, rogue dims,
    norms)."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (key, title) in zip(axes.flat, LAYER_PANELS):
        for row, doc in analyses.items():
            points = [(layer["layer"], layer[key]) for layer in doc["layers"] if layer.get(key) is not None]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", ms=3, label=row)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("layer")
    axes.flat[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def fig_align_uniform(points: Mapping[str, tuple[float, float]]) -> Figure:
    """SimCSE Figure 3: ℓ_uniform (x) against ℓ_align (y), lower-left is better."""
    fig, ax = plt.subplots(figsize=(7, 5))
    for row, (uniform, align) in points.items():
        ax.scatter([uniform], [align])
        ax.annotate(row, (uniform, align), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("uniformity (ℓ_uniform, lower is better)")
    ax.set_ylabel("alignment (ℓ_align, lower is better)")
    fig.tight_layout()
    return fig


def fig_trajectories(series: Mapping[str, Sequence[tuple[int, float, float]]]) -> Figure:
    """SimCSE Figure 2: (uniformity, alignment) every evaluation, arrows in step order."""
    fig, ax = plt.subplots(figsize=(7, 5))
    for row, pts in series.items():
        xs, ys = [p[1] for p in pts], [p[2] for p in pts]
        line, = ax.plot(xs, ys, marker="o", ms=3, label=row)
        ax.annotate(str(pts[-1][0]), (xs[-1], ys[-1]), fontsize=6, color=line.get_color())
    ax.set_xlabel("uniformity")
    ax.set_ylabel("alignment")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fig_curves(curves: Mapping[str, Sequence[tuple[float, float]]], ylabel: str) -> Figure:
    """One line per row of (step, value): training loss or STS-B dev over steps."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for row, pts in curves.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=row, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    return fig


def fig_bars(values: Mapping[str, float], xlabel: str) -> Figure:
    """Horizontal bars, one per row (e.g. STS Avg. per variant, batch hardness per strategy)."""
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(values) + 1.2))
    labels = list(values)
    ax.barh(labels, [values[k] for k in labels])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    finite = [v for v in values.values() if math.isfinite(v)]
    if finite:
        low = min(finite)
        ax.set_xlim(left=min(0.0, low) if low < 0 else low * 0.98)
    fig.tight_layout()
    return fig


def fig_forest(cells: Sequence[tuple[str, str, float, float, float, bool]]) -> Figure:
    """Forest plot: one panel per column (task and Avg.), one line per compared row: the
    difference from its reference and its 95% paired bootstrap interval; filled where the
    interval excludes 0, hollow where it does not, a dashed line at 0."""
    columns = list(dict.fromkeys(c[1] for c in cells))
    rows = list(dict.fromkeys(c[0] for c in cells))
    fig, axes = plt.subplots(1, len(columns), figsize=(2.2 * len(columns) + 3, 0.35 * len(rows) + 1.6), sharey=True,
                             squeeze=False)
    for ax, column in zip(axes[0], columns):
        for y, row in enumerate(rows):
            hit = [c for c in cells if c[0] == row and c[1] == column]
            if not hit:
                continue
            _, _, diff, low, high, significant = hit[0]
            ax.plot([low, high], [y, y], color="black", lw=1)
            ax.plot([diff], [y], "o", ms=5, color="black", markerfacecolor="black" if significant else "white")
        ax.axvline(0.0, ls="--", lw=0.8, color="grey")
        ax.set_title(column, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    axes[0][0].set_yticks(range(len(rows)), rows, fontsize=7)
    axes[0][0].invert_yaxis()
    fig.supxlabel("difference from the reference row (Spearman x100), 95% paired bootstrap interval", fontsize=8)
    fig.tight_layout()
    return fig


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG atomically, then close it."""
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
    return path
