"""The unified-paradigm table and figures (methods.md §5; issue: gradient paradigm).

* ``paradigm`` table: one row per variant with ``table: paradigm`` (after the optional untrained
  reference baseline), the STS test columns and Avg., then the measured gradient components
  averaged over every training step that logged them (losses/paradigm.py): mean GD, fraction
  of anchors with GD > 0, max of W, entropy of W (nats) and R.
* ``plots/paradigm/ori_vs_mod.tsv``: the STS Avg. of every non-contrastive row with its form
  (``ori``: no switch on; ``mod``: any of ``w_gd``/``w_w``/``w_r``), drawn as a bar chart.
* ``plots/paradigm/sg_components.tsv``: each ``sg`` probe row's margin, τ_w, power, ratio and
  gate against its best STS-B dev and STS Avg., drawn as one scatter per component; rows added
  by ``dvc exp run -S`` sweeps land here too.
* ``plots/grad/<variant>.tsv``: the per-step components for every variant.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sentemb.config import Params, variant_runs
from sentemb.errors import DataError
from sentemb.evaluation.tasks import sts_tasks
from sentemb.losses import build_loss
from sentemb.reporting.curves import write_tsv
from sentemb.reporting.tables import Table, build_table
from sentemb.utils.io import read_json, read_jsonl

NON_CONTRASTIVE = ("mhe", "mhs", "vicreg", "barlow_twins")
SWITCHES = ("w_gd", "w_w", "w_r")
# table header -> step-log key (losses/paradigm.py ``summarize``)
COMPONENTS = {"GD": "grad/gd_mean", "GD>0": "grad/gd_nonzero", "W max": "grad/w_max",
              "W ent.": "grad/w_entropy", "R": "grad/r_mean"}
SG_FIELDS = ("margin", "weight_temperature", "power", "ratio", "gate")


def paradigm_rows(params: Params) -> list[str]:
    return [name for name, v in params.variants.items() if v.table == "paradigm"]


def training_means(train_dir: Path, runs: list[str]) -> dict[str, float | None]:
    """Mean of each component over the steps that logged it, over every run (seed) of a row;
    None if no step did (e.g. W and R when no anchor ever received gradient), never 0."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        path = train_dir / f"{run}.jsonl"
        if not path.exists():
            raise DataError(path, f"missing training log of paradigm run '{run}'")
        rows += read_jsonl(path)
    path = train_dir / f"{runs[0]}.jsonl"
    out: dict[str, float | None] = {}
    for header, key in COMPONENTS.items():
        values = [float(r[key]) for r in rows if r.get(key) is not None]
        if any(not math.isfinite(v) for v in values):
            raise DataError(path, f"non-finite {key} in the step log")
        out[header] = sum(values) / len(values) if values else None
    if all(v is None for v in out.values()):
        raise DataError(path, "no gradient diagnostics in the step log (train.grad_diagnostics was off?)")
    return out


def paradigm_table(params: Params, docs: dict[str, list[tuple[str, dict[str, Any]]]], train_dir: Path) -> Table:
    rows = paradigm_rows(params)
    reference = params.aggregate.paradigm_reference
    keys = ([reference] if reference else []) + rows
    base = build_table("paradigm", params.aggregate.paradigm_title, sts_tasks(params.evaluate.mode),
                       {r: docs[r] for r in keys})
    cells = []
    for key, (label, scores) in zip(base.ids, base.rows):
        means = training_means(train_dir, variant_runs(params, key)) if key in rows else dict.fromkeys(COMPONENTS)
        cells.append((label, scores + list(means.values())))
    return Table(base.name, base.caption, base.columns, cells, extras=base.extras + tuple(COMPONENTS),
                 stds=base.stds, ids=base.ids)


def form(loss_args: dict[str, Any]) -> str:
    return "mod" if any(loss_args.get(s) for s in SWITCHES) else "ori"


def _sts_avg(table: Table, row: str) -> float:
    return table.row(row)[table.n_scores - 1]  # type: ignore[return-value]


def ori_vs_mod(params: Params, table: Table) -> list[list[object]]:
    out = []
    for name in paradigm_rows(params):
        v = params.variants[name]
        if v.loss in NON_CONTRASTIVE:
            out.append([name, v.loss, form(v.loss_args), _sts_avg(table, name)])
    return out


def _best_dev(summary_path: Path, row: str) -> float:
    if not summary_path.exists():
        raise DataError(summary_path, f"missing training summary of sg row '{row}'")
    best = read_json(summary_path).get("best_dev_stsb")
    if not isinstance(best, (int, float)) or not math.isfinite(best):
        raise DataError(summary_path, f"best_dev_stsb is {best!r}, not a finite number")
    return float(best)


def sg_components(params: Params, table: Table, train_dir: Path) -> list[list[object]]:
    out = []
    for name in paradigm_rows(params):
        v = params.variants[name]
        if v.loss != "sg":
            continue
        loss = build_loss("sg", **v.loss_args)  # the values that ran, defaults included
        bests = [_best_dev(train_dir / f"{run}.json", name) for run in variant_runs(params, name)]
        best = sum(bests) / len(bests)  # mean over seeds, like the table's STS cells
        out.append([name] + [getattr(loss, f) for f in SG_FIELDS] + [round(best, 2), _sts_avg(table, name)])
    return out


def write_paradigm_plots(params: Params, table: Table | None, train_dir: Path, plots_dir: Path) -> dict[str, list]:
    """The two TSVs behind the paradigm figures; headers only without a paradigm table, so that
    the stage's declared outputs always exist."""
    figures: dict[str, list] = {"ori_vs_mod": [], "sg_components": []}
    if table is not None:
        figures = {"ori_vs_mod": ori_vs_mod(params, table), "sg_components": sg_components(params, table, train_dir)}
    write_tsv(plots_dir / "paradigm" / "ori_vs_mod.tsv", ["row", "objective", "form", "sts_avg"],
               figures["ori_vs_mod"])
    write_tsv(plots_dir / "paradigm" / "sg_components.tsv",
               ["row", *SG_FIELDS, "stsb_dev", "sts_avg"], figures["sg_components"])
    return figures


def write_gradient_curves(train_dir: Path, plots_dir: Path, variants: list[str]) -> None:
    """plots/grad/<run>.tsv for each run in ``variants``: step and the ``grad/*`` stats (prefix dropped); blank, not 0,
    where a step did not log one. A log without diagnostics (``train.grad_diagnostics: false``,
    or a run older than them) gets no file rather than a file with no curve."""
    for variant in variants:
        rows = read_jsonl(train_dir / f"{variant}.jsonl")
        keys = list(dict.fromkeys(k for r in rows for k in r if k.startswith("grad/")))
        if not keys:
            continue
        write_tsv(plots_dir / "grad" / f"{variant}.tsv", ["step"] + [k.removeprefix("grad/") for k in keys],
                   [[r["step"]] + [r.get(k) for k in keys] for r in rows])


def ori_vs_mod_markdown(rows: list[list[object]]) -> str:
    """Objective | ori | mod | Δ, pairing the first ori and first mod row of each objective."""
    by_objective: dict[str, dict[str, float]] = {}
    for _, objective, kind, avg in rows:
        by_objective.setdefault(str(objective), {}).setdefault(str(kind), float(avg))  # type: ignore[arg-type]
    lines = ["| Objective | ori | mod | Δ |", "|---|---:|---:|---:|"]
    for objective, forms in by_objective.items():
        ori, mod = forms.get("ori"), forms.get("mod")
        delta = f"{mod - ori:+.2f}" if ori is not None and mod is not None else "–"
        lines.append(f"| {objective} | {'–' if ori is None else f'{ori:.2f}'} | "
                     f"{'–' if mod is None else f'{mod:.2f}'} | {delta} |")
    return "\n".join(lines) + "\n"
