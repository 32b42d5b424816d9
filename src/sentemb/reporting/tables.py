"""Paper-style tables from evaluation JSONs (layout of SimCSE's Tables 1 and 2).

One row per evaluated variant or baseline, one column per task, then "Avg." (the mean of the
rounded task scores, as the papers compute it). A missing or non-finite cell raises: a table is
never rendered with a blank, a 0 or a NaN standing in for a result (style.md §4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentemb.data.senteval import STS_TASKS, TRANSFER_TASKS
from sentemb.errors import DataError
from sentemb.utils.io import atomic_open

HEADERS = {"STSBenchmark": "STS-B", "SICKRelatedness": "SICK-R", "SST2": "SST"}


@dataclass(frozen=True)
class Table:
    """``rows`` hold the task cells, Avg., then one cell per ``extras`` column (diagnostics that
    are not scores: never bolded, never averaged; ``None`` there means "not defined for this row",
    e.g. gradient statistics of an untrained baseline, and is shown as "–")."""

    name: str
    caption: str
    columns: list[str]  # task names
    rows: list[tuple[str, list[float | None]]]  # (row label, cells incl. Avg. and extras)
    extras: tuple[str, ...] = ()
    average: bool = True  # False: no Avg. column (cells on different scales, e.g. Spearman and F1)

    @property
    def headers(self) -> list[str]:
        avg = ["Avg."] if self.average else []
        return ["Model"] + [HEADERS.get(c, c) for c in self.columns] + avg + list(self.extras)

    @property
    def n_scores(self) -> int:
        """Cells that are scores (tasks and Avg.), before the extras."""
        return len(self.columns) + int(self.average)


def _fmt(table: Table, i: int, value: float | None) -> str:
    if value is None:
        return "–"
    if i < table.n_scores:
        return f"{value:.2f}"
    # diagnostics: 3 significant digits; numerical noise of the float64 solve (~1e-11, e.g. the
    # entropy of one-hot weights) is shown as a bound rather than as a misleading 8.7e-12
    return "<1e-6" if 0 < abs(value) < 1e-6 else f"{value:.3g}"


def _cell(doc: Mapping[str, Any], task: str, source: str) -> float:
    value = doc.get("scores", {}).get(task)
    if value is None:
        raise DataError(source, f"no score for task {task}; the table cell would be empty")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(source, f"score for task {task} is {value!r}, not a finite number")
    return float(value)


def build_table(name: str, caption: str, tasks: Sequence[str], docs: Mapping[str, tuple[str, dict]]) -> Table:
    """``docs`` maps row label -> (source path, eval JSON). Avg. is recomputed from the cells."""
    splits = {doc.get("split") for _, doc in docs.values()}
    if len(splits) > 1:
        raise DataError(name, f"rows mix splits {sorted(map(str, splits))}; dev and test never share a table")
    rows = []
    for label, (source, doc) in docs.items():
        cells = [_cell(doc, t, source) for t in tasks]
        rows.append((label, cells + [round(sum(cells) / len(cells), 2)]))
    split = splits.pop() if splits else "test"
    return Table(name, f"{caption} [{split} split]", list(tasks), rows)


def to_markdown(table: Table) -> str:
    lines = [f"**{table.caption}**", "", "| " + " | ".join(table.headers) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(table.headers) - 1)) + "|"]
    best = [max(r[1][i] for r in table.rows) for i in range(table.n_scores)]
    for label, cells in table.rows:
        shown = [f"**{_fmt(table, i, v)}**" if i < table.n_scores and v == best[i] and len(table.rows) > 1
                 else _fmt(table, i, v) for i, v in enumerate(cells)]
        lines.append("| " + " | ".join([label] + shown) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    lines = [",".join(table.headers)]
    # machine-readable: scores to 2 decimals as printed, diagnostics at full precision
    lines += [",".join([label] + ["" if v is None else f"{v:.2f}" if i < table.n_scores else repr(v)
                                  for i, v in enumerate(cells)]) for label, cells in table.rows]
    return "\n".join(lines) + "\n"


def to_latex(table: Table) -> str:
    escape = str.maketrans({"_": r"\_", "&": r"\&", "%": r"\%"})
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "c" * (len(table.headers) - 1) + "}",
             r"\toprule", " & ".join(h.translate(escape) for h in table.headers) + r" \\", r"\midrule"]
    for label, cells in table.rows:
        lines.append(" & ".join([label.translate(escape)] + [_fmt(table, i, v).replace("–", "--")
                                                              for i, v in enumerate(cells)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{table.caption.translate(escape)}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(table: Table, out_dir: Path) -> list[Path]:
    paths = []
    for ext, render in (("md", to_markdown), ("csv", to_csv), ("tex", to_latex)):
        path = out_dir / f"{table.name}.{ext}"
        with atomic_open(path) as handle:
            handle.write(render(table))
        paths.append(path)
    return paths


FAMILIES = {"sts": STS_TASKS, "transfer": TRANSFER_TASKS}
