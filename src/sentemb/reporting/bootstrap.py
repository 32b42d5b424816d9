"""Paired bootstrap intervals for "row minus reference row" in the score tables.

A table cell is one number per task, but two rows evaluated on the same few thousand items can
differ by chance in which items happen to be easy. The paired bootstrap answers "would this gap
survive another draw of test items?": items (STS pairs, transfer test examples, pair-task pairs
or queries) are resampled with replacement, the **same** resampled indices score every row and
every seed, and the distribution of the per-resample difference gives the interval. Pairing
removes the item-difficulty variance that both rows share, which is most of it.

* A metric is a callable ``idx -> (B,)``: its value on each row of a ``(B, n)`` index matrix. The
  identity row ``arange(n)`` gives the full-data score, so point estimate and resamples come from
  one code path. ``spearman_x100``, ``pearson_x100``, ``mean_x100`` and ``f1_x100`` cover the tables' metrics (bind
  the data with ``functools.partial``; the index comes last for that reason).
* Several seeds: a row's value on a resample is the mean over its seeds of the metric on that
  resample; its point estimate is the mean over seeds on the full data. Items are resampled,
  seeds are not: the interval is about test-set sampling given the trained models, not about
  training variance (the tables' ± std over seeds shows that).
* Reproducibility: one ``np.random.default_rng(seed)`` draws one index matrix per column, in the
  columns' order; rows never consume random numbers, so adding or removing a row does not change
  the others' intervals, and "Avg." is computed from the very resamples of its columns.
* "Avg." is the mean over the averaged columns of the unrounded scores (the tables average the
  rounded cells: at most 0.005 apart).

Interval: percentile bounds of the bootstrap differences, not BCa. BCa's acceleration needs a
jackknife (n leave-one-out evaluations per column and row, as costly again as the bootstrap), and
for differences of correlations and accuracies over thousands of items the bootstrap distribution
is close to symmetric and centred (bias z0 and acceleration both ~0.01 or less): on synthetic
STS-sized tasks (n = 1500 and 4927) the BCa bounds moved by at most 0.08 points, no more than the
Monte Carlo noise of a bound at B = 2000 (~0.06). Percentile intervals run slightly narrow on
small n; the coverage test checks ~95% at n = 150.
The p-value has a resolution of 2/B (0 means "below 2/B", not "impossible").

Cost: Spearman on a resample needs average ranks with ties (gold scores have many). Ranking each
resample with a sort is the expensive part; instead the values' tie groups are found once
(``np.unique``), each resample counts its items per group, and a cumulative sum of the counts
gives every group's average rank: O(B·n) with no per-resample sort, exactly ``spearmanr``'s
result. Resamples are evaluated in chunks of at most ``CHUNK_ELEMENTS`` index entries so the
work arrays stay small. Measured: 7 STS tasks (3108/1500/3750/3000/1186/1379/4927 pairs),
B = 2000, one row against a reference, one seed each: 2.1-2.5 s on one CPU core (AMD EPYC, numpy
2.4), peak resident memory ~130 MB for the whole process; ranking each resample with
``rankdata(axis=1)`` instead took ~15 s. The cost is linear in B and in the metric evaluations:
a table of R compared rows with S seeds each costs about (R + 1) x S times half of that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Metric = Callable[[np.ndarray], np.ndarray]  # (B, n) int indices -> (B,) metric values
AVERAGE = "Avg."
CHUNK_ELEMENTS = 1_000_000  # index entries evaluated at once (work arrays of ~8 MB each)


@dataclass(frozen=True)
class Interval:
    """Difference row - reference: the full-data point estimate and the bootstrap summary."""

    diff: float  # point difference on the full data
    low: float  # percentile bounds of the bootstrap distribution of the difference
    high: float
    p: float  # two-sided bootstrap p-value: min(1, 2 min(P(d* <= 0), P(d* >= 0)))

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Column:
    """One task: ``metrics`` maps row label -> one metric per seed, all over the same ``n_items``
    items (the STS12-16 pairs of all subsets concatenated, the test examples, the queries)."""

    n_items: int
    metrics: Mapping[str, Sequence[Metric]]
    averaged: bool = True  # enters "Avg." (False for columns on another scale)


def draw(n_items: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_resamples, n_items)`` item indices drawn with replacement."""
    if n_items < 2 or n_resamples < 1:
        raise ValueError(f"a bootstrap needs >= 2 items and >= 1 resample (got {n_items}, {n_resamples})")
    return rng.integers(0, n_items, size=(n_resamples, n_items), dtype=np.int32 if n_items < 2**31 else np.int64)


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError(f"{what} must be a finite 1-d array")
    return values


def _ranks(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions, as ``rankdata``) of ``values[idx]``
    within each row of ``idx``: per tie group, ranks below = items of smaller groups drawn, and the
    group's rank is that plus (its count + 1) / 2."""
    _, group = np.unique(values, return_inverse=True)
    n_groups = int(group.max()) + 1
    g = group.reshape(-1)[idx]  # (b, n) tie group of every drawn item
    b = idx.shape[0]
    counts = np.bincount((g + n_groups * np.arange(b)[:, None]).ravel(), minlength=b * n_groups)
    counts = counts.reshape(b, n_groups)
    rank = np.cumsum(counts, axis=1) - (counts - 1) / 2.0  # below + (count + 1) / 2
    return np.take_along_axis(rank, g, axis=1)


def spearman_x100(scores: np.ndarray, gold: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """100 x Spearman of ``scores[idx[b]]`` against ``gold[idx[b]]`` for every resample ``b``
    (equal to ``scipy.stats.spearmanr``; NaN where a resample is constant in either)."""
    scores, gold = _finite(scores, "scores"), _finite(gold, "gold")
    if len(scores) != len(gold):
        raise ValueError(f"{len(scores)} scores for {len(gold)} gold values")
    middle = (idx.shape[1] + 1) / 2.0  # the mean of n average ranks, whatever the ties
    x = _ranks(scores, idx) - middle
    y = _ranks(gold, idx) - middle
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * np.einsum("ij,ij->i", x, y) / np.sqrt(np.einsum("ij,ij->i", x, x) * np.einsum("ij,ij->i", y, y))


def pearson_x100(scores: np.ndarray, gold: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """100 x Pearson of ``scores[idx[b]]`` against ``gold[idx[b]]`` for every resample ``b``
    (equal to ``scipy.stats.pearsonr``; NaN where a resample is constant in either)."""
    scores, gold = _finite(scores, "scores"), _finite(gold, "gold")
    if len(scores) != len(gold):
        raise ValueError(f"{len(scores)} scores for {len(gold)} gold values")
    x, y = scores[idx], gold[idx]
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * np.einsum("ij,ij->i", x, y) / np.sqrt(np.einsum("ij,ij->i", x, x) * np.einsum("ij,ij->i", y, y))


def mean_x100(values: np.ndarray, idx: np.ndarray, scale: float = 100.0) -> np.ndarray:
    """``scale`` x the mean of ``values`` over each resample: accuracy from 0/1 correctness, or a
    ranking metric from per-query values (``scale=1`` keeps MRR, MAP, P@1 in [0, 1])."""
    return scale * _finite(values, "values")[idx].mean(axis=1)


def _binary(values: np.ndarray, what: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or not np.isin(values, (0, 1)).all():
        raise ValueError(f"{what} must be a 1-d array of 0/1 labels")
    return values.astype(bool)


def f1_x100(pred: np.ndarray, gold: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """100 x F1 of the positive class (``sklearn.metrics.f1_score`` with its defaults: 0 where a
    resample has no predicted and no true positive)."""
    if len(pred) != len(gold):
        raise ValueError(f"{len(pred)} predictions for {len(gold)} labels")
    pred, gold = _binary(pred, "pred")[idx], _binary(gold, "gold")[idx]
    tp = (pred & gold).sum(axis=1)
    wrong = (pred != gold).sum(axis=1)  # false positives + false negatives
    denominator = 2 * tp + wrong
    return 100.0 * np.divide(2 * tp, denominator, out=np.zeros(len(tp)), where=denominator > 0)


def _evaluate(metric: Metric, idx: np.ndarray, where: str, strict: bool) -> np.ndarray:
    """``metric`` over the rows of ``idx``, in chunks that bound the work arrays. ``strict``: a
    non-finite value raises (the full data); otherwise it is returned as NaN (a resample on which
    the metric is undefined, e.g. constant gold among very few items)."""
    step = max(1, CHUNK_ELEMENTS // idx.shape[1])
    out = np.concatenate([np.asarray(metric(idx[s:s + step]), dtype=np.float64) for s in range(0, len(idx), step)])
    if out.shape != (len(idx),):
        raise ValueError(f"{where}: the metric returned shape {out.shape}, not one value per resample")
    if strict and not np.isfinite(out).all():
        raise ValueError(f"{where}: the metric is not finite on the full data (constant scores or gold?)")
    return out


def _seed_mean(metrics: Sequence[Metric], idx: np.ndarray, where: str, strict: bool = False) -> np.ndarray:
    if not metrics:
        raise ValueError(f"{where}: no seed")
    return np.mean([_evaluate(m, idx, f"{where} seed {k}", strict) for k, m in enumerate(metrics)], axis=0)


def interval(diff: float, replicates: np.ndarray, confidence: float = 0.95) -> Interval | None:
    """Percentile interval and two-sided p-value of the bootstrap differences ``replicates``;
    None when the metric is undefined on some resample: no interval rather than one computed on
    the resamples that happened to be defined (that would be biased toward the easy ones)."""
    if not np.isfinite(replicates).all():
        return None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha])
    p = min(1.0, 2.0 * min(float(np.mean(replicates <= 0)), float(np.mean(replicates >= 0))))
    return Interval(float(diff), float(low), float(high), p)


def compare(columns: Mapping[str, Column], reference: str, n_resamples: int = 2000, seed: int = 0,
            confidence: float = 0.95) -> dict[str, dict[str, Interval | None]]:
    """For every row but ``reference``: column name -> Interval of row - reference, plus "Avg."
    over the averaged columns from the same resamples (None where undefined on a resample; see
    ``interval``). Every column must score the same rows."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if AVERAGE in columns:
        raise ValueError(f"a column may not be named {AVERAGE!r}: that name is the average's")
    if not columns:
        return {}
    labels = list(next(iter(columns.values())).metrics)
    if reference not in labels:
        raise ValueError(f"reference row {reference!r} is not among the rows {labels}")
    for name, column in columns.items():  # before any work: a mismatch is a wiring error
        if set(column.metrics) != set(labels):
            raise ValueError(f"column {name} scores rows {sorted(column.metrics)}, not {sorted(labels)}")
    rng = np.random.default_rng(seed)
    points: dict[str, dict[str, float]] = {label: {} for label in labels if label != reference}
    replicates: dict[str, dict[str, np.ndarray]] = {label: {} for label in points}
    for name, column in columns.items():
        idx = draw(column.n_items, n_resamples, rng)
        identity = np.arange(column.n_items)[None, :]
        ref_point = _seed_mean(column.metrics[reference], identity, f"{name}/{reference}", strict=True)[0]
        ref = _seed_mean(column.metrics[reference], idx, f"{name}/{reference}")
        for label in points:
            point = _seed_mean(column.metrics[label], identity, f"{name}/{label}", strict=True)[0]
            points[label][name] = point - ref_point
            replicates[label][name] = _seed_mean(column.metrics[label], idx, f"{name}/{label}") - ref
    averaged = [name for name, column in columns.items() if column.averaged]
    out: dict[str, dict[str, Interval | None]] = {}
    for label in points:
        out[label] = {name: interval(points[label][name], replicates[label][name], confidence) for name in columns}
        if averaged:
            out[label][AVERAGE] = interval(np.mean([points[label][n] for n in averaged]),
                                           np.mean([replicates[label][n] for n in averaged], axis=0), confidence)
    return out
