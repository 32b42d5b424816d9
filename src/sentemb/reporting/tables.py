"""Paper-style tables from evaluation JSONs (layout of SimCSE's Tables 1 and 2).

One row per evaluated variant or baseline, one column per task, then "Avg." (the mean of the
rounded task scores, as the papers compute it). A missing or non-finite cell raises: a table is
never rendered with a blank, a 0 or a NaN standing in for a result (style.md §4).

Several seeds (methods.md §0.6, protocol.md on seed variance): a row trained with n > 1 seeds
shows each cell as mean ± sample std over its seeds (Avg. = mean ± std of the per-seed Avg.)
and its label says ``(n seeds)``. Because papers usually report one run, the table then gets a
"Best seed (dev)" column: the test Avg. of the seed with the best STS-B dev score, chosen on
dev only. Every table states the split it reports, and dev and test rows never share a table.
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
    stds: tuple[tuple[float | None, ...], ...] = ()  # per row, per score cell: std over seeds (None: 1 seed)
    ids: tuple[str, ...] = ()  # per row: the params key it comes from (labels may carry "(n seeds)")

    def row(self, key: str) -> list[float | None]:
        """Cells of the row built from params key ``key``."""
        return self.rows[self.ids.index(key)][1]

    @property
    def headers(self) -> list[str]:
        avg = ["Avg."] if self.average else []
        return ["Model"] + [HEADERS.get(c, c) for c in self.columns] + avg + list(self.extras)

    @property
    def n_scores(self) -> int:
        """Cells that are scores (tasks and Avg.), before the extras."""
        return len(self.columns) + int(self.average)


def _fmt(table: Table, i: int, value: float | None, std: float | None = None) -> str:
    if value is None:
        return "–"
    if i < table.n_scores:
        return f"{value:.2f}" if std is None else f"{value:.2f} ± {std:.2f}"
    # diagnostics: 3 significant digits; numerical noise of the float64 solve (~1e-11, e.g. the
    # entropy of one-hot weights) is shown as a bound rather than as a misleading 8.7e-12
    shown = "<1e-6" if 0 < abs(value) < 1e-6 else f"{value:.3g}"
    return shown if std is None else f"{shown} ± {std:.2g}"


def _std(table: Table, r: int, i: int) -> float | None:
    return table.stds[r][i] if table.stds and i < len(table.stds[r]) else None


def _cell(doc: Mapping[str, Any], task: str, source: str) -> float:
    value = doc.get("scores", {}).get(task)
    if value is None:
        raise DataError(source, f"no score for task {task}; the table cell would be empty")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(source, f"score for task {task} is {value!r}, not a finite number")
    return float(value)


def seed_stats(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof 1; None for a single seed)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _dev_score(doc: Mapping[str, Any], source: str) -> float:
    value = doc.get("selection", {}).get("stsb_dev")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(source, "no finite selection.stsb_dev: the best seed cannot be chosen on dev")
    return float(value)


RowDocs = tuple[str, dict] | Sequence[tuple[str, dict]]


def build_table(name: str, caption: str, tasks: Sequence[str], docs: Mapping[str, RowDocs]) -> Table:
    """``docs`` maps row label -> (source path, eval JSON), or a list of them, one per seed.
    Avg. is recomputed from the rounded cells of each seed."""
    runs = {label: [d] if isinstance(d, tuple) else list(d) for label, d in docs.items()}
    splits = {doc.get("split") for seeds in runs.values() for _, doc in seeds}
    if len(splits) > 1:
        raise DataError(name, f"rows mix splits {sorted(map(str, splits))}; dev and test never share a table")
    multi = any(len(seeds) > 1 for seeds in runs.values())
    rows, stds = [], []
    for label, seeds in runs.items():
        per_seed = [[_cell(doc, t, source) for t in tasks] for source, doc in seeds]
        avgs = [round(sum(round(c, 2) for c in cells) / len(cells), 2) for cells in per_seed]
        stats = [seed_stats([cells[i] for cells in per_seed]) for i in range(len(tasks))] + [seed_stats(avgs)]
        row: list[float | None] = [m for m, _ in stats]
        if multi:
            best = max(range(len(seeds)), key=lambda k: _dev_score(seeds[k][1], seeds[k][0])) if len(seeds) > 1 else 0
            row.append(avgs[best])
        shown = f"{label} ({len(seeds)} seeds)" if len(seeds) > 1 else label
        rows.append((shown, row))
        stds.append(tuple(sd for _, sd in stats))
    split = splits.pop() if splits else "test"
    return Table(name, f"{caption} [{split} split]", list(tasks), rows,
                 extras=("Best seed (dev)",) if multi else (), stds=tuple(stds), ids=tuple(runs))


def to_markdown(table: Table) -> str:
    lines = [f"**{table.caption}**", "", "| " + " | ".join(table.headers) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(table.headers) - 1)) + "|"]
    best = [max(r[1][i] for r in table.rows) for i in range(table.n_scores)]
    for r, (label, cells) in enumerate(table.rows):
        shown = [f"**{_fmt(table, i, v, _std(table, r, i))}**" if i < table.n_scores and v == best[i]
                 and len(table.rows) > 1 else _fmt(table, i, v, _std(table, r, i)) for i, v in enumerate(cells)]
        lines.append("| " + " | ".join([label] + shown) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """Means as printed (scores to 2 decimals, diagnostics at full precision); with several seeds,
    one ``<header> std`` column per cell follows (blank for single-seed rows)."""
    spread = any(sd is not None for row in table.stds for sd in row)
    headers = table.headers + ([f"{h} std" for h in table.headers[1:]] if spread else [])
    lines = [",".join(headers)]
    for r, (label, cells) in enumerate(table.rows):
        values = ["" if v is None else f"{v:.2f}" if i < table.n_scores else repr(v) for i, v in enumerate(cells)]
        if spread:
            values += ["" if (sd := _std(table, r, i)) is None else repr(sd) for i in range(len(cells))]
        lines.append(",".join([label] + values))
    return "\n".join(lines) + "\n"


def to_latex(table: Table) -> str:
    escape = str.maketrans({"_": r"\_", "&": r"\&", "%": r"\%"})
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "c" * (len(table.headers) - 1) + "}",
             r"\toprule", " & ".join(h.translate(escape) for h in table.headers) + r" \\", r"\midrule"]
    for r, (label, cells) in enumerate(table.rows):
        lines.append(" & ".join([label.translate(escape)] + [_fmt(table, i, v, _std(table, r, i)).replace(
            "–", "--").replace("±", r"$\pm$") for i, v in enumerate(cells)]) + r" \\")
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
