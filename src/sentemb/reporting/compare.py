"""Wire the per-item outputs of the evaluate stages into the paired bootstrap (``bootstrap.py``).

For one table: every row that names a reference row present in the table is compared with it,
task by task and on "Avg.", from the same resamples. Items come from ``<run>.items.npz``:

* STS task: ``<task>/cos`` and ``<task>/gold`` over the pairs the headline is computed on (all
  subsets concatenated for STS12-16); the metric is Spearman x100;
* transfer task: ``<task>/pred`` and ``<task>/label`` over the test examples (every example for
  the cross-validated tasks, from the outer fold that held it out); the metric is accuracy x100.

* pair task (``pair_comparisons``), from ``metrics/pairs/<run>.items.npz`` of the test split:
  ``cos``/``gold`` (Spearman or Pearson x100), ``pred_f1``/``pred_accuracy`` and ``label`` (F1 or
  accuracy x100, at each metric's dev threshold), ``per_query/<metric>`` (a ranking metric, the
  mean over queries, on its 0-1 scale). The pair table has no Avg. (its columns mix scales).

Two rows can only be paired on identical items: the gold scores / labels of both must be equal,
else the comparison raises (the rows were evaluated on different data). Ranking items carry no
labels, so there only the query counts are checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from sentemb.data.tasks import TASKS
from sentemb.errors import DataError
from sentemb.reporting.bootstrap import Column, Interval, compare, f1_x100, mean_x100, pearson_x100, spearman_x100

Items = Mapping[str, np.ndarray]


def load_items(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise DataError(path, "missing per-item outputs of an evaluation (the bootstrap needs them); rerun its stage")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _arrays(items: Items, task: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    keys = ("cos", "gold") if _is_sts(task) else ("pred", "label")
    missing = [f"{task}/{k}" for k in keys if f"{task}/{k}" not in items]
    if missing:
        raise DataError(source, f"per-item outputs lack {', '.join(missing)}")
    return items[f"{task}/{keys[0]}"], items[f"{task}/{keys[1]}"]


def _is_sts(task: str) -> bool:
    return TASKS[task].family == "sts"


def _metric(task: str, values: np.ndarray, truth: np.ndarray) -> partial:
    if _is_sts(task):
        return partial(spearman_x100, values, truth)
    return partial(mean_x100, (values == truth).astype(np.float64))


def _column(task: str, rows: Mapping[str, Sequence[tuple[str, Items]]]) -> Column:
    """One task's column: row id -> one metric per seed, all on the same items."""
    truth_of: np.ndarray | None = None
    metrics = {}
    for row, seeds in rows.items():
        metrics[row] = []
        for source, items in seeds:
            values, truth = _arrays(items, task, source)
            if truth_of is None:
                truth_of = truth
            elif truth.shape != truth_of.shape or not np.array_equal(truth, truth_of):
                raise DataError(source, f"{task}: not the same items as the other rows (different data?)")
            metrics[row].append(_metric(task, values, truth))
    assert truth_of is not None
    return Column(len(truth_of), metrics)


def table_comparisons(tasks: Sequence[str], references: Mapping[str, str],
                      items: Mapping[str, Sequence[tuple[str, Items]]], n_resamples: int,
                      seed: int) -> dict[str, dict[str, Interval]]:
    """Row id -> {task or "Avg.": Interval} for every row whose reference is among ``items``."""
    out: dict[str, dict[str, Interval]] = {}
    for ref in dict.fromkeys(references.values()):
        group = [row for row, r in references.items() if r == ref and row in items]
        if ref not in items or not group:
            continue
        rows = {row: items[row] for row in [ref, *group]}
        columns = {task: _column(task, rows) for task in tasks}
        out |= compare(columns, ref, n_resamples=n_resamples, seed=seed)
    return out


def pair_metric(metric: str, items: Items, source: str) -> tuple[partial, np.ndarray | None, int]:
    """A pair-table cell's metric on its per-item outputs: (metric, the truth it pairs on or None
    for ranking, number of items)."""
    def need(*keys: str) -> list[np.ndarray]:
        missing = [k for k in keys if k not in items]
        if missing:
            raise DataError(source, f"per-item outputs lack {', '.join(missing)} (needed for {metric})")
        return [items[k] for k in keys]

    if metric in ("spearman", "pearson"):
        cos, gold = need("cos", "gold")
        return partial(spearman_x100 if metric == "spearman" else pearson_x100, cos, gold), gold, len(gold)
    if metric in ("f1", "accuracy"):
        pred, label = need(f"pred_{metric}", "label")
        if metric == "f1":
            return partial(f1_x100, pred, label), label, len(label)
        return partial(mean_x100, (pred == label).astype(np.float64)), label, len(label)
    (values,) = need(f"per_query/{metric}")
    return partial(mean_x100, values, scale=1.0), None, len(values)


def pair_column(column: str, metric: str, rows: Mapping[str, tuple[str, Items]]) -> Column:
    """One pair-table column over ``rows`` (row id -> (source, items)), checked to pair."""
    truth_of: np.ndarray | None = None
    n_of: int | None = None
    metrics = {}
    for row, (source, items) in rows.items():
        fn, truth, n = pair_metric(metric, items, source)
        if n_of is not None and (n != n_of or (truth is not None and not np.array_equal(truth, truth_of))):
            raise DataError(source, f"{column}: not the same test items as the other rows (different data?)")
        truth_of, n_of = truth, n
        metrics[row] = [fn]
    assert n_of is not None
    return Column(n_of, metrics, averaged=False)


def pair_comparisons(cells: Mapping[str, Mapping[str, tuple[str, str, Items]]], references: Mapping[str, str],
                     n_resamples: int, seed: int) -> dict[str, dict[str, Interval]]:
    """Row id -> {column: Interval} for the pair table. ``cells[column][row] = (metric, source,
    items)`` holds the cells that exist (an n/a cell is absent); a row is compared in a column
    when it and its reference both have the cell there."""
    out: dict[str, dict[str, Interval]] = {}
    for column, by_row in cells.items():
        for ref in dict.fromkeys(references.values()):
            group = [row for row, r in references.items() if r == ref and row in by_row]
            if ref not in by_row or not group:
                continue
            metric = by_row[ref][0]
            col = pair_column(column, metric, {row: by_row[row][1:] for row in [ref, *group]})
            for row, intervals in compare({column: col}, ref, n_resamples=n_resamples, seed=seed).items():
                out.setdefault(row, {}).update(intervals)  # type: ignore[arg-type]
    return out


class Timer:
    """Wall time of the bootstrap, for the report (the issue asks for its cost)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.comparisons = 0

    def run(self, *args: object, **kwargs: object) -> dict[str, dict[str, Interval]]:
        return self.measure(table_comparisons, *args, **kwargs)

    def measure(self, fn: Callable[..., dict[str, dict[str, Interval]]], *args: object,
                **kwargs: object) -> dict[str, dict[str, Interval]]:
        started = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds += time.perf_counter() - started
        self.comparisons += len(out)
        return out
