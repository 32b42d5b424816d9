"""The BSC table and the batch-hardness summary of the pair runs (docs/methods.md §4.6).

Rows are the pair methods in ``params.yaml`` order, columns each task's ``table_metrics`` on the
test split, as the paper's tables. There is no Avg.: the cells mix Spearman, F1 and ranking
scales. A cell a method cannot have (explicit triplets on a task without labelled negatives) is
"n/a"; a missing run or metric raises instead of leaving a blank. Each row with a reference (BSC
vs MSE, a shuffle vs BSC) carries its paired bootstrap comparison per cell (``pair_items``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sentemb.config.jobs import AggregateJob
from sentemb.errors import DataError
from sentemb.layout import PairRun, pair_files
from sentemb.reporting.compare import Timer, load_items, pair_comparisons
from sentemb.reporting.curves import write_tsv
from sentemb.reporting.tables import Table, with_comparisons
from sentemb.utils.io import read_json, read_jsonl

METRIC_NAMES = {"spearman": "Spearman", "pearson": "Pearson", "f1": "F1", "accuracy": "Acc.", "mrr": "MRR",
                "map": "MAP", "p@1": "P@1", "ndcg@1": "nDCG@1"}
HARDNESS = ("neg_cos", "neg_cos_max", "labelled_negatives")


def run_doc(pairs_dir: Path, run: str) -> tuple[Path, dict[str, Any]]:
    path = pair_files(pairs_dir, run).details
    if not path.exists():
        task, method = run.split("-", 1)
        raise DataError(path, f"missing pair run (run `dvc repro {PairRun(task, method).stage()}`)")
    doc = read_json(path)
    if doc.get("split") != "test":
        raise DataError(path, f"reports split {doc.get('split')!r}; the BSC table shows test only")
    return path, doc


def _metric(path: Path, doc: dict[str, Any], metric: str) -> float:
    value = doc.get("test", {}).get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise DataError(path, f"test metric {metric!r} is {value!r}, not a finite number")
    return float(value)


def columns(job: AggregateJob) -> list[tuple[str, str, str]]:
    """(task, metric, column title) of every column."""
    return [(c.task, m, f"{c.label} {METRIC_NAMES.get(m, m)}") for c in job.pair_columns for m in c.table_metrics]


def pair_table(job: AggregateJob, pairs_dir: Path, timer: Timer) -> Table:
    rows = []
    for spec in job.pair_rows:
        cells: list[float | None] = []
        for task, metric, _ in columns(job):
            if not spec.applicable[task]:
                cells.append(None)
                continue
            path, doc = run_doc(pairs_dir, spec.runs[task])
            cells.append(_metric(path, doc, metric))
        rows.append((spec.label, cells))
    note = "" if job.verified_data else ", unverified data"
    table = Table("pairs", f"{job.pairs_title} [test split{note}]", [title for _, _, title in columns(job)], rows,
                  average=False, ids=tuple(s.method for s in job.pair_rows))
    methods = {s.method for s in job.pair_rows}
    refs = {s.method: s.reference for s in job.pair_rows if s.reference in methods}
    if not refs:
        return table
    comparisons = timer.measure(pair_comparisons, _cells(job, pairs_dir, refs), refs,
                                n_resamples=job.bootstrap_resamples, seed=job.bootstrap_seed)
    return with_comparisons(table, comparisons, refs)


def _cells(job: AggregateJob, pairs_dir: Path, refs: dict[str, str]) -> dict[str, dict[str, tuple[str, str, Any]]]:
    """Column title -> row -> (metric, source, per-item outputs) of the compared rows' cells."""
    wanted = set(refs) | set(refs.values())
    out: dict[str, dict[str, tuple[str, str, Any]]] = {}
    loaded: dict[str, dict[str, Any]] = {}
    for task, metric, title in columns(job):
        for spec in job.pair_rows:
            if spec.method in wanted and spec.applicable[task]:
                path = pair_files(pairs_dir, spec.runs[task]).items
                assert path is not None
                if str(path) not in loaded:
                    loaded[str(path)] = load_items(path)
                out.setdefault(title, {})[spec.method] = (metric, str(path), loaded[str(path)])
    return out


def hardness_rows(job: AggregateJob, pairs_dir: Path) -> list[tuple[str, str, str, float, float, float]]:
    """(task, method, shuffle, mean neg_cos, mean neg_cos_max, mean labelled negatives) per
    trained run: the batch hardness each strategy produced, averaged over its logged steps."""
    out = []
    for c in job.pair_columns:
        for spec in job.pair_rows:
            if spec.loss is None or not spec.applicable[c.task]:
                continue
            path = pair_files(pairs_dir, spec.runs[c.task]).steps
            rows = read_jsonl(path) if path is not None and path.exists() else []  # type: ignore[arg-type]
            if not rows:
                raise DataError(path or pairs_dir, "no logged steps for a trained pair run")
            if any(k not in rows[0] for k in HARDNESS):
                continue  # a loss without batch-hardness stats (explicit triplets)
            means = [sum(r[k] for r in rows) / len(rows) for k in HARDNESS]
            out.append((c.label, spec.label, spec.shuffle, *means))
    return out


def write_pair_curves(job: AggregateJob, pairs_dir: Path, plots_dir: Path) -> None:
    """``<plots>/pairs/<task>-<method>.tsv``: loss and batch hardness per step (DVC plots)."""
    for c in job.pair_columns:
        for spec in job.pair_rows:
            if spec.loss is None or not spec.applicable[c.task]:
                continue
            run = spec.runs[c.task]
            rows = read_jsonl(pair_files(pairs_dir, run).steps)  # type: ignore[arg-type]
            keys = [k for k in ["trial", "step", "epoch", "loss", *HARDNESS] if rows and k in rows[0]]
            write_tsv(plots_dir / "pairs" / f"{run}.tsv", keys, [[r.get(k) for k in keys] for r in rows])


def hardness_markdown(rows: list[tuple[str, str, str, float, float, float]]) -> str:
    lines = ["| Task | Method | Shuffle | mean off-diag. cos | mean max off-diag. cos | labelled neg./batch |",
             "|---|---|---|---:|---:|---:|"]
    lines += [f"| {t} | {v} | {s} | {a:.3f} | {b:.3f} | {c:.2f} |" for t, v, s, a, b, c in rows]
    return "\n".join(lines) + "\n"
