"""The unified-paradigm table and figures (aggregate stage) on fixture metrics and step logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics_fixtures import backbones, make_root, steps_log
from sentemb.errors import DataError
from sentemb.reporting.report import aggregate
from sentemb.reporting.tables import MARK

PARA = {"objective": "two_view", "data": "wiki", "head": "linear", "train_pooler": "cls_before_pooler",
        "eval_pooler": "cls_before_pooler", "eval_tasks": "sts", "table": "paradigm"}


def _raw() -> dict:
    return backbones() | {
        "baselines": {"base": {"pooler": "cls_before_pooler", "label": "[CLS], no training"}},
        "methods": {
            "simcse": {"label": "SimCSE", "objective": "two_view", "data": "wiki"},
            "mhe_ori": PARA | {"label": "MHE (original)", "loss": "mhe", "loss_args": {"lambd": 10.0}},
            "mhe_mod": PARA | {"label": "MHE (modified)", "loss": "mhe", "reference": "mhe_ori",
                               "loss_args": {"lambd": 1.0, "w_gd": True, "w_r": True}},
            "sg_r2": PARA | {"label": "sg R 2", "loss": "sg", "loss_args": {"ratio": 2.0}},
        },
        "aggregate": {"paradigm_reference": "base", "main_reference": "base"},
    }


def _fixture(tmp: Path) -> tuple:
    offsets = {"base.b": 0, "simcse.b": 5, "mhe_ori.b": 1, "mhe_mod.b": 3, "sg_r2.b": 2}
    from sentemb.data.tasks import family

    tasks = family("sts") + family("transfer")

    job, root = make_root(tmp, _raw(), score=lambda row, run, task: 60.0 + offsets[row]
                          + tasks.index(task))
    (root.train / "simcse.b.s42.jsonl").write_text(steps_log(grad=False))  # a main-table run without diagnostics
    return job, root


def test_paradigm_rows_get_their_own_table_with_training_means(tmp_path: Path) -> None:
    job, root = _fixture(tmp_path)
    by_name = {t.name: t for t in aggregate(job, root)}
    assert [label for label, _ in by_name["sts"].rows] == ["Tiny, [CLS], no training", "SimCSE (Tiny)"]
    paradigm = by_name["paradigm"]
    assert [label for label, _ in paradigm.rows] == ["Tiny, [CLS], no training", "MHE (original) (Tiny)",
                                                     "MHE (modified) (Tiny)", "sg R 2 (Tiny)"]
    assert paradigm.headers[-5:] == ["GD", "GD>0", "W max", "W ent.", "R"]
    cells = dict(paradigm.rows)
    assert cells["Tiny, [CLS], no training"][-5:] == [None] * 5  # untrained: no gradient, "–", not 0
    assert cells["MHE (original) (Tiny)"][-5:] == [0.1, 0.5, 0.5, 1.0, 1.0]  # W and R over the step that has them
    assert paradigm.references[2] == "MHE (original) (Tiny)" and paradigm.references[1] == "Tiny, [CLS], no training"
    md = (root.tables / "paradigm.md").read_text()
    assert "| Tiny, [CLS], no training | 60.00 |" in md and "| 0.1 | 0.5 | 0.5 | 1 | 1 |" in md and MARK in md
    csv = (root.tables / "paradigm.csv").read_text().splitlines()
    assert ",,,,," in csv[1] and ",0.1,0.5,0.5,1.0,1.0," in csv[2]  # blanks, full precision
    report = root.report.read_text()
    assert "| mhe on b | 64.00 | 66.00 | +2.00 |" in report  # ori vs mod STS Avg.


def test_figures_tsv(tmp_path: Path) -> None:
    job, root = _fixture(tmp_path)
    aggregate(job, root)
    assert (root.plots / "paradigm/ori_vs_mod.tsv").read_text().splitlines() == [
        "row\tobjective\tform\tsts_avg", "MHE (original) (Tiny)\tmhe on b\tori\t64.0",
        "MHE (modified) (Tiny)\tmhe on b\tmod\t66.0"]
    sg = (root.plots / "paradigm/sg_components.tsv").read_text().splitlines()
    assert sg[0] == "row\tmargin\tweight_temperature\tpower\tratio\tgate\tstsb_dev\tsts_avg"
    assert sg[1] == "sg R 2 (Tiny)\t0.3\t0.05\t\t2.0\tTrue\t81.23\t65.0"  # defaults filled in, power blank (null)
    grad = (root.plots / "grad/mhe_mod.b.s42.tsv").read_text().splitlines()
    assert grad[0].split("\t") == ["step", "gd_mean", "gd_nonzero", "w_max", "w_entropy", "r_mean"]
    assert grad[2] == "2\t0.0\t0.0\t\t\t"  # blanks, not zeros
    assert not (root.plots / "grad/simcse.b.s42.tsv").exists()  # no diagnostics logged: no empty curve


def test_missing_diagnostics_raise_and_nothing_is_written(tmp_path: Path) -> None:
    job, root = _fixture(tmp_path)
    (root.train / "mhe_mod.b.s42.jsonl").write_text(steps_log(grad=False))
    with pytest.raises(DataError, match=r"mhe_mod\.b\.s42\.jsonl: no gradient diagnostics"):
        aggregate(job, root)
    assert not root.tables.exists() and not root.report.exists()


def test_diagnostic_noise_is_shown_as_a_bound_not_as_a_number() -> None:
    from sentemb.reporting.tables import Table, to_markdown

    table = Table("p", "P", ["STS12"], [("a", [70.0, 70.0, 8.7e-12, 0.0, 2.4e-4])], extras=("W ent.", "GD>0", "GD"))
    assert "| a | 70.00 | 70.00 | <1e-6 | 0 | 0.00024 |" in to_markdown(table)
