"""The unified-paradigm table and figures (docs/methods.md §5).

* ``paradigm`` table: per backbone, the untrained reference row, then every ``table: paradigm``
  method, the STS test columns and Avg. (each compared with its reference: the untrained [CLS]
  row, or for a modified objective its original), then the measured gradient components averaged
  over every training step that logged them (losses/paradigm.py): mean GD, fraction of anchors
  with GD > 0, max of W, entropy of W (nats) and R.
* ``plots/paradigm/ori_vs_mod.tsv``: the STS Avg. of every non-contrastive row with its form
  (``ori``: no switch on; ``mod``: any of ``w_gd``/``w_w``/``w_r``), drawn as a bar chart.
* ``plots/paradigm/sg_components.tsv``: each ``sg`` probe row's margin, τ_w, power, ratio and
  gate against its best STS-B dev and STS Avg., drawn as one scatter per component; rows added
  by ``dvc exp run -S`` sweeps land here too.
* ``plots/grad/<run>.tsv``: the per-step components for every trained run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sentemb.config.jobs import AggregateJob, RowSpec
from sentemb.errors import DataError
from sentemb.evaluation.tasks import sts_tasks
from sentemb.layout import train_files
from sentemb.reporting.curves import write_tsv
from sentemb.reporting.tables import Table
from sentemb.utils.io import read_json, read_jsonl

SWITCHES = ("w_gd", "w_w", "w_r")
# table header -> step-log key (losses/paradigm.py ``summarize``)
COMPONENTS = {"GD": "grad/gd_mean", "GD>0": "grad/gd_nonzero", "W max": "grad/w_max",
              "W ent.": "grad/w_entropy", "R": "grad/r_mean"}
SG_FIELDS = ("margin", "weight_temperature", "power", "ratio", "gate")


def paradigm_rows(job: AggregateJob) -> list[RowSpec]:
    """Per backbone: its reference (untrained) row, then its paradigm methods."""
    by_id = {r.id: r for r in job.rows}
    out = []
    for backbone in dict.fromkeys(r.backbone for r in job.rows):
        methods = [r for r in job.rows if r.backbone == backbone and r.table == "paradigm"]
        ref = job.paradigm_reference.get(backbone)
        out += ([by_id[ref]] if ref and methods else []) + methods
    return out


def training_means(train_dir: Path, runs: list[str]) -> dict[str, float | None]:
    """Mean of each component over the steps that logged it, over every run (seed) of a row;
    None if no step did (e.g. W and R when no anchor ever received gradient), never 0."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        path = train_files(train_dir, run).steps
        assert path is not None
        if not path.exists():
            raise DataError(path, f"missing training log of paradigm run '{run}'")
        rows += read_jsonl(path)
    first = train_files(train_dir, runs[0]).steps
    out: dict[str, float | None] = {}
    for header, key in COMPONENTS.items():
        values = [float(r[key]) for r in rows if r.get(key) is not None]
        if any(not math.isfinite(v) for v in values):
            raise DataError(first, f"non-finite {key} in the step log")  # type: ignore[arg-type]
        out[header] = sum(values) / len(values) if values else None
    if all(v is None for v in out.values()):
        raise DataError(first, "no gradient diagnostics in the step log (train.grad_diagnostics was off?)")  # type: ignore[arg-type]
    return out


def paradigm_table(builder: Any, train_dir: Path) -> Table:
    """The paradigm table through the builder (labels, docs, comparisons), plus the components."""
    job = builder.job
    rows = paradigm_rows(job)
    base = builder.table("paradigm", job.paradigm_title, sts_tasks(job.mode), rows)
    cells = []
    for spec, (label, scores) in zip(rows, base.rows):
        means = training_means(train_dir, spec.runs) if spec.kind == "method" else dict.fromkeys(COMPONENTS)
        cells.append((label, scores + list(means.values())))
    from dataclasses import replace

    return replace(base, rows=cells, extras=base.extras + tuple(COMPONENTS))


def form(loss_args: dict[str, Any]) -> str:
    return "mod" if any(loss_args.get(s) for s in SWITCHES) else "ori"


def _sts_avg(table: Table, row: str) -> float:
    return table.row(row)[table.n_scores - 1]  # type: ignore[return-value]


def ori_vs_mod(job: AggregateJob, table: Table) -> list[list[object]]:
    return [[r.label, f"{r.loss} on {r.backbone}", form(r.loss_args), _sts_avg(table, r.id)]
            for r in paradigm_rows(job) if r.kind == "method" and r.loss_family == "non_contrastive"]


def _best_dev(summary_path: Path, row: str) -> float:
    if not summary_path.exists():
        raise DataError(summary_path, f"missing training summary of sg row '{row}'")
    best = read_json(summary_path).get("best_dev")
    if not isinstance(best, (int, float)) or not math.isfinite(best):
        raise DataError(summary_path, f"best_dev is {best!r}, not a finite number")
    return float(best)


def sg_components(job: AggregateJob, table: Table, train_dir: Path) -> list[list[object]]:
    out = []
    for r in paradigm_rows(job):
        if r.loss != "sg":
            continue
        bests = [_best_dev(train_files(train_dir, run).metrics, r.label) for run in r.runs]
        best = sum(bests) / len(bests)  # mean over seeds, like the table's STS cells
        out.append([r.label] + [r.loss_fields.get(f) for f in SG_FIELDS] + [round(best, 2), _sts_avg(table, r.id)])
    return out


def write_paradigm_plots(job: AggregateJob, table: Table | None, train_dir: Path, plots_dir: Path) -> dict[str, list]:
    """The two TSVs behind the paradigm figures; headers only without a paradigm table, so that
    the stage's declared outputs always exist."""
    figures: dict[str, list] = {"ori_vs_mod": [], "sg_components": []}
    if table is not None:
        figures = {"ori_vs_mod": ori_vs_mod(job, table), "sg_components": sg_components(job, table, train_dir)}
    write_tsv(plots_dir / "paradigm" / "ori_vs_mod.tsv", ["row", "objective", "form", "sts_avg"],
              figures["ori_vs_mod"])
    write_tsv(plots_dir / "paradigm" / "sg_components.tsv", ["row", *SG_FIELDS, "stsb_dev", "sts_avg"],
              figures["sg_components"])
    return figures


def write_gradient_curves(train_dir: Path, plots_dir: Path, runs: list[str]) -> None:
    """plots/grad/<run>.tsv: step and the ``grad/*`` stats (prefix dropped); blank, not 0, where a
    step did not log one. A log without diagnostics gets no file rather than one with no curve."""
    for run in runs:
        rows = read_jsonl(train_files(train_dir, run).steps)  # type: ignore[arg-type]
        keys = list(dict.fromkeys(k for r in rows for k in r if k.startswith("grad/")))
        if not keys:
            continue
        write_tsv(plots_dir / "grad" / f"{run}.tsv", ["step"] + [k.removeprefix("grad/") for k in keys],
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
