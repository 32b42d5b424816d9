"""Tables from fixture metrics: layout, Avg. from rounded cells, and missing cells raising."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentemb.config import Params, from_dict
from sentemb.data.senteval import STS_TASKS, TRANSFER_TASKS
from sentemb.errors import DataError
from sentemb.reporting.report import aggregate
from sentemb.reporting.tables import build_table, to_csv, to_latex, to_markdown


def _doc(offset: float, split: str = "test", drop: str | None = None) -> dict:
    scores = {t: 70.0 + offset + i for i, t in enumerate(STS_TASKS + TRANSFER_TASKS)}
    if drop:
        del scores[drop]
    return {"scores": scores, "split": split, "provenance": {"model": "m", "pooler": "avg", "mode": "test"}}


def _params(**evaluate: str) -> Params:
    return from_dict(Params, {"baselines": {"row_a": {"model": "m", "pooler": "avg"},
                                            "row_b": {"model": "m", "pooler": "cls"}},
                              "evaluate": evaluate})


def _write(eval_dir: Path, docs: dict[str, dict]) -> None:
    eval_dir.mkdir(parents=True, exist_ok=True)
    for name, doc in docs.items():
        (eval_dir / f"{name}.json").write_text(json.dumps(doc))


def test_table_layout_and_average() -> None:
    table = build_table("sts", "STS", STS_TASKS, {"a": ("a.json", _doc(0.0)), "b": ("b.json", _doc(1.004))})
    assert table.headers == ["Model", "STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R", "Avg."]
    assert table.rows[0][1][-1] == 73.0  # mean of 70..76
    md, csv, tex = to_markdown(table), to_csv(table), to_latex(table)
    assert "| b | **71.00** |" in md and "[test split]" in md
    assert csv.splitlines()[1].startswith("a,70.00,71.00")
    assert r"\toprule" in tex and "SICK-R" in tex


def test_missing_cell_raises_and_names_the_file() -> None:
    with pytest.raises(DataError, match=r"b\.json: no score for task STS14"):
        build_table("sts", "STS", STS_TASKS, {"a": ("a.json", _doc(0)), "b": ("b.json", _doc(0, drop="STS14"))})


def test_nan_cell_raises() -> None:
    doc = _doc(0)
    doc["scores"]["MR"] = float("nan")
    with pytest.raises(DataError, match="not a finite number"):
        build_table("transfer", "T", TRANSFER_TASKS, {"a": ("a.json", doc)})


def test_dev_and_test_rows_never_share_a_table() -> None:
    with pytest.raises(DataError, match="mix splits"):
        build_table("sts", "STS", STS_TASKS, {"a": ("a", _doc(0)), "b": ("b", _doc(0, split="dev"))})


def test_aggregate_writes_tables_and_report(tmp_path: Path) -> None:
    _write(tmp_path / "eval", {"row_a": _doc(0), "row_b": _doc(2)})
    tables = aggregate(_params(), tmp_path / "eval", tmp_path / "tables", tmp_path / "report.md")
    assert [t.name for t in tables] == ["sts", "transfer"]
    names = sorted(p.name for p in (tmp_path / "tables").iterdir())
    assert names == ["sts.csv", "sts.md", "sts.tex", "transfer.csv", "transfer.md", "transfer.tex"]
    report = (tmp_path / "report.md").read_text()
    assert "(tables/sts.md)" in report and "row_b" in report


def test_aggregate_with_a_missing_row_writes_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "eval", {"row_a": _doc(0)})
    with pytest.raises(DataError, match="missing evaluation output for row 'row_b'"):
        aggregate(_params(), tmp_path / "eval", tmp_path / "tables", tmp_path / "report.md")
    assert not (tmp_path / "tables").exists() and not (tmp_path / "report.md").exists()


def test_sts_only_task_set_builds_only_the_sts_table(tmp_path: Path) -> None:
    _write(tmp_path / "eval", {"row_a": _doc(0, drop="MR"), "row_b": _doc(1, drop="MR")})
    tables = aggregate(_params(tasks="sts"), tmp_path / "eval", tmp_path / "t", tmp_path / "r.md")
    assert [t.name for t in tables] == ["sts"]


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


def _seed_doc(offset: float, dev: float) -> dict:
    return _doc(offset) | {"selection": {"stsb_dev": dev}}


def test_several_seeds_show_mean_std_n_and_best_seed_on_dev() -> None:
    runs = [("s1.json", _seed_doc(0.0, dev=80.0)), ("s2.json", _seed_doc(2.0, dev=79.0)),
            ("s3.json", _seed_doc(4.0, dev=78.0))]
    table = build_table("sts", "STS", STS_TASKS, {"a": runs, "b": ("b.json", _doc(1.0))})
    assert table.headers[-1] == "Best seed (dev)"
    label, cells = table.rows[0]
    assert label == "a (3 seeds)" and cells[0] == pytest.approx(72.0)  # STS12: mean of 70, 72, 74
    assert table.stds[0][0] == pytest.approx(2.0)  # sample std of 70, 72, 74
    assert cells[-1] == pytest.approx(73.0)  # the seed with the best dev (80.0) has test Avg. 73.0, not the best 77.0
    assert table.rows[1][0] == "b" and table.stds[1][0] is None
    md = to_markdown(table)
    assert "72.00 ± 2.00" in md and "| b | 71.00 |" in md
    assert r"$\pm$" in to_latex(table)
    csv = to_csv(table).splitlines()
    assert csv[0].split(",")[-1] == "Best seed (dev) std" and csv[1].split(",")[10] == "2.0"  # STS12 std
    assert csv[2].split(",")[10] == ""  # a single-seed row has no spread


def test_best_seed_needs_the_dev_score() -> None:
    runs = [("s1.json", _doc(0.0)), ("s2.json", _doc(1.0))]
    with pytest.raises(DataError, match=r"s1\.json: no finite selection\.stsb_dev"):
        build_table("sts", "STS", STS_TASKS, {"a": runs})


def test_report_starts_with_the_best_row_of_each_column(tmp_path: Path) -> None:
    _write(tmp_path / "eval", {"row_a": _doc(0), "row_b": _doc(2)})
    aggregate(_params(), tmp_path / "eval", tmp_path / "tables", tmp_path / "report.md")
    report = (tmp_path / "report.md").read_text()
    assert "- **sts**: STS12: row_b (72.00);" in report and "Avg.: row_b (75.00)" in report
