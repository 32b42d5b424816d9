"""Wire the per-item outputs of the evaluate stages into the paired bootstrap (``bootstrap.py``).

For one table: every row that names a reference row present in the table is compared with it,
task by task and on "Avg.", from the same resamples. Items come from ``<run>.items.npz``:

* STS task: ``<task>/cos`` and ``<task>/gold`` over the pairs the headline is computed on (all
  subsets concatenated for STS12-16); the metric is Spearman x100;
* transfer task: ``<task>/pred`` and ``<task>/label`` over the test examples (every example for
  the cross-validated tasks, from the outer fold that held it out); the metric is accuracy x100.

Two rows can only be paired on identical items: the gold scores / labels of both must be equal,
else the comparison raises (the rows were evaluated on different data).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from sentemb.data.tasks import TASKS
from sentemb.errors import DataError
from sentemb.reporting.bootstrap import Column, Interval, compare, mean_x100, spearman_x100

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


class Timer:
    """Wall time of the bootstrap, for the report (the issue asks for its cost)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.comparisons = 0

    def run(self, *args: object, **kwargs: object) -> dict[str, dict[str, Interval]]:
        started = time.perf_counter()
        out = table_comparisons(*args, **kwargs)  # type: ignore[arg-type]
        self.seconds += time.perf_counter() - started
        self.comparisons += len(out)
        return out
