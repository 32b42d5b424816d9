"""The aggregate figure of an ablation sweep run as DVC experiments (README, "Ablation sweeps").

Each queued ``dvc exp run -S`` experiment of a sweep holds one value of the swept parameter and
its own metrics files. ``dvc.api.exp_show()`` returns one flat dict per experiment (keys: the
experiment name, rev, every param such as ``methods.simcse_unsup.loss_args.temperature`` and
every metric, prefixed by its file when names collide). ``sweep_points`` picks (param, metric)
from those rows and ``fig_sweep`` draws metric against param, one point per experiment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from sentemb.errors import ConfigError
from sentemb.reporting import figures


def _lookup(row: Mapping[str, Any], key: str) -> Any:
    """``row[key]``, or the one column whose name ends with ``:key`` (file-prefixed metrics)."""
    if key in row:
        return row[key]
    hits = [k for k in row if k.endswith(f":{key}")]
    if len(hits) > 1:
        raise ConfigError(f"'{key}' is ambiguous in dvc exp show: {', '.join(sorted(hits))}; give the file prefix")
    return row[hits[0]] if hits else None


def sweep_points(rows: Sequence[Mapping[str, Any]], param: str, metric: str) -> list[tuple[Any, float, str]]:
    """(param value, metric, experiment) for every experiment that has both; the workspace row and
    experiments without a finite metric (failed or queued) are left out, never drawn as 0."""
    out = []
    for row in rows:
        name = str(row.get("Experiment") or row.get("rev") or "")
        value, score = _lookup(row, param), _lookup(row, metric)
        if name == "workspace" or value is None or not isinstance(score, (int, float)) or not math.isfinite(score):
            continue
        out.append((value, float(score), name))
    if not out:
        raise ConfigError(f"no experiment has both '{param}' and a finite '{metric}' (run the sweep first)")
    return sorted(out, key=lambda p: (isinstance(p[0], str), p[0]))


def fig_sweep(points: Sequence[tuple[Any, float, str]], param: str, metric: str) -> Figure:
    """Metric against the swept value; a numeric spread over decades gets a log x axis."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v, _, _ in points)
    if not numeric:
        return figures.fig_bars({f"{v} ({name})": s for v, s, name in points}, metric)
    fig = figures.fig_curves({metric: [(v, s) for v, s, _ in points]}, metric)
    ax = fig.axes[0]
    ax.lines[0].set_marker("o")
    ax.set_xlabel(param)
    values = [v for v, _, _ in points]
    if min(values) > 0 and max(values) / min(values) >= 100:
        ax.set_xscale("log")
    return fig
