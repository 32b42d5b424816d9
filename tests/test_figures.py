"""The report's PNG figures draw exactly the data they are given and open as images."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import pytest

from sentemb.reporting import figures


def _analysis(offset: float) -> dict:
    keys = [k for k, _ in figures.LAYER_PANELS]
    return {"layers": [{"layer": i, **{k: offset + i for k in keys}} for i in range(3)]}


def test_layer_figure_has_one_line_per_row_with_the_values(tmp_path: Path) -> None:
    fig = figures.fig_layers({"a": _analysis(0.0), "b": _analysis(1.0)})
    first = fig.axes[0]
    assert [line.get_label() for line in first.lines] == ["a", "b"]
    assert list(first.lines[1].get_ydata()) == [1.0, 2.0, 3.0]
    path = figures.save(fig, tmp_path / "layers.png")
    assert mpimg.imread(path).ndim == 3  # a real PNG


def test_layer_figure_skips_undefined_points() -> None:
    doc = _analysis(0.0)
    doc["layers"][1]["self_sim_function_adjusted"] = None  # no function type in that layer
    fig = figures.fig_layers({"a": doc})
    panel = next(ax for ax in fig.axes if ax.get_title().startswith("self-sim. function"))
    assert list(panel.lines[0].get_xdata()) == [0, 2]


def test_align_uniform_scatter_and_trajectories() -> None:
    fig = figures.fig_align_uniform({"a": (-3.0, 0.2), "b": (-2.0, 0.1)})
    offsets = [tuple(c.get_offsets()[0]) for c in fig.axes[0].collections]
    assert offsets == [(-3.0, 0.2), (-2.0, 0.1)]
    traj = figures.fig_trajectories({"a": [(0, -2.0, 0.1), (10, -2.5, 0.15)]})
    assert list(traj.axes[0].lines[0].get_xdata()) == [-2.0, -2.5]


def test_bars_and_curves() -> None:
    fig = figures.fig_bars({"x": 75.0, "y": 76.5}, "STS Avg.")
    assert [p.get_width() for p in fig.axes[0].patches] == pytest.approx([75.0, 76.5])
    curves = figures.fig_curves({"v": [(1, 2.0), (2, 1.0)]}, "loss")
    assert list(curves.axes[0].lines[0].get_ydata()) == [2.0, 1.0]
