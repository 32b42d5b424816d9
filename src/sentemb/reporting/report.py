"""The aggregate stage: evaluation results -> paper-style tables, figures and ``metrics/report.md``.

Everything is read from one metrics root (``layout.MetricsRoot``) and labelled from the job's row
specs (display labels; ids only in file names). Every table is built, and every comparison
computed, before anything is written.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sentemb.config.jobs import AggregateJob, RowSpec
from sentemb.data.tasks import family as tasks_of
from sentemb.errors import DataError
from sentemb.evaluation.tasks import sts_tasks
from sentemb.layout import MetricsRoot, TrainRun, eval_files, pair_files
from sentemb.reporting.analysis import (
    geometry_table,
    load_analyses,
    load_dynamics,
    write_dynamics_tsvs,
    write_figures,
    write_layer_tsvs,
)
from sentemb.reporting.compare import Timer, load_items
from sentemb.reporting.curves import write_curves
from sentemb.reporting.glance import at_a_glance
from sentemb.reporting.pairs import hardness_markdown, hardness_rows, pair_table, write_pair_curves
from sentemb.reporting.paradigm import (
    ori_vs_mod_markdown,
    paradigm_table,
    write_gradient_curves,
    write_paradigm_plots,
)
from sentemb.reporting.tables import LEGEND, Table, build_table, to_markdown, with_comparisons, write_table
from sentemb.utils.io import atomic_open, read_json

log = logging.getLogger(__name__)


def load_docs(job: AggregateJob, root: MetricsRoot) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Row id -> (source, evaluation details) per seed; a missing evaluation raises, naming its stage."""
    docs: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for row in job.rows:
        for run in row.runs:
            path = eval_files(root.eval, run).details
            if not path.exists():
                stage = (TrainRun.parse(run).stage("evaluate_variant") if row.kind == "method"
                         else f"evaluate@{row.name}-{row.backbone}")
                raise DataError(path, f"missing evaluation of '{row.label}' (run `dvc repro {stage}`)")
            docs.setdefault(row.id, []).append((str(path), read_json(path)))
    return docs


def _rows_for(job: AggregateJob, family: str) -> list[RowSpec]:
    """The main-table rows evaluated on ``family``: untrained baselines, then methods."""
    main = [r for r in job.rows if r.table in (None, "main")]
    return [r for r in main if r.tasks in (family, "all")]


class Builder:
    """Builds the tables of one aggregate run, with the paired bootstrap of each."""

    def __init__(self, job: AggregateJob, root: MetricsRoot) -> None:
        self.job, self.root = job, root
        self.docs = load_docs(job, root)
        self.timer = Timer()

    def table(self, name: str, caption: str, tasks: list[str], rows: list[RowSpec],
              references: dict[str, str] | None = None) -> Table:
        base = build_table(name, caption, tasks, [(r.id, r.label, self.docs[r.id]) for r in rows],
                           self.job.verified_data)
        refs = references if references is not None else {r.id: r.reference for r in rows if r.reference}
        refs = {row: ref for row, ref in refs.items() if ref in base.ids}
        if not refs:
            return base
        items = {r.id: [(str(p), load_items(p)) for p in (eval_files(self.root.eval, run).items for run in r.runs)]
                 for r in rows if r.id in refs or r.id in refs.values()}
        comparisons = self.timer.run(tasks, refs, items, n_resamples=self.job.bootstrap_resamples,
                                     seed=self.job.bootstrap_seed)
        return with_comparisons(base, comparisons, refs)

    def all_tables(self) -> list[Table]:
        job, tables = self.job, []
        for name, family, title, tasks in (("sts", "sts", job.sts_title, sts_tasks(job.mode)),
                                           ("transfer", "transfer", job.transfer_title, tasks_of("transfer"))):
            rows = _rows_for(job, family)
            if any(r.kind == "method" for r in rows) or rows:
                tables.append(self.table(name, title, tasks, rows))
        if any(r.table == "paradigm" for r in job.rows):
            tables.append(paradigm_table(self, self.root.train))
        return tables


def aggregate(job: AggregateJob, root: MetricsRoot) -> list[Table]:
    """Build every table (raising on any missing cell) before writing anything."""
    builder = Builder(job, root)
    tables = builder.all_tables()
    hardness: list[tuple[str, str, str, float, float, float]] = []
    if job.pair_rows:
        tables.append(pair_table(job, root.pairs, builder.timer))
        hardness = hardness_rows(job, root.pairs)
    geometry = load_analyses(job, root.analysis)
    tables.append(geometry_table(job, geometry))
    dynamics = load_dynamics(job, root.train)
    extra = _write_plots(job, root, tables, geometry, dynamics)
    made = write_figures(job, geometry, dynamics, root.train, tables, hardness, root.figures)
    for table in tables:
        write_table(table, root.tables)
    standins = sorted({doc.get("run", row) for row, runs in builder.docs.items() for _, doc in runs
                       if doc.get("provenance", {}).get("standin")}
                      | {run for spec in job.pair_rows for run in spec.runs.values()
                         if read_json(pair_files(root.pairs, run).details).get("standin")})
    body = _report_body(job, root, tables, extra, hardness, made, builder.timer, standins)
    body += ["## Provenance", ""] + _provenance_lines(job, builder.docs)
    with atomic_open(root.report) as handle:
        handle.write("\n".join(body + [""]))
    log.info("wrote %d tables, %d figures and %s (bootstrap: %d comparisons in %.1f s)", len(tables), len(made),
             root.report, builder.timer.comparisons, builder.timer.seconds)
    return tables


def _trained_runs(job: AggregateJob) -> list[str]:
    return [run for r in job.rows if r.kind == "method" for run in r.runs]


def _write_plots(job: AggregateJob, root: MetricsRoot, tables: list[Table], geometry: dict[str, list[dict[str, Any]]],
                 dynamics: dict[str, list[dict[str, Any]]]) -> dict[str, list]:
    """The TSVs behind `dvc plots`; returns the paradigm figure rows for the report."""
    for folder in root.plot_dirs():  # every declared output exists, if empty (no pair task, no paradigm row)
        folder.mkdir(parents=True, exist_ok=True)
    runs = _trained_runs(job)
    write_curves(root.train, root.plots, runs)
    write_gradient_curves(root.train, root.plots, runs)
    if job.pair_rows:
        write_pair_curves(job, root.pairs, root.plots)
    write_layer_tsvs(geometry, root.plots)
    write_dynamics_tsvs(dynamics, root.plots)
    paradigm = next((t for t in tables if t.name == "paradigm"), None)
    return write_paradigm_plots(job, paradigm, root.train, root.plots)


def _rel(target: Path, report: Path) -> Path:
    """``target`` as a link from the report's directory (it usually sits beside the report)."""
    return target.relative_to(report.parent) if target.is_relative_to(report.parent) else target


def _provenance_lines(job: AggregateJob, docs: dict[str, list[tuple[str, dict[str, Any]]]]) -> list[str]:
    labels = {r.id: r.label for r in job.rows}
    lines = ["| Run | Row | Model | Pooler | Mode | Model sha256 | Eval wall (s) |", "|---|---|---|---|---|---|---:|"]
    for row, runs in docs.items():
        for _, doc in runs:
            p = doc.get("provenance", {})
            lines.append(f"| {doc.get('run', row)} | {labels[row]} | {p.get('model')} | {p.get('pooler')} | "
                         f"{p.get('mode')} | `{str(p.get('model_sha256', ''))[:12]}` | {p.get('wall_seconds')} |")
    return lines


FIGURE_CAPTIONS = {
    "sts_avg": "STS Avg. (test) per row",
    "forest": "STS differences from each row's reference with 95% paired bootstrap intervals (forest plot)",
    "layers": "Geometry by layer (docs/methods.md §6.1), first seed of each row",
    "align_uniform": "Alignment vs uniformity of sentence embeddings (§7.1; SimCSE Fig. 3), lower-left is better",
    "trajectories": "Alignment/uniformity every dev evaluation during training (SimCSE Fig. 2)",
    "isotropy_steps": "Anisotropy baseline of the last layer over training steps (learning dynamics, §6.2)",
    "loss": "Training loss per step",
    "stsb_dev": "STS-B dev Spearman x100 at each evaluation (the checkpoint selection metric)",
    "pair_hardness": "Batch hardness per pair run: mean over steps of the max off-diagonal cosine (§4.4)",
}


def _report_body(job: AggregateJob, root: MetricsRoot, tables: list[Table], extra: dict[str, list],
                 hardness: list[tuple[str, str, str, float, float, float]], made: dict[str, Path],
                 timer: Timer, standins: list[str]) -> list[str]:
    rel = _rel(root.tables, root.report)
    body = ["# Results", "", "Generated by the `aggregate` stage from `metrics/{eval,train,pairs,analysis}`; "
            "do not edit by hand. Every table states its split.", ""]
    if standins:
        body += [f"**Random stand-in models** ({', '.join(standins)}): these numbers check the pipeline's "
                 "mechanics only and are not scores of any real model (README \"Offline stand-ins\").", ""]
    body += at_a_glance(tables)
    body += [f"**How to read the comparisons.** {LEGEND} Bootstrap: {job.bootstrap_resamples} resamples, seed "
             f"{job.bootstrap_seed}; {timer.comparisons} row comparisons took {timer.seconds:.1f} s.", ""]
    for table in tables:
        body += [to_markdown(table), f"Files: [{table.name}.md]({rel}/{table.name}.md), [csv]({rel}/{table.name}.csv), "
                 f"[tex]({rel}/{table.name}.tex)", ""]
    if extra.get("ori_vs_mod"):
        body += ["**Non-contrastive objectives, original vs modified (STS Avg.)**", "",
                 ori_vs_mod_markdown(extra["ori_vs_mod"]),
                 f"Figure: `dvc plots show` (plot `ori_vs_mod`, from `{root.plots}/paradigm/ori_vs_mod.tsv`).", ""]
    if extra.get("sg_components"):
        body += ["**The sg probe: best STS-B dev against each component**", "",
                 "| Row | m | τ_w | p | R | gate | STS-B dev | STS Avg. |", "|---|---:|---:|---:|---:|---|---:|---:|"]
        body += ["| " + " | ".join("–" if v is None else str(v) for v in row) + " |" for row in extra["sg_components"]]
        body += ["", "Figures: plots `sg_margin`, `sg_weight_temperature`, `sg_ratio`; sweeps in README.", ""]
    if hardness:
        body += ["**Batch hardness by shuffle strategy** (mean over training steps; docs/methods.md §4.4)", "",
                 hardness_markdown(hardness),
                 f"Per-step curves: `{root.plots}/pairs/<task>-<method>.tsv` (plot `metrics/plots/pairs`).", ""]
    if made:
        body += ["## Figures", ""]
        for name, path in made.items():
            body += [f"**{FIGURE_CAPTIONS[name]}**", "", f"![{name}]({_rel(path, root.report)})", ""]
    body += ["Interactive versions: `make plots` (offline pages) or `dvc plots diff HEAD~1` over the TSVs under "
             f"`{root.plots}` (steps, dev, grad, analysis, dynamics, pairs).", ""]
    return body
