"""The aggregate stage: evaluation JSONs -> paper-style tables and ``metrics/report.md``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sentemb.config import Params, suggest
from sentemb.data.senteval import TRANSFER_TASKS
from sentemb.errors import ConfigError, DataError
from sentemb.evaluation.tasks import sts_tasks
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


def load_rows(eval_dir: Path, rows: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    docs = {}
    for row in rows:
        path = eval_dir / f"{row}.json"
        if not path.exists():
            raise DataError(path, f"missing evaluation output for row '{row}' (run `dvc repro evaluate@{row}`)")
        docs[row] = (str(path), read_json(path))
    return docs


def build_tables(params: Params, docs: dict[str, tuple[str, dict[str, Any]]],
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


def _provenance_lines(docs: dict[str, tuple[str, dict[str, Any]]]) -> list[str]:
    lines = ["| Row | Model | Pooler | Mode | Model sha256 | Eval wall (s) |", "|---|---|---|---|---|---:|"]
    for row, (_, doc) in docs.items():
        p = doc.get("provenance", {})
        lines.append(f"| {row} | {p.get('model')} | {p.get('pooler')} | {p.get('mode')} | "
                     f"`{str(p.get('model_sha256', ''))[:12]}` | {p.get('wall_seconds')} |")
    return lines


def has_pairs(params: Params) -> bool:
    return bool(params.pairs.tasks and params.pairs.variants)


def aggregate(params: Params, eval_dir: Path, out_dir: Path, report_path: Path,
              train_dir: Path | None = None, plots_dir: Path | None = None,
              pairs_dir: Path | None = None) -> list[Table]:
    """Build every table (raising on any missing cell) before writing anything."""
    _check_reference(params)
    docs = load_rows(eval_dir, expected_rows(params))
    tables = build_tables(params, docs, train_dir)
    hardness: list[tuple[str, str, str, float, float, float]] = []
    if has_pairs(params):
        if pairs_dir is None:
            raise ConfigError("the BSC table needs the pair runs (--pairs-dir)")
        tables.append(pair_table(params, pairs_dir))
        hardness = hardness_rows(params, pairs_dir)
    figures: dict[str, list] = {}
    if train_dir is not None and plots_dir is not None:
        write_curves(train_dir, plots_dir, list(params.variants))
        write_gradient_curves(train_dir, plots_dir, list(params.variants))
        paradigm = next((t for t in tables if t.name == "paradigm"), None)
        figures = write_paradigm_plots(params, paradigm, train_dir, plots_dir)
        if has_pairs(params) and pairs_dir is not None:
            write_pair_curves(params, pairs_dir, plots_dir)
    for table in tables:
        write_table(table, out_dir)
    rel = Path("tables") if out_dir.parent == report_path.parent else out_dir
    body = ["# Results", "", "Generated by the `aggregate` stage from `metrics/eval/*.json`; "
            "do not edit by hand.", ""]
    for table in tables:
        body += [to_markdown(table),
                 f"Files: [{table.name}.md]({rel}/{table.name}.md), [csv]({rel}/{table.name}.csv), "
                 f"[tex]({rel}/{table.name}.tex)", ""]
    if figures.get("ori_vs_mod"):
        body += ["**Non-contrastive objectives, original vs modified (STS Avg.)**", "",
                 ori_vs_mod_markdown(figures["ori_vs_mod"]),
                 f"Figure: `dvc plots show` (plot `ori_vs_mod`, from `{plots_dir}/paradigm/ori_vs_mod.tsv`).", ""]
    if figures.get("sg_components"):
        body += ["**The sg probe: best STS-B dev against each component**", "",
                 "| Row | m | τ_w | p | R | gate | STS-B dev | STS Avg. |", "|---|---:|---:|---:|---:|---|---:|---:|"]
        body += ["| " + " | ".join("–" if v is None else str(v) for v in row) + " |"
                 for row in figures["sg_components"]]
        body += ["", "Figures: plots `sg_margin`, `sg_weight_temperature`, `sg_ratio`; sweeps in README.", ""]
    if hardness:
        body += ["**Batch hardness by shuffle strategy** (mean over training steps; methods.md §4.4)", "",
                 hardness_markdown(hardness),
                 f"Per-step curves: `{plots_dir}/pairs/<task>-<variant>.tsv` (plot `metrics/plots/pairs`).", ""]
    if plots_dir is not None and params.variants:
        body += ["Training curves (per-step stats and STS-B dev) are TSV files under "
                 f"`{plots_dir}/steps` and `{plots_dir}/dev`: `dvc plots show`, `dvc plots diff HEAD~1`.", ""]
    body += ["## Provenance", ""] + _provenance_lines(docs) + [""]
    with atomic_open(report_path) as handle:
        handle.write("\n".join(body))
    log.info("wrote %d tables and %s", len(tables), report_path)
    return tables
