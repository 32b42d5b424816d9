"""Pair tasks (label normalisation, MRPC dev cut, the TSV reader's errors) and the pair metrics on
data with known answers (docs/methods.md §4.6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import MIRROR
from sentemb.errors import DataError
from sentemb.pairs.metrics import (
    accuracy_at,
    best_threshold,
    classification_metrics,
    f1_at,
    regression_metrics,
)
from sentemb.pairs.tasks import MRPC_DEV_FRACTION, load_offline_task, read_pair_file

DOWN = MIRROR / "senteval/downstream"


def test_graded_labels_are_normalised_to_unit_interval() -> None:
    stsb = load_offline_task("STSBenchmark", DOWN)
    raw = (DOWN / "STS/STSBenchmark/sts-train.csv").read_text(encoding="utf-8").splitlines()[0].split("\t")[4]
    assert stsb.kind == "regression" and stsb.splits["train"][0].label == pytest.approx(float(raw) / 5)
    sick = load_offline_task("SICKRelatedness", DOWN)
    raw = (DOWN / "SICK/SICK_train.txt").read_text(encoding="utf-8").splitlines()[1].split("\t")[3]
    assert sick.splits["train"][0].label == pytest.approx((float(raw) - 1) / 4)
    assert all(0 <= p.label <= 1 for t in (stsb, sick) for s in t.splits.values() for p in s)


def test_mrpc_dev_is_a_seeded_disjoint_cut_of_train() -> None:
    full = load_offline_task("MRPC", DOWN, seed=1)
    n = len(full.splits["train"]) + len(full.splits["dev"])
    assert len(full.splits["dev"]) == max(1, round(MRPC_DEV_FRACTION * n))
    assert not set(full.splits["train"]) & set(full.splits["dev"])
    assert load_offline_task("MRPC", DOWN, seed=1).splits == full.splits
    assert {p.label for p in full.splits["test"]} <= {0.0, 1.0} and full.kind == "classification"
    assert round(MRPC_DEV_FRACTION * 4076) == 408  # GLUE's dev size on the real file


@pytest.mark.parametrize("body,match", [
    ("text_a\ttext_b\tscore\n", r"x.tsv:1: header"),
    ("text_a\ttext_b\tlabel\na\tb\n", r"x.tsv:2: expected 3 tab-separated columns"),
    ("text_a\ttext_b\tlabel\na\tb\t1\na\tb\thigh\n", r"x.tsv:3: label 'high' is not a number"),
    ("text_a\ttext_b\tlabel\na\tb\t4.5\n", r"x.tsv:2: label 4.5 outside \[0, 1\]"),
    ("text_a\ttext_b\tlabel\na\t  \t1\n", r"x.tsv:2: empty text"),
    ("text_a\ttext_b\tlabel\n", r"x.tsv: no pairs"),
])
def test_pair_file_errors_name_file_and_line(tmp_path: Path, body: str, match: str) -> None:
    path = tmp_path / "x.tsv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        read_pair_file(path)


def test_pair_file_with_groups(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text("text_a\ttext_b\tlabel\tgroup\nq  one\tans\t1\tq1\nq one\tother\t0\tq1\n", encoding="utf-8")
    pairs = read_pair_file(path)
    assert [(p.text_a, p.label, p.group) for p in pairs] == [("q one", 1.0, "q1"), ("q one", 0.0, "q1")]


def test_regression_metrics_known_answers() -> None:
    gold = np.array([0.0, 0.2, 0.4, 0.9])
    out = regression_metrics(np.array([0.1, 0.3, 0.2, 0.8]), gold)  # ranks 1,3,2,4 vs 1,2,3,4
    assert out["spearman"] == pytest.approx(100 * (1 - 6 * 2 / (4 * 15)))  # 1 - 6Σd²/(n(n²-1)) = 0.8
    with pytest.raises(ValueError, match="constant"):
        regression_metrics(np.ones(4), gold)


def test_f1_and_accuracy_at_a_threshold() -> None:
    scores = np.array([0.9, 0.8, 0.4, 0.3, 0.7])
    gold = np.array([True, False, True, False, False])
    # cut 0.5: predicted positive {0.9, 0.8, 0.7}: tp 1, fp 2, fn 1 -> F1 = 2/(2+2+1) = 0.4; acc 2/5
    assert f1_at(scores, gold, 0.5) == pytest.approx(40.0)
    assert accuracy_at(scores, gold, 0.5) == pytest.approx(40.0)
    # every cut between consecutive scores, the best accuracy is 3/5 at a cut above 0.9 or ... pick max
    cut = best_threshold(scores, gold, accuracy_at)
    assert accuracy_at(scores, gold, cut) == pytest.approx(max(
        accuracy_at(scores, gold, c) for c in (0.0, 0.35, 0.55, 0.75, 0.85, 0.95, 2.0)))


def test_classification_thresholds_come_from_dev_only() -> None:
    dev_scores, dev_gold = np.array([0.2, 0.4, 0.6, 0.8]), np.array([0.0, 0.0, 1.0, 1.0])  # best cut 0.5
    test_scores, test_gold = np.array([0.3, 0.45, 0.55, 0.7]), np.array([0.0, 1.0, 1.0, 1.0])  # best cut 0.375
    out = classification_metrics(dev_scores, dev_gold, test_scores, test_gold)
    assert out["f1_threshold"] == pytest.approx(0.5) and out["accuracy_threshold"] == pytest.approx(0.5)
    # at 0.5 on test: tp 2 (0.55, 0.7), fn 1 (0.45), fp 0 -> F1 = 4/5; accuracy 3/4
    assert out["f1"] == pytest.approx(80.0) and out["accuracy"] == pytest.approx(75.0)
    with pytest.raises(ValueError, match="both classes"):
        classification_metrics(dev_scores, np.ones(4), test_scores, test_gold)


def test_ensure_splits_moves_dev_to_test_and_carves_whole_queries() -> None:
    from sentemb.pairs.records import Pair, PairTask
    from sentemb.pairs.tasks import ensure_splits

    train = [Pair(f"q{g}", f"a{g}-{k}", float(k == 0), group=f"g{g}") for g in range(20) for k in range(3)]
    dev = [Pair("x", "y", 1.0, group="d")]
    out = ensure_splits(PairTask("t", "ranking", {"train": train, "dev": dev}), seed=3)
    assert out.splits["test"] == dev  # no labelled test split: report on the official dev split
    carved = {p.group for p in out.splits["dev"]}
    assert len(carved) == 2 and not carved & {p.group for p in out.splits["train"]}  # 10% of 20 queries
    assert len(out.splits["dev"]) == 6 and len(out.splits["train"]) == 54
    with pytest.raises(DataError, match="neither a test nor a dev"):
        ensure_splits(PairTask("t", "ranking", {"train": train}), seed=3)


def test_file_source_needs_path_and_kind(tmp_path: Path) -> None:
    from sentemb.config import PairTaskConfig
    from sentemb.errors import ConfigError
    from sentemb.pairs.run import load_pair_task

    for split in ("train", "dev", "test"):
        lines = [f"a man {i}\tthe man {i}\t{i % 2}" for i in range(10)]
        (tmp_path / f"{split}.tsv").write_text("text_a\ttext_b\tlabel\n" + "\n".join(lines) + "\n")
    cfg = PairTaskConfig(source="file", metric="f1", label="Mine", table_metrics=["f1"], path=str(tmp_path),
                         kind="classification")
    task = load_pair_task(cfg, "mine", tmp_path, tmp_path, seed=0)
    assert task.kind == "classification" and len(task.splits["test"]) == 10
    with pytest.raises(ConfigError, match="needs path .* and kind"):
        load_pair_task(PairTaskConfig(source="file", metric="f1", label="Mine", path=str(tmp_path)), "mine", tmp_path,
                       tmp_path, 0)
