"""The pair table's paired bootstrap (reporting/compare.py ``pair_comparisons``): each cell's
metric recomputed from the per-item outputs equals the stage's number, identical rows give an
interval around 0, a clearly better row is marked, n/a cells are skipped, and rows scored on
different items refuse to pair."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from sentemb.errors import DataError
from sentemb.pairs.metrics import classification_metrics
from sentemb.reporting.compare import pair_comparisons, pair_metric

N = 300
IDENTITY = np.arange(N)[None, :]


def _regression(seed: int, noise: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    gold = np.round(rng.uniform(0, 1, N) * 5) / 5  # ties, as STS-B's gold
    return {"cos": gold + noise * np.random.default_rng(seed + 1).normal(size=N), "gold": gold}


def _classification(accuracy: float, seed: int) -> dict[str, np.ndarray]:
    label = (np.random.default_rng(0).uniform(size=N) < 0.6).astype(np.int8)
    flip = np.random.default_rng(seed).uniform(size=N) > accuracy
    pred = np.where(flip, 1 - label, label).astype(np.int8)
    return {"pred_f1": pred, "pred_accuracy": pred, "label": label}


def test_cell_metrics_equal_the_stage_metrics_on_the_full_data() -> None:
    items = _regression(0, 0.3)
    spear, _, n = pair_metric("spearman", items, "x")
    pear, _, _ = pair_metric("pearson", items, "x")
    assert n == N
    assert spear(IDENTITY)[0] == pytest.approx(100 * spearmanr(items["cos"], items["gold"])[0], rel=1e-12)
    assert pear(IDENTITY)[0] == pytest.approx(100 * pearsonr(items["cos"], items["gold"])[0], rel=1e-12)
    rng = np.random.default_rng(3)
    dev_scores, dev_gold = rng.uniform(size=80), (rng.uniform(size=80) < 0.5).astype(float)
    scores, gold = rng.uniform(size=N), (rng.uniform(size=N) < 0.5).astype(float)
    out = classification_metrics(dev_scores, dev_gold, scores, gold)
    cls = {"pred_f1": (scores >= out["f1_threshold"]).astype(np.int8),
           "pred_accuracy": (scores >= out["accuracy_threshold"]).astype(np.int8), "label": gold.astype(np.int8)}
    assert pair_metric("f1", cls, "x")[0](IDENTITY)[0] == pytest.approx(out["f1"], rel=1e-12)
    assert pair_metric("accuracy", cls, "x")[0](IDENTITY)[0] == pytest.approx(out["accuracy"], rel=1e-12)
    per_query = {"per_query/mrr": rng.uniform(size=40)}
    assert pair_metric("mrr", per_query, "x")[0](np.arange(40)[None, :])[0] == pytest.approx(
        per_query["per_query/mrr"].mean())  # ranking metrics keep their 0-1 scale


def test_identical_rows_straddle_zero_and_a_better_row_is_marked() -> None:
    ref, same, better = _regression(0, 0.5), _regression(0, 0.5), _regression(0, 0.1)
    weak, strong = _classification(0.70, 1), _classification(0.95, 2)
    cells = {"STS-B Spearman": {"mse": ("spearman", "m", ref), "same": ("spearman", "s", same),
                                "bsc": ("spearman", "b", better)},
             "MRPC F1": {"mse": ("f1", "m", weak), "same": ("f1", "s", weak), "bsc": ("f1", "b", strong)}}
    out = pair_comparisons(cells, {"same": "mse", "bsc": "mse"}, n_resamples=500, seed=0)
    for column in cells:
        tie = out["same"][column]
        assert tie.diff == 0 and tie.low <= 0 <= tie.high and tie.p == 1 and not tie.significant
        win = out["bsc"][column]
        assert win.diff > 0 and win.low > 0 and win.significant
    again = pair_comparisons(cells, {"same": "mse", "bsc": "mse"}, n_resamples=500, seed=0)
    assert again == out  # seeded


def test_na_cells_are_not_compared_and_other_items_refuse_to_pair() -> None:
    ref, row = _regression(0, 0.5), _regression(0, 0.3)
    cells = {"STS-B Spearman": {"mse": ("spearman", "m", ref), "bsc": ("spearman", "b", row)},
             "CQA-A MAP": {"bsc": ("map", "b", {"per_query/map": np.ones(5)})}}  # the reference is n/a there
    out = pair_comparisons(cells, {"bsc": "mse"}, n_resamples=200, seed=0)
    assert set(out["bsc"]) == {"STS-B Spearman"}
    other = _regression(7, 0.3)  # other gold scores: not the same test pairs
    with pytest.raises(DataError, match="not the same test items"):
        pair_comparisons({"STS-B Spearman": {"mse": ("spearman", "m", ref), "bsc": ("spearman", "b", other)}},
                         {"bsc": "mse"}, n_resamples=200, seed=0)
    with pytest.raises(DataError, match=r"b: per-item outputs lack pred_f1"):
        pair_comparisons({"MRPC F1": {"mse": ("f1", "m", _classification(0.7, 1)),
                                      "bsc": ("f1", "b", {"label": np.zeros(N)})}},
                         {"bsc": "mse"}, n_resamples=200, seed=0)
