"""The aggregate stage: evaluation JSONs -> paper-style tables and ``metrics/report.md``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentemb.config import Params, suggest, variant_runs
from sentemb.data.senteval import TRANSFER_TASKS
from sentemb.errors import ConfigError, DataError
from sentemb.evaluation.tasks import sts_tasks
from sentemb.reporting.analysis import (
    geometry_table,
    load_analyses,
    load_dynamics,
    write_dynamics_tsvs,
    write_figures,
    write_layer_tsvs,
)
from sentemb.reporting.curves import write_curves
from sentemb.reporting.pairs import hardness_markdown, hardness_rows, pair_table, write_pair_curves
from sentemb.reporting.paradigm import (
    ori_vs_mod_markdown,
    paradigm_rows,
    paradigm_table,
    write_gradient_curves,
    write_paradigm_plots,
)
from sentemb.reporting.tables import Table, build_table, to_markdown, write_table
from sentemb.utils.io import atomic_open, read_json

log = logging.getLogger(__name__)


def expected_rows(params: Params) -> list[str]:
    """Every row the pipeline evaluates: the untrained baselines first, then trained variants."""
    return list(params.baselines) + list(params.variants)


def row_tasks(params: Params, row: str) -> str:
    """The task family a row was evaluated on (a variant's ``eval_tasks`` overrides)."""
    variant = params.variants.get(row)
    return variant.eval_tasks if variant is not None and variant.eval_tasks else params.evaluate.tasks


def main_rows(params: Params) -> list[str]:
    """Rows of the SimCSE-style tables: baselines and ``table: main`` variants."""
    return list(params.baselines) + [n for n, v in params.variants.items() if v.table == "main"]


def row_runs(params: Params, row: str) -> list[str]:
    """File stems of a row's evaluations: a baseline's own name, or one run per seed."""
    return variant_runs(params, row) if row in params.variants else [row]


def load_rows(params: Params, eval_dir: Path, rows: list[str]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    docs: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for row in rows:
        for run in row_runs(params, row):
            path = eval_dir / f"{run}.json"
            if not path.exists():
                stage = f"evaluate_variant@{run.replace('.s', '-')}" if row in params.variants else f"evaluate@{row}"
                raise DataError(path, f"missing evaluation output for row '{row}' (run `dvc repro {stage}`)")
            docs.setdefault(row, []).append((str(path), read_json(path)))
    return docs


def build_tables(params: Params, docs: dict[str, list[tuple[str, dict[str, Any]]]],
                 train_dir: Path | None = None) -> list[Table]:
    cfg, tables = params.evaluate, []
    main = main_rows(params)
    for name, family, title, tasks in (("sts", "sts", params.aggregate.sts_title, sts_tasks(cfg.mode)),
                                       ("transfer", "transfer", params.aggregate.transfer_title, TRANSFER_TASKS)):
        rows = [r for r in main if row_tasks(params, r) in (family, "all")]
        if rows:
            tables.append(build_table(name, title, tasks, {r: docs[r] for r in rows}))
    if paradigm_rows(params):
        if train_dir is None:
            raise ConfigError("the paradigm table needs the training logs (--train-dir)")
        tables.append(paradigm_table(params, docs, train_dir))
    return tables


def _check_reference(params: Params) -> None:
    ref = params.aggregate.paradigm_reference
    if ref is not None and paradigm_rows(params) and ref not in params.baselines:
        raise ConfigError(f"aggregate.paradigm_reference: '{ref}' is not a baseline" + suggest(ref, params.baselines))


def _provenance_lines(docs: dict[str, list[tuple[str, dict[str, Any]]]]) -> list[str]:
    lines = ["| Run | Model | Pooler | Mode | Model sha256 | Eval wall (s) |", "|---|---|---|---|---|---:|"]
    for row, runs in docs.items():
        for source, doc in runs:
            p = doc.get("provenance", {})
            lines.append(f"| {doc.get('run', row)} | {p.get('model')} | {p.get('pooler')} | {p.get('mode')} | "
                         f"`{str(p.get('model_sha256', ''))[:12]}` | {p.get('wall_seconds')} |")
    return lines


def has_pairs(params: Params) -> bool:
    return bool(params.pairs.tasks and params.pairs.variants)


@dataclass(frozen=True)
class Dirs:
    """Inputs and outputs of the aggregate stage (None: that part of the report is skipped)."""

    eval: Path
    tables: Path
    report: Path
    train: Path | None = None
    plots: Path | None = None
    pairs: Path | None = None
    analysis: Path | None = None
    figures: Path | None = None


def aggregate(params: Params, eval_dir: Path, out_dir: Path, report_path: Path,
              train_dir: Path | None = None, plots_dir: Path | None = None, pairs_dir: Path | None = None,
              analysis_dir: Path | None = None, figures_dir: Path | None = None) -> list[Table]:
    """Build every table (raising on any missing cell) before writing anything."""
    d = Dirs(eval_dir, out_dir, report_path, train_dir, plots_dir, pairs_dir, analysis_dir, figures_dir)
    _check_reference(params)
    docs = load_rows(params, d.eval, expected_rows(params))
    tables = build_tables(params, docs, d.train)
    hardness: list[tuple[str, str, str, float, float, float]] = []
    if has_pairs(params):
        if d.pairs is None:
            raise ConfigError("the BSC table needs the pair runs (--pairs-dir)")
        tables.append(pair_table(params, d.pairs))
        hardness = hardness_rows(params, d.pairs)
    geometry = load_analyses(params, d.analysis) if d.analysis is not None else {}
    if geometry:
        tables.append(geometry_table(geometry))
    dynamics = load_dynamics(params, d.train) if d.train is not None and d.analysis is not None else {}
    extra = _write_plots(params, d, tables, geometry, dynamics) if d.train and d.plots else {}
    made = (write_figures(params, geometry, dynamics, d.train, tables, hardness, d.figures)
            if d.figures is not None and d.train is not None and geometry else {})
    for table in tables:
        write_table(table, d.tables)
    body = _report_body(params, d, tables, extra, hardness, made) + ["## Provenance", ""] + _provenance_lines(docs)
    with atomic_open(d.report) as handle:
        handle.write("\n".join(body + [""]))
    log.info("wrote %d tables, %d figures and %s", len(tables), len(made), d.report)
    return tables


def _write_plots(params: Params, d: Dirs, tables: list[Table], geometry: dict[str, list[dict[str, Any]]],
                 dynamics: dict[str, list[dict[str, Any]]]) -> dict[str, list]:
    """The TSVs behind `dvc plots`; returns the paradigm figure rows for the report."""
    assert d.train is not None and d.plots is not None
    runs = [run for v in params.variants for run in variant_runs(params, v)]
    write_curves(d.train, d.plots, runs)
    write_gradient_curves(d.train, d.plots, runs)
    if has_pairs(params) and d.pairs is not None:
        write_pair_curves(params, d.pairs, d.plots)
    write_layer_tsvs(geometry, d.plots)
    write_dynamics_tsvs(dynamics, d.plots)
    paradigm = next((t for t in tables if t.name == "paradigm"), None)
    return write_paradigm_plots(params, paradigm, d.train, d.plots)


def _rel(target: Path, report: Path) -> Path:
    """``target`` as a link from the report's directory (it usually sits beside the report)."""
    return target.relative_to(report.parent) if target.is_relative_to(report.parent) else target


def at_a_glance(tables: list[Table]) -> list[str]:
    """One line per score column: the row(s) with the highest value (the bold cells of the tables)."""
    lines = []
    for table in tables:
        headers = table.headers[1:table.n_scores + 1]
        wins = []
        for i, header in enumerate(headers):
            best = max(cells[i] for _, cells in table.rows)  # type: ignore[type-var]
            rows = [label for label, cells in table.rows if cells[i] == best]
            wins.append(f"{header}: {', '.join(rows)} ({best:.2f})")
        if wins and len(table.rows) > 1:
            lines.append(f"- **{table.name}**: " + "; ".join(wins))
    return (["## At a glance (best row per column, higher is better)", ""] + lines + [""]) if lines else []


FIGURE_CAPTIONS = {
    "sts_avg": "STS Avg. (test) per row",
    "layers": "Geometry by layer (methods.md §6.1), first seed of each row",
    "align_uniform": "Alignment vs uniformity of sentence embeddings (§7.1; SimCSE Fig. 3), lower-left is better",
    "trajectories": "Alignment/uniformity every dev evaluation during training (SimCSE Fig. 2)",
    "isotropy_steps": "Anisotropy baseline of the last layer over training steps (learning dynamics, §6.2)",
    "loss": "Training loss per step",
    "stsb_dev": "STS-B dev Spearman x100 at each evaluation (the checkpoint selection metric)",
    "pair_hardness": "Batch hardness per pair run: mean over steps of the max off-diagonal cosine (§4.4)",
}


def _report_body(params: Params, d: Dirs, tables: list[Table], extra: dict[str, list],
                 hardness: list[tuple[str, str, str, float, float, float]], made: dict[str, Path]) -> list[str]:
    rel = _rel(d.tables, d.report)
    body = ["# Results", "", "Generated by the `aggregate` stage from `metrics/{eval,train,pairs,analysis}`; "
            "do not edit by hand. Every table states its split.", ""] + at_a_glance(tables)
    for table in tables:
        body += [to_markdown(table), f"Files: [{table.name}.md]({rel}/{table.name}.md), [csv]({rel}/{table.name}.csv), "
                 f"[tex]({rel}/{table.name}.tex)", ""]
    if extra.get("ori_vs_mod"):
        body += ["**Non-contrastive objectives, original vs modified (STS Avg.)**", "",
                 ori_vs_mod_markdown(extra["ori_vs_mod"]),
                 f"Figure: `dvc plots show` (plot `ori_vs_mod`, from `{d.plots}/paradigm/ori_vs_mod.tsv`).", ""]
    if extra.get("sg_components"):
        body += ["**The sg probe: best STS-B dev against each component**", "",
                 "| Row | m | τ_w | p | R | gate | STS-B dev | STS Avg. |", "|---|---:|---:|---:|---:|---|---:|---:|"]
        body += ["| " + " | ".join("–" if v is None else str(v) for v in row) + " |" for row in extra["sg_components"]]
        body += ["", "Figures: plots `sg_margin`, `sg_weight_temperature`, `sg_ratio`; sweeps in README.", ""]
    if hardness:
        body += ["**Batch hardness by shuffle strategy** (mean over training steps; methods.md §4.4)", "",
                 hardness_markdown(hardness),
                 f"Per-step curves: `{d.plots}/pairs/<task>-<variant>.tsv` (plot `metrics/plots/pairs`).", ""]
    if made:
        body += ["## Figures", ""]
        for name, path in made.items():
            body += [f"**{FIGURE_CAPTIONS[name]}**", "", f"![{name}]({_rel(path, d.report)})", ""]
    if d.plots is not None and params.variants:
        body += ["Interactive versions: `dvc plots show` and `dvc plots diff HEAD~1` over the TSVs under "
                 f"`{d.plots}` (steps, dev, grad, analysis, dynamics, pairs).", ""]
    return body
