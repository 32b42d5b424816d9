"""STS scoring on synthetic data with known answers (docs/methods.md §0.2)."""

from __future__ import annotations

import numpy as np
import pytest

from sentemb.data.records import Example, TaskData
from sentemb.errors import DataError
from sentemb.evaluation.sts import cosine_scores, headline, score_sts_task
from sentemb.evaluation.tasks import rounded_mean, task_names


def _angle_embed(angles: dict[str, float]):
    """texts 'x<i>' map to unit vectors at the given angle; 'ref' is the x-axis."""

    def embed(texts):
        return np.array([[1.0, 0.0] if t == "ref" else [np.cos(angles[t]), np.sin(angles[t])] for t in texts],
                        dtype=np.float32)

    return embed


def _task(name: str, splits: dict[str, list[float]], gold: dict[str, list[float]]):
    """A task whose pair i of a split has cosine cos(angle_i) and the given gold score."""
    angles, data = {}, {}
    for split, split_angles in splits.items():
        exs = []
        for i, (a, g) in enumerate(zip(split_angles, gold[split])):
            key = f"{split}-{i}"
            angles[key] = a
            exs.append(Example(text_a="ref", text_b=key, label=g))
        data[split] = exs
    return TaskData(name, "sts", data), _angle_embed(angles)


def _rank_spearman(x, y):
    """Independent reference: Pearson correlation of ranks (inputs have no ties)."""
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def test_spearman_known_value_and_aggregations() -> None:
    # Subset A: cosine ranks 1..5 (angles decrease), gold ranks [2,1,4,3,5] -> rho = 1 - 6*4/120 = 0.8.
    a_angles = [1.4, 1.2, 1.0, 0.8, 0.6]
    a_gold = [2.0, 1.0, 4.0, 3.0, 5.0]
    # Subset B: perfectly monotone -> rho = 1.
    b_angles = [1.3, 0.9, 0.5]
    b_gold = [0.5, 2.5, 4.5]
    task, embed = _task("STS12", {"A": a_angles, "B": b_angles}, {"A": a_gold, "B": b_gold})
    result = score_sts_task(task, embed)
    assert result["splits"]["A"]["spearman"] == pytest.approx(0.8)
    assert result["splits"]["B"]["spearman"] == pytest.approx(1.0)
    agg = result["aggregate"]["spearman"]
    assert agg["mean"] == pytest.approx(0.9)
    assert agg["wmean"] == pytest.approx((5 * 0.8 + 3 * 1.0) / 8)
    expected_all = _rank_spearman(np.cos(a_angles + b_angles), a_gold + b_gold)
    assert agg["all"] == pytest.approx(expected_all)
    assert headline("STS12", result, "test") == pytest.approx(100 * expected_all)
    assert result["n"] == 8


def test_sts_b_headline_is_test_split_and_dev_in_dev_mode() -> None:
    angles = {"train": [1.0, 0.5, 0.2], "dev": [0.2, 0.5, 1.0], "test": [1.2, 0.7, 0.3]}
    gold = {"train": [1.0, 2.0, 3.0], "dev": [1.0, 2.0, 3.0], "test": [1.0, 2.0, 3.0]}
    task, embed = _task("STSBenchmark", angles, gold)
    result = score_sts_task(task, embed)
    assert headline("STSBenchmark", result, "test") == pytest.approx(100.0)
    assert headline("STSBenchmark", result, "dev") == pytest.approx(-100.0)


def test_zero_vector_counts_as_zero_similarity_but_nan_raises() -> None:
    u = np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    v = np.array([[1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    assert cosine_scores(u, v).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="NaN"):
        cosine_scores(np.array([[np.nan, 0.0]]), v[:1])


def test_constant_similarity_raises_instead_of_reporting_nan() -> None:
    task, embed = _task("STS13", {"A": [0.5, 0.5, 0.5]}, {"A": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match="STS13 subset A: the model gives every pair the same similarity"):
        score_sts_task(task, embed)
    task, embed = _task("STS13", {"A": [0.1, 0.5, 0.9]}, {"A": [3.0, 3.0, 3.0]})
    with pytest.raises(DataError, match=r"STS13 subset A: all 3 gold scores are equal \(3\): the correlation"):
        score_sts_task(task, embed)


def test_average_rounds_each_score_first() -> None:
    # 0.005 + 0.004: rounding first gives (0.01 + 0.0) / 2 = 0.005 -> 0.01 (banker's-safe values used)
    assert rounded_mean([76.854, 72.226]) == round((76.85 + 72.23) / 2, 2)
    assert rounded_mean([1.006, 1.006, 1.006]) == 1.01
    with pytest.raises(ValueError):
        rounded_mean([])


def test_task_sets() -> None:
    assert task_names("sts", "test")[:2] == ["STS12", "STS13"] and len(task_names("sts", "test")) == 7
    assert task_names("sts", "dev") == ["STSBenchmark", "SICKRelatedness"]
    assert len(task_names("all", "test")) == 14
