"""Training curves for ``dvc plots``: per-step JSONL logs -> TSV (DVC plots read JSON/YAML/CSV/TSV only).

Columns are the union of the keys in first-seen order; a stat absent at some step (e.g. the
ESimCSE ``queue_cos`` before the queue has entries) is left blank, never filled with 0.
"""

from __future__ import annotations

from pathlib import Path

from sentemb.errors import DataError
from sentemb.utils.io import atomic_open, read_jsonl

KINDS = {"steps": ".jsonl", "dev": ".dev.jsonl"}  # plots/<kind>/<variant>.tsv <- train/<variant><suffix>


def write_tsv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """One TSV for ``dvc plots``, written atomically; None is a blank cell, never 0."""
    with atomic_open(path) as handle:
        handle.write("\t".join(header) + "\n")
        for row in rows:
            handle.write("\t".join("" if v is None else str(v) for v in row) + "\n")


def jsonl_to_tsv(src: Path, dst: Path) -> int:
    if not src.exists():
        raise DataError(src, "missing training log; run `dvc repro train@<variant>`")
    rows = read_jsonl(src)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    write_tsv(dst, columns, [[row.get(c) for c in columns] for row in rows])
    return len(rows)


def write_curves(train_dir: Path, plots_dir: Path, variants: list[str]) -> None:
    for variant in variants:
        for kind, suffix in KINDS.items():
            jsonl_to_tsv(train_dir / f"{variant}{suffix}", plots_dir / kind / f"{variant}.tsv")
