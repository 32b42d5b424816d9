"""The geometry table, the analysis/dynamics TSVs and the report's figures from fixture outputs."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from metrics_fixtures import analysis_doc, backbones, make_root
from sentemb.errors import DataError
from sentemb.reporting.report import aggregate

METHOD = {"label": "V", "objective": "two_view", "data": "wiki", "train_pooler": "avg", "eval_pooler": "avg"}


def _raw(seeds: list[int]) -> dict:
    return backbones() | {"baselines": {"base": {"pooler": "avg", "label": "mean, untrained"}},
                          "methods": {"v": METHOD}, "seeds": seeds, "aggregate": {"main_reference": "base"}}


def test_geometry_table_tsvs_and_figures(tmp_path: Path) -> None:
    job, root = make_root(tmp_path, _raw([42, 43]))
    tables = {t.name: t for t in aggregate(job, root)}
    geometry = tables["geometry"]
    assert geometry.ids == ("Tiny, mean, untrained", "V (Tiny)") and geometry.rows[1][0] == "V (Tiny) (2 seeds)"
    aniso = geometry.row("V (Tiny)")[0]
    assert aniso == pytest.approx((1.2 + 2.2) / 2)  # last layer (0.1 * 2) of the two seeds, offsets 1 and 2
    assert geometry.stds[1][0] == pytest.approx(0.7071, rel=1e-3)
    assert geometry.row("Tiny, mean, untrained")[-1] == pytest.approx(-2.0)  # uniformity
    assert (root.plots / "analysis/v.b.s43.tsv").read_text().splitlines()[0].startswith("layer\tanisotropy")
    dyn = (root.plots / "dynamics/v.b.s42.tsv").read_text().splitlines()
    assert dyn[0].startswith("step\talignment\tuniformity") and dyn[2].startswith("2\t0.4\t-2")
    report = root.report.read_text()
    for name in ("layers", "align_uniform", "align_uniform_steps", "isotropy_steps", "loss", "stsb_dev", "sts_avg"):
        png = root.figures / f"{name}.png"
        assert mpimg.imread(png).shape[2] in (3, 4) and f"(figures/{name}.png)" in report
    assert "Best seed (dev)" in (root.tables / "sts.md").read_text()


def test_missing_analysis_raises_and_writes_nothing(tmp_path: Path) -> None:
    job, root = make_root(tmp_path, _raw([42]))
    (root.analysis / "v.b.s42.details.json").unlink()
    with pytest.raises(DataError, match=r"v\.b\.s42\.details\.json: missing geometry analysis of 'V \(Tiny\)'"):
        aggregate(job, root)
    assert not root.report.exists() and not root.figures.exists()


def test_undefined_alignment_is_never_a_table_cell(tmp_path: Path) -> None:
    job, root = make_root(tmp_path, _raw([42]))
    (root.analysis / "base.b.details.json").write_text(json.dumps(analysis_doc(0, alignment=None)))
    with pytest.raises(DataError, match="alignment is None"):
        aggregate(job, root)
