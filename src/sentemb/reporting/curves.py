"""Training curves for ``dvc plots``: per-step JSONL logs -> TSV (DVC plots read JSON/YAML/CSV/TSV only).

Columns are the union of the keys in first-seen order; a stat absent at some step (e.g. the
ESimCSE ``queue_cos`` before the queue has entries) is left blank, never filled with 0.
"""

from __future__ import annotations

from pathlib import Path

from sentemb.errors import DataError
from sentemb.layout import train_files
from sentemb.utils.io import atomic_open, read_jsonl


def write_tsv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """One TSV for ``dvc plots``, written atomically; None is a blank cell, never 0."""
    with atomic_open(path) as handle:
        handle.write("\t".join(header) + "\n")
        for row in rows:
            handle.write("\t".join("" if v is None else str(v) for v in row) + "\n")


def jsonl_to_tsv(src: Path, dst: Path) -> int:
    if not src.exists():
        raise DataError(src, "missing training log (written by the run's train stage)")
    rows = read_jsonl(src)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    write_tsv(dst, columns, [[row.get(c) for c in columns] for row in rows])
    return len(rows)


def write_curves(train_dir: Path, plots_dir: Path, runs: list[str]) -> None:
    """``plots/steps/<run>.tsv`` and ``plots/dev/<run>.tsv`` from each run's step and dev logs."""
    for run in runs:
        files = train_files(train_dir, run)
        jsonl_to_tsv(files.steps, plots_dir / "steps" / f"{run}.tsv")  # type: ignore[arg-type]
        jsonl_to_tsv(files.dev, plots_dir / "dev" / f"{run}.tsv")  # type: ignore[arg-type]
