"""The sweep figure from rows shaped like ``dvc.api.exp_show()`` (one flat dict per experiment)."""

from __future__ import annotations

import pytest

from sentemb.errors import ConfigError
from sentemb.reporting.sweeps import fig_sweep, sweep_points

PARAM = "variants.simcse_unsup.loss_args.temperature"
METRIC = "scores.STSBenchmark"
ROWS = [
    # as dvc 3.67 returns them: the workspace and baseline rows have no experiment name
    {"Experiment": None, "rev": "workspace", "typ": "baseline", PARAM: 0.05, "metrics/eval/a.s42.json:" + METRIC: 80.0},
    {"Experiment": "main", "rev": "1a2b3c4", PARAM: 0.05, "metrics/eval/a.s42.json:" + METRIC: 80.0},
    {"Experiment": "tidy-frog", "rev": "5d6e7f8", PARAM: 1.0, "metrics/eval/a.s42.json:" + METRIC: 70.5},
    {"Experiment": "calm-owl", "rev": "9a8b7c6", PARAM: 0.001, "metrics/eval/a.s42.json:" + METRIC: 75.25},
    {"Experiment": "queued-one", "rev": "0f0f0f0", PARAM: 0.1, "metrics/eval/a.s42.json:" + METRIC: None},
]


def test_points_skip_workspace_and_unfinished_experiments() -> None:
    points = sweep_points(ROWS, PARAM, METRIC)
    assert points == [(0.001, 75.25, "calm-owl"), (0.05, 80.0, "main"), (1.0, 70.5, "tidy-frog")]


def test_figure_draws_the_points_on_a_log_axis() -> None:
    fig = fig_sweep(sweep_points(ROWS, PARAM, METRIC), PARAM, METRIC)
    ax = fig.axes[0]
    assert list(ax.lines[0].get_xdata()) == [0.001, 0.05, 1.0] and ax.get_xscale() == "log"
    assert list(ax.lines[0].get_ydata()) == [75.25, 80.0, 70.5]


def test_categorical_values_become_bars_and_ambiguity_raises() -> None:
    rows = [{"Experiment": "e1", "p": "avg", "m": 1.0}, {"Experiment": "e2", "p": "cls", "m": 2.0}]
    assert [b.get_width() for b in fig_sweep(sweep_points(rows, "p", "m"), "p", "m").axes[0].patches] == [1.0, 2.0]
    twice = [{"Experiment": "e", "p": 1, "a.json:m": 1.0, "b.json:m": 2.0}]
    with pytest.raises(ConfigError, match="ambiguous"):
        sweep_points(twice, "p", "m")
    with pytest.raises(ConfigError, match="no experiment"):
        sweep_points(ROWS, PARAM, "scores.MR")
