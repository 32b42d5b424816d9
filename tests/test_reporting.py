"""Tables from fixture metrics: labels, layout, Avg. from rounded cells, seeds, comparisons with
their bootstrap marks, the significance-aware "at a glance", and missing cells raising."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics_fixtures import backbones, make_root
from sentemb.data.tasks import family
from sentemb.errors import DataError
from sentemb.reporting.bootstrap import Interval
from sentemb.reporting.glance import at_a_glance
from sentemb.reporting.report import aggregate
from sentemb.reporting.tables import MARK, Table, build_table, to_csv, to_latex, to_markdown, with_comparisons

STS_TASKS, TRANSFER_TASKS = tuple(family("sts")), tuple(family("transfer"))

METHOD = {"objective": "two_view", "data": "wiki", "train_pooler": "avg", "eval_pooler": "avg"}


def _doc(offset: float, split: str = "test", drop: str | None = None) -> dict:
    scores = {t: 70.0 + offset + i for i, t in enumerate(STS_TASKS + TRANSFER_TASKS)}
    if drop:
        del scores[drop]
    return {"scores": scores, "split": split, "provenance": {"model": "m", "pooler": "avg", "mode": "test"}}


def _raw(**extra: object) -> dict:
    return backbones() | {"baselines": {"plain": {"pooler": "avg", "label": "mean pooling, no training"}},
                          "methods": {"good": METHOD | {"label": "Good method"},
                                      "same": METHOD | {"label": "Same method"}},
                          "aggregate": {"main_reference": "plain"}} | extra


def test_table_layout_and_average() -> None:
    table = build_table("sts", "STS", STS_TASKS, [("a", "Row A", [("a.json", _doc(0.0))]),
                                                   ("b", "Row B", [("b.json", _doc(1.004))])])
    assert table.headers == ["Model", "STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R", "Avg."]
    assert table.rows[0][1][-1] == 73.0  # mean of 70..76
    md, csv, tex = to_markdown(table), to_csv(table), to_latex(table)
    assert "| Row B | **71.00** |" in md and "[test split]" in md
    assert csv.splitlines()[1].startswith("Row A,70.00,71.00")
    assert r"\toprule" in tex and "SICK-R" in tex


def test_unverified_data_is_said_in_the_caption() -> None:
    table = build_table("sts", "STS", STS_TASKS, [("a", "A", [("a.json", _doc(0.0))])], verified=False)
    assert "[test split, unverified data]" in to_markdown(table)


def test_missing_cell_raises_and_names_the_file() -> None:
    with pytest.raises(DataError, match=r"b\.json: no score for task STS14"):
        build_table("sts", "STS", STS_TASKS, [("a", "A", [("a.json", _doc(0))]),
                                              ("b", "B", [("b.json", _doc(0, drop="STS14"))])])


def test_nan_cell_raises() -> None:
    doc = _doc(0)
    doc["scores"]["MR"] = float("nan")
    with pytest.raises(DataError, match="not a finite number"):
        build_table("transfer", "T", TRANSFER_TASKS, [("a", "A", [("a.json", doc)])])


def test_dev_and_test_rows_never_share_a_table() -> None:
    with pytest.raises(DataError, match="mix splits"):
        build_table("sts", "STS", STS_TASKS, [("a", "A", [("a", _doc(0))]), ("b", "B", [("b", _doc(0, split="dev"))])])


def _seed_doc(offset: float, dev: float) -> dict:
    return _doc(offset) | {"selection": {"stsb_dev": dev}}


def test_several_seeds_show_mean_std_n_and_best_seed_on_dev() -> None:
    runs = [("s1.json", _seed_doc(0.0, dev=80.0)), ("s2.json", _seed_doc(2.0, dev=79.0)),
            ("s3.json", _seed_doc(4.0, dev=78.0))]
    table = build_table("sts", "STS", STS_TASKS, [("a", "A", runs), ("b", "B", [("b.json", _doc(1.0))])])
    assert table.headers[-1] == "Best seed (dev)"
    label, cells = table.rows[0]
    assert label == "A (3 seeds)" and cells[0] == pytest.approx(72.0)  # STS12: mean of 70, 72, 74
    assert table.stds[0][0] == pytest.approx(2.0)  # sample std of 70, 72, 74
    assert cells[-1] == pytest.approx(73.0)  # the seed with the best dev (80.0) has test Avg. 73.0, not the best 77.0
    assert table.rows[1][0] == "B" and table.stds[1][0] is None
    md = to_markdown(table)
    assert "72.00 ± 2.00" in md and "| B | 71.00 |" in md
    assert r"$\pm$" in to_latex(table)
    csv = to_csv(table).splitlines()
    assert csv[0].split(",")[-1] == "Best seed (dev) std" and csv[1].split(",")[10] == "2.0"  # STS12 std
    assert csv[2].split(",")[10] == ""  # a single-seed row has no spread


def test_best_seed_needs_the_dev_score() -> None:
    runs = [("s1.json", _doc(0.0)), ("s2.json", _doc(1.0))]
    with pytest.raises(DataError, match=r"s1\.json: no finite selection\.stsb_dev"):
        build_table("sts", "STS", STS_TASKS, [("a", "A", runs)])


def _compared() -> Table:
    base = build_table("sts", "STS", ["STS12"], [("r", "Ref", [("r", _doc(0))]), ("a", "A", [("a", _doc(2))]),
                                                 ("b", "B", [("b", _doc(0.1))])])
    comparisons = {"a": {"STS12": Interval(2.0, 1.0, 3.0, 0.001), "Avg.": Interval(2.0, 1.0, 3.0, 0.001)},
                   "b": {"STS12": Interval(0.1, -0.5, 0.7, 0.6), "Avg.": Interval(0.1, -0.5, 0.7, 0.6)}}
    return with_comparisons(base, comparisons, {"a": "r", "b": "r"})


def test_compared_cells_show_the_difference_and_the_mark_and_the_csv_the_bounds() -> None:
    table = _compared()
    md = to_markdown(table)
    assert f"72.00 (+2.00{MARK})" in md and "70.10 (+0.10)" in md and "| Compared with |" in md
    assert md.splitlines()[-1].endswith("| Ref |") and "| Ref | 70.00 | 70.00 | – |" in md
    header, ref, a, _ = to_csv(table).splitlines()
    cols = header.split(",")
    assert cols[-9:] == ["STS12 diff", "STS12 ci_low", "STS12 ci_high", "STS12 p", "Avg. diff", "Avg. ci_low",
                         "Avg. ci_high", "Avg. p", "reference"]
    assert a.split(",")[-9:-5] == ["2.0000", "1.0000", "3.0000", "0.0010"] and a.endswith(",Ref")
    assert ref.split(",")[-1] == ""
    assert r"$^\dagger$" in to_latex(table)


def test_at_a_glance_names_only_significant_wins() -> None:
    glance = "\n".join(at_a_glance([_compared()]))
    assert "STS12: A (72.00, +2.00 vs Ref)" in glance
    table = _compared()
    weak = with_comparisons(table, {"a": {"STS12": Interval(2.0, -0.1, 3.0, 0.07), "Avg.": Interval(2.0, -0.1, 3.0,
                                                                                                    0.07)}},
                            {"a": "r"})
    assert "STS12: no significant difference (best: A, 72.00)" in "\n".join(at_a_glance([weak]))


def test_aggregate_writes_labelled_tables_with_bootstrap_marks_and_the_report(tmp_path: Path) -> None:
    job, root = make_root(tmp_path, _raw())
    tables = {t.name: t for t in aggregate(job, root)}
    assert [label for label, _ in tables["sts"].rows] == ["Tiny, mean pooling, no training", "Good method (Tiny)",
                                                         "Same method (Tiny)"]
    names = sorted(p.name for p in root.tables.iterdir())
    assert {"sts.md", "sts.csv", "sts.tex", "transfer.md", "geometry.md"} <= set(names)
    sts = tables["sts"]
    for r in (1, 2):  # both methods compared with the untrained row, every column and Avg.
        assert all(sts.comparison(r, i) is not None for i in range(sts.n_scores))
    assert sts.comparison(2, 7).significant and sts.comparison(2, 7).diff > 0  # the better fixture outputs
    report = root.report.read_text()
    assert "(tables/sts.md)" in report and MARK in report and "paired bootstrap" in report
    assert "(figures/sts_forest.png)" in report and (root.figures / "sts_forest.png").stat().st_size > 1000
    assert "- **sts**:" in report and "vs Tiny, mean pooling, no training" in report


def test_aggregate_with_a_missing_row_writes_nothing(tmp_path: Path) -> None:
    job, root = make_root(tmp_path, _raw())
    (root.eval / "same.b.s42.details.json").unlink()
    with pytest.raises(DataError, match=r"missing evaluation of 'Same method \(Tiny\)'.*evaluate_variant@same-b-42"):
        aggregate(job, root)
    assert not root.tables.exists() and not root.report.exists()


def test_missing_items_raise_naming_the_file(tmp_path: Path) -> None:
    job, root = make_root(tmp_path, _raw())
    (root.eval / "good.b.s42.items.npz").unlink()
    with pytest.raises(DataError, match=r"good\.b\.s42\.items\.npz: missing per-item outputs"):
        aggregate(job, root)


def test_sts_only_task_set_builds_only_the_sts_table(tmp_path: Path) -> None:
    job, root = make_root(tmp_path, _raw(evaluate={"tasks": "sts"}))
    assert [t.name for t in aggregate(job, root)] == ["sts", "geometry"]


def test_training_curves_become_tsv_with_blanks_not_zeros(tmp_path: Path) -> None:
    from sentemb.reporting.curves import write_curves

    train = tmp_path / "train"
    train.mkdir()
    (train / "v.jsonl").write_text('{"step": 1, "loss": 2.5}\n{"step": 2, "loss": 1.5, "queue_cos": 0.1}\n')
    (train / "v.dev.jsonl").write_text('{"step": 2, "stsb_dev": 80.0}\n')
    write_curves(train, tmp_path / "plots", ["v"])
    assert (tmp_path / "plots/steps/v.tsv").read_text() == "step\tloss\tqueue_cos\n1\t2.5\t\n2\t1.5\t0.1\n"
    assert (tmp_path / "plots/dev/v.tsv").read_text().splitlines() == ["step\tstsb_dev", "2\t80.0"]
    with pytest.raises(DataError, match="missing training log"):
        write_curves(train, tmp_path / "plots", ["absent"])
