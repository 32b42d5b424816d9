"""The geometry table, the analysis/dynamics TSVs and the report's figures from fixture outputs."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from sentemb.config import Params, from_dict
from sentemb.data.senteval import STS_TASKS, TRANSFER_TASKS
from sentemb.errors import DataError
from sentemb.reporting.analysis import LAYER_KEYS
from sentemb.reporting.report import aggregate


def _analysis(offset: float, alignment: float | None = 0.3) -> dict:
    layers = [{"layer": i, **{k: offset + 0.1 * i for k in LAYER_KEYS}} for i in range(3)]
    return {"layers": layers, "sentence": {"alignment": alignment, "uniformity": -2.0 - offset, "spectrum": [1.0]}}


def _fixture(tmp: Path, seeds: list[int], drop: str | None = None) -> tuple[Params, dict[str, Path]]:
    params = from_dict(Params, {"baselines": {"base": {"model": "m", "pooler": "avg"}},
                                "variants": {"v": {"objective": "two_view", "data": "wiki"}}, "seeds": seeds})
    dirs = {k: tmp / k for k in ("eval", "train", "analysis")}
    for d in dirs.values():
        d.mkdir()
    scores = {t: 70.0 + i for i, t in enumerate(STS_TASKS + TRANSFER_TASKS)}
    runs = ["base"] + [f"v.s{s}" for s in seeds]
    for k, run in enumerate(runs):
        doc = {"scores": {t: x + k for t, x in scores.items()}, "split": "test", "selection": {"stsb_dev": 80.0 - k}}
        (dirs["eval"] / f"{run}.json").write_text(json.dumps(doc))
        if run != drop:
            (dirs["analysis"] / f"{run}.json").write_text(json.dumps(_analysis(k)))
        if run != "base":
            (dirs["train"] / f"{run}.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.0}\n')
            (dirs["train"] / f"{run}.dev.jsonl").write_text('{"step": 2, "stsb_dev": 80.0}\n')
            dyn = [{"step": s, "layers": _analysis(k)["layers"], "sentence": {"alignment": 0.2 * s, "uniformity": -s}}
                   for s in (1, 2)]
            (dirs["train"] / f"{run}.dynamics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dyn))
    return params, dirs


def _aggregate(params: Params, dirs: dict[str, Path], tmp: Path) -> list:
    return aggregate(params, dirs["eval"], tmp / "tables", tmp / "report.md", dirs["train"], tmp / "plots",
                     analysis_dir=dirs["analysis"], figures_dir=tmp / "figures")


def test_geometry_table_tsvs_and_figures(tmp_path: Path) -> None:
    params, dirs = _fixture(tmp_path, [42, 43])
    tables = {t.name: t for t in _aggregate(params, dirs, tmp_path)}
    geometry = tables["geometry"]
    assert geometry.ids == ("base", "v") and geometry.rows[1][0] == "v (2 seeds)"
    aniso = geometry.row("v")[0]
    assert aniso == pytest.approx((1.2 + 2.2) / 2)  # last layer (0.1 * 2) of the two seeds, offsets 1 and 2
    assert geometry.stds[1][0] == pytest.approx(0.7071, rel=1e-3)
    assert geometry.row("base")[-1] == pytest.approx(-2.0)  # uniformity
    assert (tmp_path / "plots/analysis/v.s43.tsv").read_text().splitlines()[0].startswith("layer\tanisotropy")
    dyn = (tmp_path / "plots/dynamics/v.s42.tsv").read_text().splitlines()
    assert dyn[0].startswith("step\talignment\tuniformity") and dyn[2].startswith("2\t0.4\t-2")
    report = (tmp_path / "report.md").read_text()
    for name in ("layers", "align_uniform", "align_uniform_steps", "isotropy_steps", "loss", "stsb_dev", "sts_avg"):
        png = tmp_path / "figures" / f"{name}.png"
        assert mpimg.imread(png).shape[2] in (3, 4) and f"(figures/{name}.png)" in report
    assert "Best seed (dev)" in (tmp_path / "tables/sts.md").read_text()


def test_missing_analysis_raises_and_writes_nothing(tmp_path: Path) -> None:
    params, dirs = _fixture(tmp_path, [42], drop="v.s42")
    with pytest.raises(DataError, match=r"v\.s42\.json: missing geometry analysis"):
        _aggregate(params, dirs, tmp_path)
    assert not (tmp_path / "report.md").exists() and not (tmp_path / "figures").exists()


def test_undefined_alignment_is_never_a_table_cell(tmp_path: Path) -> None:
    params, dirs = _fixture(tmp_path, [42])
    (dirs["analysis"] / "base.json").write_text(json.dumps(_analysis(0, alignment=None)))
    with pytest.raises(DataError, match="alignment is None"):
        _aggregate(params, dirs, tmp_path)
