"""Geometry results in the report (issue 6): analysis JSONs and training-time dynamics ->
an isotropy table, TSVs for ``dvc plots`` and the PNG figures of ``metrics/report.md``.

* ``geometry`` table: for every row (seeds averaged, ± std), the last layer's anisotropy
  baseline, adjusted intra-sentence and self-similarity (content, function), top-1 rogue share,
  mean token norm, and the sentence-level alignment and uniformity (docs/methods.md §6.1, §7.1).
* ``plots/analysis/<run>.tsv``: every §6.1 metric by layer; ``plots/dynamics/<run>.tsv``: the
  last layer's metrics plus alignment/uniformity at every dev evaluation.
* figures: metrics by layer, alignment vs uniformity (SimCSE Fig. 3), their trajectories over
  training (Fig. 2), the last layer's isotropy over steps, training loss and STS-B dev curves,
  the STS Avg. per row and the BSC batch hardness per strategy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentemb.config.jobs import AggregateJob
from sentemb.errors import DataError
from sentemb.layout import analysis_files, train_files
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


def load_analyses(job: AggregateJob, analysis_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Row label -> the analysis documents of its runs (one per seed)."""
    docs: dict[str, list[dict[str, Any]]] = {}
    for row in job.rows:
        for run in row.runs:
            path = analysis_files(analysis_dir, run).details
            if not path.exists():
                raise DataError(path, f"missing geometry analysis of '{row.label}' (run `dvc repro analyze`)")
            docs.setdefault(row.label, []).append(read_json(path) | {"_source": str(path), "_run": run})
    return docs


def _value(doc: dict[str, Any], where: str, key: str) -> float:
    value = doc["layers"][-1].get(key) if where == "layer" else doc["sentence"].get(key)
    if not isinstance(value, (int, float)):
        raise DataError(doc["_source"], f"{key} is {value!r}: the geometry table cell would be empty")
    return float(value)


def geometry_table(job: AggregateJob, docs: dict[str, list[dict[str, Any]]]) -> Table:
    rows, stds = [], []
    for row, runs in docs.items():
        stats = [seed_stats([_value(d, where, key) for d in runs]) for where, key in GEOMETRY.values()]
        rows.append((f"{row} ({len(runs)} seeds)" if len(runs) > 1 else row, [m for m, _ in stats]))
        stds.append(tuple(sd for _, sd in stats))
    note = "" if job.verified_data else ", unverified data"
    return Table("geometry", "Geometry of the last layer (docs/methods.md §6.1) and of sentence embeddings (§7.1), "
                 f"STS-B test sentences [test split{note}]", [], rows, extras=tuple(GEOMETRY), average=False,
                 ids=tuple(docs), stds=tuple(stds))


def write_layer_tsvs(docs: dict[str, list[dict[str, Any]]], plots_dir: Path) -> None:
    for runs in docs.values():
        for doc in runs:
            write_tsv(plots_dir / "analysis" / f"{doc['_run']}.tsv", ["layer", *LAYER_KEYS],
                 [[layer["layer"]] + [layer.get(k) for k in LAYER_KEYS] for layer in doc["layers"]])


def load_dynamics(job: AggregateJob, train_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Run -> its dynamics rows (empty when the analysis during training was off)."""
    out = {}
    for row in job.rows:
        for run in row.runs if row.kind == "method" else ():
            path = train_files(train_dir, run).dynamics
            assert path is not None
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


def write_figures(job: AggregateJob, docs: dict[str, list[dict[str, Any]]], dynamics: dict[str, list[dict[str, Any]]],
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
    runs = [run for row in job.rows if row.kind == "method" for run in row.runs]
    if runs:
        files = {r: train_files(train_dir, r) for r in runs}
        made["loss"] = F.save(F.fig_curves({r: [(x["step"], x["loss"]) for x in read_jsonl(f.steps)]  # type: ignore[arg-type]
                                            for r, f in files.items()}, "training loss"), out_dir / "loss.png")
        made["stsb_dev"] = F.save(F.fig_curves(
            {r: [(x["step"], x["stsb_dev"]) for x in read_jsonl(f.dev)] for r, f in files.items()},  # type: ignore[arg-type]
            "STS-B dev Spearman x100"), out_dir / "stsb_dev.png")
    sts = next((t for t in tables if t.name == "sts"), None)
    if sts is not None:
        made["sts_avg"] = F.save(F.fig_bars({label: cells[sts.n_scores - 1] for label, cells in sts.rows},  # type: ignore[misc]
                                            "STS Avg. (test)"), out_dir / "sts_avg.png")
        if sts.compared:
            made["forest"] = F.save(F.fig_forest(forest_rows(sts)), out_dir / "sts_forest.png")
    if hardness:
        made["pair_hardness"] = F.save(F.fig_bars({f"{t}/{v}": b for t, v, _, _, b, _ in hardness},
                                                  "mean max off-diagonal cosine per batch"),
                                       out_dir / "pair_hardness.png")
    return made


def forest_rows(table: Table) -> list[tuple[str, str, float, float, float, bool]]:
    """(row label, column, difference, low, high, significant) of every compared cell."""
    headers = table.headers[1:table.n_scores + 1]
    out = []
    for r, (label, _) in enumerate(table.rows):
        for i, header in enumerate(headers):
            c = table.comparison(r, i)
            if c is not None:
                out.append((label, header, c.diff, c.low, c.high, c.significant))
    return out
