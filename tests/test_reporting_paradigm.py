"""The unified-paradigm table and figures (aggregate stage) on fixture metrics and step logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentemb.config import Params, from_dict
from sentemb.data.senteval import STS_TASKS, TRANSFER_TASKS
from sentemb.errors import ConfigError, DataError
from sentemb.reporting.report import aggregate

PARA = {"objective": "two_view", "data": "wiki", "head": "linear", "train_pooler": "cls_before_pooler",
        "eval_pooler": "cls_before_pooler", "eval_tasks": "sts", "table": "paradigm"}


def _doc(offset: float, sts_only: bool = False) -> dict:
    tasks = STS_TASKS if sts_only else STS_TASKS + TRANSFER_TASKS
    return {"scores": {t: 60.0 + offset + i for i, t in enumerate(tasks)}, "split": "test", "provenance": {}}


def _params(reference: str | None = "base") -> Params:
    return from_dict(Params, {
        "baselines": {"base": {"model": "m", "pooler": "cls_before_pooler"}},
        "variants": {
            "simcse": {"objective": "two_view", "data": "wiki"},
            "mhe_ori": PARA | {"loss": "mhe", "loss_args": {"lambd": 10.0}},
            "mhe_mod": PARA | {"loss": "mhe", "loss_args": {"lambd": 1.0, "w_gd": True, "w_r": True}},
            "sg_r2": PARA | {"loss": "sg", "loss_args": {"ratio": 2.0}},
        },
        "aggregate": {"paradigm_reference": reference},
    })


def _fixture(tmp: Path, drop_grad: str | None = None) -> tuple[Path, Path]:
    eval_dir, train_dir = tmp / "eval", tmp / "train"
    eval_dir.mkdir()
    train_dir.mkdir()
    docs = {"base": _doc(0), "simcse": _doc(5), "mhe_ori": _doc(1, True), "mhe_mod": _doc(3, True),
            "sg_r2": _doc(2, True)}
    for name, doc in docs.items():  # variants: one run per seed, <variant>.s<seed>
        (eval_dir / f"{name if name == 'base' else name + '.s42'}.json").write_text(json.dumps(doc))
    for variant in ("simcse", "mhe_ori", "mhe_mod", "sg_r2"):
        name = f"{variant}.s42"
        steps = [{"step": 1, "loss": 1.0, "grad/gd_mean": 0.2, "grad/gd_nonzero": 1.0, "grad/w_max": 0.5,
                  "grad/w_entropy": 1.0, "grad/r_mean": 1.0},
                 {"step": 2, "loss": 0.5, "grad/gd_mean": 0.0, "grad/gd_nonzero": 0.0}]  # no W/R: none active
        if variant in (drop_grad, "simcse"):  # a main-table run without diagnostics
            steps = [{"step": 1, "loss": 1.0}]
        (train_dir / f"{name}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
        (train_dir / f"{name}.dev.jsonl").write_text(json.dumps({"step": 2, "stsb_dev": 80.0}) + "\n")
        (train_dir / f"{name}.json").write_text(json.dumps({"best_dev_stsb": 81.234}))
    return eval_dir, train_dir


def test_paradigm_rows_get_their_own_table_with_training_means(tmp_path: Path) -> None:
    eval_dir, train_dir = _fixture(tmp_path)
    tables = aggregate(_params(), eval_dir, tmp_path / "tables", tmp_path / "report.md", train_dir, tmp_path / "plots")
    by_name = {t.name: t for t in tables}
    assert [label for label, _ in by_name["sts"].rows] == ["base", "simcse"]  # paradigm rows stay out
    assert [label for label, _ in by_name["transfer"].rows] == ["base", "simcse"]
    paradigm = by_name["paradigm"]
    assert [label for label, _ in paradigm.rows] == ["base", "mhe_ori", "mhe_mod", "sg_r2"]
    assert paradigm.headers[-5:] == ["GD", "GD>0", "W max", "W ent.", "R"]
    cells = dict(paradigm.rows)
    assert cells["base"][-5:] == [None] * 5  # untrained: no gradient, shown as "–", not 0
    assert cells["mhe_ori"][-5:] == [0.1, 0.5, 0.5, 1.0, 1.0]  # W and R averaged over the step that has them
    md = (tmp_path / "tables/paradigm.md").read_text()
    assert "| base |" in md and "–" in md
    assert "| mhe_ori | 61.00 |" in md and "| 0.1 | 0.5 | 0.5 | 1 | 1 |" in md
    csv = (tmp_path / "tables/paradigm.csv").read_text().splitlines()
    assert csv[1].endswith(",,,,,") and csv[2].endswith(",0.1,0.5,0.5,1.0,1.0")  # blanks, full precision
    report = (tmp_path / "report.md").read_text()
    assert "| mhe | 64.00 | 66.00 | +2.00 |" in report  # ori vs mod STS Avg.


def test_figures_tsv(tmp_path: Path) -> None:
    eval_dir, train_dir = _fixture(tmp_path)
    aggregate(_params(), eval_dir, tmp_path / "t", tmp_path / "r.md", train_dir, tmp_path / "plots")
    assert (tmp_path / "plots/paradigm/ori_vs_mod.tsv").read_text().splitlines() == [
        "row\tobjective\tform\tsts_avg", "mhe_ori\tmhe\tori\t64.0", "mhe_mod\tmhe\tmod\t66.0"]
    sg = (tmp_path / "plots/paradigm/sg_components.tsv").read_text().splitlines()
    assert sg[0] == "row\tmargin\tweight_temperature\tpower\tratio\tgate\tstsb_dev\tsts_avg"
    assert sg[1] == "sg_r2\t0.3\t0.05\t\t2.0\tTrue\t81.23\t65.0"  # defaults filled in, power blank (null)
    grad = (tmp_path / "plots/grad/mhe_mod.s42.tsv").read_text().splitlines()
    assert grad[0].split("\t") == ["step", "gd_mean", "gd_nonzero", "w_max", "w_entropy", "r_mean"]
    assert grad[2] == "2\t0.0\t0.0\t\t\t"  # blanks, not zeros
    assert not (tmp_path / "plots/grad/simcse.s42.tsv").exists()  # no diagnostics logged: no empty curve


def test_missing_diagnostics_raise_and_nothing_is_written(tmp_path: Path) -> None:
    eval_dir, train_dir = _fixture(tmp_path, drop_grad="mhe_mod")
    with pytest.raises(DataError, match=r"mhe_mod\.s42\.jsonl: no gradient diagnostics"):
        aggregate(_params(), eval_dir, tmp_path / "t", tmp_path / "r.md", train_dir, tmp_path / "plots")
    assert not (tmp_path / "t").exists() and not (tmp_path / "r.md").exists()


def test_reference_must_be_a_baseline(tmp_path: Path) -> None:
    eval_dir, train_dir = _fixture(tmp_path)
    with pytest.raises(ConfigError, match="paradigm_reference: 'bse' is not a baseline.*'base'"):
        aggregate(_params("bse"), eval_dir, tmp_path / "t", tmp_path / "r.md", train_dir, tmp_path / "plots")


def test_diagnostic_noise_is_shown_as_a_bound_not_as_a_number() -> None:
    from sentemb.reporting.tables import Table, to_markdown

    table = Table("p", "P", ["STS12"], [("a", [70.0, 70.0, 8.7e-12, 0.0, 2.4e-4])], extras=("W ent.", "GD>0", "GD"))
    assert "| a | 70.00 | 70.00 | <1e-6 | 0 | 0.00024 |" in to_markdown(table)
