"""Geometry results in the report (issue 6): analysis JSONs and training-time dynamics ->
an isotropy table, TSVs for ``dvc plots`` and the PNG figures of ``metrics/report.md``.

* ``geometry`` table: for every row (seeds averaged, ± std), the last layer's anisotropy
  baseline, adjusted intra-sentence and self-similarity (content, function), top-1 rogue share,
  mean token norm, and the sentence-level alignment and uniformity (methods.md §6.1, §7.1).
* ``plots/analysis/<run>.tsv``: every §6.1 metric by layer; ``plots/dynamics/<run>.tsv``: the
  last layer's metrics plus alignment/uniformity at every dev evaluation.
* figures: metrics by layer, alignment vs uniformity (SimCSE Fig. 3), their trajectories over
  training (Fig. 2), the last layer's isotropy over steps, training loss and STS-B dev curves,
  the STS Avg. per row and the BSC batch hardness per strategy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentemb.config import Params, variant_runs
from sentemb.errors import DataError
from sentemb.reporting import figures as F  # noqa: N812
from sentemb.reporting.curves import write_tsv
from sentemb.reporting.tables import Table, seed_stats
from sentemb.utils.io import read_json, read_jsonl

LAYER_KEYS = ("anisotropy_baseline", "intra_sim", "intra_sim_adjusted", "self_sim_all", "self_sim_all_adjusted",
              "self_sim_content_adjusted", "self_sim_function_adjusted", "self_sim_special_adjusted",
              "rogue_top1", "rogue_top3", "rogue_top10", "norm_mean", "norm_std")
GEOMETRY = {"Aniso.": ("layer", "anisotropy_baseline"), "Intra adj.": ("layer", "intra_sim_adjusted"),
            "Self content adj.": ("layer", "self_sim_content_adjusted"),
            "Self function adj.": ("layer", "self_sim_function_adjusted"), "Rogue top-1": ("layer", "rogue_top1"),
            "Norm": ("layer", "norm_mean"), "Align": ("sentence", "alignment"),
            "Uniform": ("sentence", "uniformity")}


def analysis_runs(params: Params) -> dict[str, list[str]]:
    """Row -> file stems of its analysis outputs (baselines: one; variants: one per seed)."""
    out = {row: [row] for row in params.baselines}
    return out | {v: variant_runs(params, v) for v in params.variants}


def load_analyses(params: Params, analysis_dir: Path) -> dict[str, list[dict[str, Any]]]:
    docs: dict[str, list[dict[str, Any]]] = {}
    for row, runs in analysis_runs(params).items():
        for run in runs:
            path = analysis_dir / f"{run}.json"
            if not path.exists():
                raise DataError(path, f"missing geometry analysis of '{run}' (run `dvc repro analyze`)")
            docs.setdefault(row, []).append(read_json(path) | {"_source": str(path)})
    return docs


def _value(doc: dict[str, Any], where: str, key: str) -> float:
    value = doc["layers"][-1].get(key) if where == "layer" else doc["sentence"].get(key)
    if not isinstance(value, (int, float)):
        raise DataError(doc["_source"], f"{key} is {value!r}: the geometry table cell would be empty")
    return float(value)


def geometry_table(docs: dict[str, list[dict[str, Any]]]) -> Table:
    rows, stds = [], []
    for row, runs in docs.items():
        stats = [seed_stats([_value(d, where, key) for d in runs]) for where, key in GEOMETRY.values()]
        rows.append((f"{row} ({len(runs)} seeds)" if len(runs) > 1 else row, [m for m, _ in stats]))
        stds.append(tuple(sd for _, sd in stats))
    return Table("geometry", "Geometry of the last layer (methods.md §6.1) and of sentence embeddings (§7.1), "
                 "STS-B test sentences", [], rows, extras=tuple(GEOMETRY), average=False, ids=tuple(docs),
                 stds=tuple(stds))


def write_layer_tsvs(docs: dict[str, list[dict[str, Any]]], plots_dir: Path) -> None:
    for runs in docs.values():
        for doc in runs:
            stem = Path(doc["_source"]).stem
            write_tsv(plots_dir / "analysis" / f"{stem}.tsv", ["layer", *LAYER_KEYS],
                 [[layer["layer"]] + [layer.get(k) for k in LAYER_KEYS] for layer in doc["layers"]])


def load_dynamics(params: Params, train_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Run -> its dynamics rows (empty when the analysis during training was off)."""
    out = {}
    for v in params.variants:
        for run in variant_runs(params, v):
            path = train_dir / f"{run}.dynamics.jsonl"
            if not path.exists():
                raise DataError(path, "missing learning-dynamics log (written by the train stage)")
            out[run] = read_jsonl(path)
    return out


def write_dynamics_tsvs(dynamics: dict[str, list[dict[str, Any]]], plots_dir: Path) -> None:
    header = ["step", "alignment", "uniformity", *LAYER_KEYS]
    for run, rows in dynamics.items():
        write_tsv(plots_dir / "dynamics" / f"{run}.tsv", header,
             [[r["step"], r["sentence"]["alignment"], r["sentence"]["uniformity"]]
              + [r["layers"][-1].get(k) for k in LAYER_KEYS] for r in rows])


def write_figures(params: Params, docs: dict[str, list[dict[str, Any]]], dynamics: dict[str, list[dict[str, Any]]],
                  train_dir: Path, tables: list[Table], hardness: list[tuple[str, str, str, float, float, float]],
                  out_dir: Path) -> dict[str, Path]:
    """Every PNG of the report; returns name -> path."""
    first = {row: runs[0] for row, runs in docs.items()}  # by-layer lines: the first seed of each row
    made = {"layers": F.save(F.fig_layers(first), out_dir / "layers.png"),
            "align_uniform": F.save(F.fig_align_uniform(
                {row: (_value(d, "sentence", "uniformity"), _value(d, "sentence", "alignment"))
                 for row, d in first.items()}), out_dir / "align_uniform.png")}
    traj = {run: pts for run, rows in dynamics.items()
            if (pts := [(r["step"], r["sentence"]["uniformity"], r["sentence"]["alignment"]) for r in rows
                        if r["sentence"]["alignment"] is not None])}
    if traj:
        made["trajectories"] = F.save(F.fig_trajectories(traj), out_dir / "align_uniform_steps.png")
        made["isotropy_steps"] = F.save(F.fig_curves(
            {run: [(r["step"], r["layers"][-1]["anisotropy_baseline"]) for r in rows]
             for run, rows in dynamics.items() if rows}, "anisotropy baseline (last layer)"),
            out_dir / "isotropy_steps.png")
    runs = [run for v in params.variants for run in variant_runs(params, v)]
    if runs:
        made["loss"] = F.save(F.fig_curves({r: [(x["step"], x["loss"]) for x in read_jsonl(train_dir / f"{r}.jsonl")]
                                            for r in runs}, "training loss"), out_dir / "loss.png")
        made["stsb_dev"] = F.save(F.fig_curves(
            {r: [(x["step"], x["stsb_dev"]) for x in read_jsonl(train_dir / f"{r}.dev.jsonl")] for r in runs},
            "STS-B dev Spearman x100"), out_dir / "stsb_dev.png")
    sts = next((t for t in tables if t.name == "sts"), None)
    if sts is not None:
        made["sts_avg"] = F.save(F.fig_bars({label: cells[sts.n_scores - 1] for label, cells in sts.rows},  # type: ignore[misc]
                                            "STS Avg. (test)"), out_dir / "sts_avg.png")
    if hardness:
        made["pair_hardness"] = F.save(F.fig_bars({f"{t}/{v}": b for t, v, _, _, b, _ in hardness},
                                                  "mean max off-diagonal cosine per batch"),
                                       out_dir / "pair_hardness.png")
    return made
