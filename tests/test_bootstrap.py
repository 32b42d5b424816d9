"""Paired bootstrap on synthetic data whose answer is known."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, f1_score

import sentemb.reporting.bootstrap as bs
from sentemb.reporting.bootstrap import Column, compare, draw, f1_x100, mean_x100, spearman_x100


def _sts(n: int, noise: float, rng: np.random.Generator, gold: np.ndarray | None = None):
    """Gold scores on a 0-5 grid of steps 0.2 (many ties) and cosines = gold + noise."""
    gold = np.round(rng.uniform(0, 5, n) * 5) / 5 if gold is None else gold
    return gold, gold + rng.normal(0, noise, n)


def _spearman_column(gold: np.ndarray, rows: dict[str, list[np.ndarray]], averaged: bool = True) -> Column:
    return Column(len(gold), {label: [partial(spearman_x100, s, gold) for s in seeds] for label, seeds in rows.items()},
                  averaged)


def test_identical_rows_give_zero_and_p_one():
    gold, scores = _sts(300, 1.0, np.random.default_rng(0))
    same = partial(spearman_x100, scores, gold)
    correct = (np.random.default_rng(1).random(200) < 0.8).astype(float)
    out = compare({"STS": Column(300, {"row": [same], "ref": [same]}),
                   "MR": Column(200, {"row": [partial(mean_x100, correct)], "ref": [partial(mean_x100, correct)]})},
                  "ref", n_resamples=200)
    assert set(out) == {"row"} and set(out["row"]) == {"STS", "MR", "Avg."}
    for iv in out["row"].values():
        assert iv.diff == 0 and iv.low <= 0 <= iv.high
        assert iv.p == 1.0 and not iv.significant


def test_clearly_better_row_is_significant():
    rng = np.random.default_rng(0)
    gold, good = _sts(1000, 0.5, rng)
    _, bad = _sts(1000, 2.0, rng, gold)
    iv = compare({"STS": _spearman_column(gold, {"good": [good], "bad": [bad]})}, "bad", n_resamples=500)["good"]
    assert iv["STS"].diff > 0 and iv["STS"].low > 0 and iv["STS"].p < 0.05 and iv["STS"].significant
    assert iv["Avg."] == iv["STS"]  # one averaged column: the average is that column
    worse = compare({"STS": _spearman_column(gold, {"good": [good], "bad": [bad]})}, "good", n_resamples=500)["bad"]
    assert worse["STS"].high < 0 and worse["STS"].significant


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 6, 400).astype(float)  # six values: heavy ties
    scores = np.round(gold + rng.normal(0, 1.5, 400), 1)  # ties in the scores too
    full = spearman_x100(scores, gold, np.arange(400)[None, :])
    assert full.shape == (1,)
    assert full[0] == pytest.approx(100 * spearmanr(scores, gold)[0], abs=1e-10)
    idx = draw(400, 30, rng)
    values = spearman_x100(scores, gold, idx)
    for b in (0, 7, 29):
        assert values[b] == pytest.approx(100 * spearmanr(scores[idx[b]], gold[idx[b]])[0], abs=1e-10)


def test_accuracy_f1_and_ranking_means_on_resamples():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 150)
    pred = np.where(rng.random(150) < 0.75, labels, 1 - labels)
    idx = draw(150, 20, rng)
    acc = mean_x100((pred == labels).astype(float), idx)
    f1 = f1_x100(pred, labels, idx)
    for b in range(20):
        assert acc[b] == pytest.approx(100 * accuracy_score(labels[idx[b]], pred[idx[b]]))
        assert f1[b] == pytest.approx(100 * f1_score(labels[idx[b]], pred[idx[b]]))
    # hand-computed: items 0 (tp), 1 (fp), 2 (fn), 3 (tn); resample [0, 0, 1, 2] -> F1 = 4/6
    hand = f1_x100(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]), np.array([[0, 0, 1, 2], [3, 3, 3, 3]]))
    assert hand == pytest.approx([100 * 4 / 6, 0.0])  # no positive at all: 0, as sklearn
    reciprocal = np.array([1.0, 0.5, 0.0, 1 / 3])  # per-query MRR values, kept in [0, 1]
    assert mean_x100(reciprocal, np.array([[0, 1, 1, 3]]), scale=1.0) == pytest.approx([(1 + 0.5 + 0.5 + 1 / 3) / 4])


def _three_tasks(seed: int = 0) -> dict[str, Column]:
    rng = np.random.default_rng(seed)
    cols = {}
    for name, n in (("A", 300), ("B", 200)):
        gold, row = _sts(n, 0.8, rng)
        _, ref = _sts(n, 1.0, rng, gold)
        cols[name] = _spearman_column(gold, {"row": [row], "ref": [ref]})
    correct_row, correct_ref = (rng.random((2, 250)) < [[0.8], [0.78]]).astype(float)
    cols["C"] = Column(250, {"row": [partial(mean_x100, correct_row)], "ref": [partial(mean_x100, correct_ref)]})
    gold, row = _sts(100, 0.5, rng)
    cols["D"] = _spearman_column(gold, {"row": [row], "ref": [row[::-1].copy()]}, averaged=False)
    return cols


def test_reproducible_and_average_from_the_same_resamples():
    cols = _three_tasks()
    first = compare(cols, "ref", n_resamples=300, seed=5)
    assert compare(cols, "ref", n_resamples=300, seed=5) == first
    other = compare(cols, "ref", n_resamples=300, seed=6)
    assert other["row"]["A"].diff == first["row"]["A"].diff
    assert (other["row"]["A"].low, other["row"]["A"].high) != (first["row"]["A"].low, first["row"]["A"].high)
    # by hand: one generator, one index matrix per column in order; Avg. over A, B, C only
    rng = np.random.default_rng(5)
    diffs, points = {}, {}
    for name, col in cols.items():
        idx = draw(col.n_items, 300, rng)
        row, ref = col.metrics["row"][0], col.metrics["ref"][0]
        diffs[name] = row(idx) - ref(idx)
        full = np.arange(col.n_items)[None, :]
        points[name] = (row(full) - ref(full))[0]
    avg = np.mean([diffs[n] for n in "ABC"], axis=0)
    got = first["row"]["Avg."]
    assert got.diff == pytest.approx(np.mean([points[n] for n in "ABC"]))
    assert (got.low, got.high) == pytest.approx(tuple(np.quantile(avg, [0.025, 0.975])))
    assert got.p == pytest.approx(min(1.0, 2 * min(np.mean(avg <= 0), np.mean(avg >= 0))))
    unaveraged = first["row"]["D"]
    assert (unaveraged.low, unaveraged.high) == pytest.approx(tuple(np.quantile(diffs["D"], [0.025, 0.975])))


def test_adding_a_row_or_chunking_changes_nothing(monkeypatch):
    cols = _three_tasks()
    base = compare(cols, "ref", n_resamples=200, seed=1)
    extra = {name: Column(c.n_items, {**c.metrics, "copy": c.metrics["ref"]}, c.averaged) for name, c in cols.items()}
    wider = compare(extra, "ref", n_resamples=200, seed=1)
    assert wider["row"] == base["row"] and wider["copy"]["A"].p == 1.0
    monkeypatch.setattr(bs, "CHUNK_ELEMENTS", 1000)  # several chunks per column
    chunked = compare(cols, "ref", n_resamples=200, seed=1)
    for name, iv in base["row"].items():
        assert chunked["row"][name].low == pytest.approx(iv.low) and chunked["row"][name].high == pytest.approx(iv.high)


def test_seeds_are_averaged_on_shared_resamples():
    rng = np.random.default_rng(4)
    gold, s1 = _sts(200, 0.6, rng)
    _, s2 = _sts(200, 1.2, rng, gold)
    _, ref = _sts(200, 1.0, rng, gold)
    seen: list[np.ndarray] = []

    def spy(scores):
        def metric(idx):
            seen.append(idx)
            return spearman_x100(scores, gold, idx)
        return metric

    out = compare({"T": Column(200, {"row": [spy(s1), spy(s2)], "ref": [spy(ref)]})}, "ref", n_resamples=100, seed=3)
    full = np.arange(200)[None, :]
    point = (spearman_x100(s1, gold, full) + spearman_x100(s2, gold, full)) / 2 - spearman_x100(ref, gold, full)
    assert out["row"]["T"].diff == pytest.approx(point[0])
    resampled = [idx for idx in seen if idx.shape[0] == 100]
    assert len(resampled) == 3 and all(np.array_equal(idx, resampled[0]) for idx in resampled)
    idx = draw(200, 100, np.random.default_rng(3))
    assert np.array_equal(resampled[0], idx)
    d = (spearman_x100(s1, gold, idx) + spearman_x100(s2, gold, idx)) / 2 - spearman_x100(ref, gold, idx)
    assert (out["row"]["T"].low, out["row"]["T"].high) == pytest.approx(tuple(np.quantile(d, [0.025, 0.975])))


def test_coverage_under_no_true_difference():
    """Two rows with the same noise level: the population difference is 0, so the 95% interval
    should contain 0 in about 95% of datasets (percentile intervals run a little narrow)."""
    rng = np.random.default_rng(7)
    covered = 0
    trials = 200
    for t in range(trials):
        gold, a = _sts(150, 1.0, rng)
        _, b = _sts(150, 1.0, rng, gold)
        iv = compare({"T": _spearman_column(gold, {"a": [a], "b": [b]})}, "b", n_resamples=200, seed=t)["a"]["T"]
        covered += iv.low <= 0 <= iv.high
    assert 0.90 <= covered / trials <= 0.99


def test_invalid_inputs_raise():
    gold = np.array([1.0, 2.0, 3.0, 4.0])
    flat = partial(spearman_x100, np.ones(4), gold)  # constant scores: Spearman undefined
    ok = partial(spearman_x100, np.array([1.0, 3.0, 2.0, 4.0]), gold)
    with pytest.raises(ValueError, match="not finite on the full data"):
        compare({"T": Column(4, {"row": [flat], "ref": [ok]})}, "ref", n_resamples=10)
    # defined on the full data, undefined on some resample of 4 items: no interval rather than a biased one
    other = partial(spearman_x100, np.array([2.0, 1.0, 3.0, 4.0]), gold)
    assert compare({"T": Column(4, {"row": [other], "ref": [ok]})}, "ref", n_resamples=200)["row"] == {
        "T": None, "Avg.": None}
    with pytest.raises(ValueError, match="reference row"):
        compare({"T": Column(4, {"row": [ok]})}, "ref")
    with pytest.raises(ValueError, match="scores rows"):
        compare({"T": Column(4, {"row": [ok], "ref": [ok]}), "U": Column(4, {"row": [ok]})}, "ref")
    with pytest.raises(ValueError, match="Avg"):
        compare({"Avg.": Column(4, {"row": [ok], "ref": [ok]})}, "ref")
    with pytest.raises(ValueError, match="0/1"):
        f1_x100(np.array([0, 2]), np.array([0, 1]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="finite"):
        spearman_x100(np.array([0.0, np.nan]), np.array([0.0, 1.0]), np.array([[0, 1]]))
