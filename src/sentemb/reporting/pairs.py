"""The BSC table and the batch-hardness summary of the pair runs (methods.md §4.6).

Rows are the pair variants in ``params.yaml`` order (MSE, BSC, BSC without labelled negatives,
BSC with each shuffle, Combo, Triplet, no fine-tuning), columns each task's ``table_metrics`` on
the test split, as the paper's tables. There is no Avg.: the cells mix Spearman, F1 and ranking
scales. A missing run or metric raises instead of leaving a blank.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sentemb.config import Params
from sentemb.errors import DataError
from sentemb.reporting.curves import write_tsv
from sentemb.reporting.tables import Table
from sentemb.utils.io import read_json, read_jsonl

METRIC_NAMES = {"spearman": "Spearman", "pearson": "Pearson", "f1": "F1", "accuracy": "Acc.", "mrr": "MRR",
                "map": "MAP", "p@1": "P@1", "ndcg@1": "nDCG@1"}
HARDNESS = ("neg_cos", "neg_cos_max", "labelled_negatives")


def _run_doc(pairs_dir: Path, task: str, variant: str) -> tuple[Path, dict[str, Any]]:
    path = pairs_dir / f"{task}-{variant}.json"
    if not path.exists():
        raise DataError(path, f"missing pair run (run `dvc repro finetune_pairs@{task}-{variant}`)")
    doc = read_json(path)
    if doc.get("split") != "test":
        raise DataError(path, f"reports split {doc.get('split')!r}; the BSC table shows test only")
    return path, doc


def _metric(path: Path, doc: dict[str, Any], metric: str) -> float:
    value = doc.get("test", {}).get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise DataError(path, f"test metric {metric!r} is {value!r}, not a finite number")
    return float(value)


def pair_table(params: Params, pairs_dir: Path) -> Table:
    tasks = params.pairs.tasks
    columns = [f"{t.label or name} {METRIC_NAMES.get(m, m)}" for name, t in tasks.items() for m in t.table_metrics]
    rows = []
    for variant, v in params.pairs.variants.items():
        cells: list[float | None] = []
        for task, t in tasks.items():
            path, doc = _run_doc(pairs_dir, task, variant)
            cells += [_metric(path, doc, m) for m in t.table_metrics]
        rows.append((v.label or variant, cells))
    return Table("pairs", f"{params.pairs.title} [test split]", columns, rows, average=False)


def hardness_rows(params: Params, pairs_dir: Path) -> list[tuple[str, str, str, float, float, float]]:
    """(task, variant, shuffle, mean neg_cos, mean neg_cos_max, mean labelled negatives) per
    trained run: the batch hardness each strategy produced, averaged over its logged steps."""
    out = []
    for task in params.pairs.tasks:
        for variant, v in params.pairs.variants.items():
            if v.loss is None:
                continue
            path = pairs_dir / f"{task}-{variant}.jsonl"
            rows = read_jsonl(path) if path.exists() else []
            if not rows:
                raise DataError(path, "no logged steps for a trained pair run")
            means = [sum(r[k] for r in rows) / len(rows) for k in HARDNESS]
            out.append((task, variant, v.shuffle, *means))
    return out


def write_pair_curves(params: Params, pairs_dir: Path, plots_dir: Path) -> None:
    """``<plots>/pairs/<task>-<variant>.tsv``: loss and batch hardness per step (DVC plots)."""
    for task in params.pairs.tasks:
        for variant, v in params.pairs.variants.items():
            if v.loss is None:
                continue
            keys = ["trial", "step", "epoch", "loss", *HARDNESS]
            rows = read_jsonl(pairs_dir / f"{task}-{variant}.jsonl")
            write_tsv(plots_dir / "pairs" / f"{task}-{variant}.tsv", keys, [[r[k] for k in keys] for r in rows])


def hardness_markdown(rows: list[tuple[str, str, str, float, float, float]]) -> str:
    lines = ["| Task | Variant | Shuffle | mean off-diag. cos | mean max off-diag. cos | labelled neg./batch |",
             "|---|---|---|---:|---:|---:|"]
    lines += [f"| {t} | {v} | {s} | {a:.3f} | {b:.3f} | {c:.2f} |" for t, v, s, a, b, c in rows]
    return "\n".join(lines) + "\n"
