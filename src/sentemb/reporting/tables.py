"""Paper-style tables from evaluation results (layout of SimCSE's Tables 1 and 2).

One row per evaluated method or untrained baseline (its display label), one column per task,
then "Avg." (the mean of the rounded task scores, as the papers compute it). A missing or
non-finite cell raises: a table is never rendered with a blank, a 0 or a NaN standing in for a
result.

Seeds: a row trained with n > 1 seeds shows each cell as mean ± sample std over its seeds (Avg.
= mean ± std of the per-seed Avg.), its label says ``(n seeds)``, and the table gets a "Best seed
(dev)" column: the test Avg. of the seed with the best STS-B dev score, chosen on dev only.

Comparisons: a row with a reference row (the untrained baseline, or the method it modifies)
carries, per score cell, the difference from that reference and its 95% paired bootstrap
interval (``reporting/bootstrap.py``); a cell whose interval excludes 0 is marked ``†``. Every
caption states the split and whether the data were verified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentemb.data.tasks import header
from sentemb.errors import DataError
from sentemb.reporting.bootstrap import Interval
from sentemb.utils.io import atomic_open

MARK = "†"
LEGEND = (f"Each compared cell shows its difference from the row's reference (last column) and {MARK} when the "
          "95% paired bootstrap interval of that difference excludes 0; the interval resamples the test items "
          "(pairs, examples, queries) with the trained models fixed, so it does not cover seed variance, which "
          "the ± std over seeds shows where a row has several seeds.")


@dataclass(frozen=True)
class Table:
    """``rows`` hold the task cells, Avg., then one cell per ``extras`` column (diagnostics that
    are not scores: never bolded, never averaged; ``None`` there means "not defined for this row",
    shown as "–"). ``comparisons[r]`` has one Interval (or None) per score cell of row r."""

    name: str
    caption: str
    columns: list[str]  # task names, or column titles
    rows: list[tuple[str, list[float | None]]]  # (row label, cells incl. Avg. and extras)
    extras: tuple[str, ...] = ()
    average: bool = True  # False: no Avg. column (cells on different scales, e.g. Spearman and F1)
    stds: tuple[tuple[float | None, ...], ...] = ()  # per row, per score cell: std over seeds (None: 1 seed)
    ids: tuple[str, ...] = ()  # per row: the row id it comes from (labels may carry "(n seeds)")
    comparisons: tuple[tuple[Interval | None, ...] | None, ...] = ()
    references: tuple[str | None, ...] = ()  # per row: the label of its reference row

    def row(self, key: str) -> list[float | None]:
        """Cells of the row built from row id ``key``."""
        return self.rows[self.ids.index(key)][1]

    @property
    def headers(self) -> list[str]:
        avg = ["Avg."] if self.average else []
        return ["Model"] + [header(c) for c in self.columns] + avg + list(self.extras)

    @property
    def n_scores(self) -> int:
        """Cells that are scores (tasks and Avg.), before the extras."""
        return len(self.columns) + int(self.average)

    @property
    def compared(self) -> bool:
        return any(c is not None for c in self.comparisons)

    def comparison(self, r: int, i: int) -> Interval | None:
        if not self.comparisons or self.comparisons[r] is None or i >= self.n_scores:
            return None
        return self.comparisons[r][i]  # type: ignore[index]


def _fmt(table: Table, i: int, value: float | None, std: float | None = None) -> str:
    if value is None:
        return "–"
    if i < table.n_scores:
        return f"{value:.2f}" if std is None else f"{value:.2f} ± {std:.2f}"
    # diagnostics: 3 significant digits; numerical noise of the float64 solve (~1e-11, e.g. the
    # entropy of one-hot weights) is shown as a bound rather than as a misleading 8.7e-12
    shown = "<1e-6" if 0 < abs(value) < 1e-6 else f"{value:.3g}"
    return shown if std is None else f"{shown} ± {std:.2g}"


def _delta(c: Interval | None) -> str:
    if c is None:
        return ""
    return f" ({c.diff:+.2f}{MARK if c.significant else ''})"


def _std(table: Table, r: int, i: int) -> float | None:
    return table.stds[r][i] if table.stds and i < len(table.stds[r]) else None


def cell(doc: Mapping[str, Any], task: str, source: str) -> float:
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


RowDocs = Sequence[tuple[str, dict[str, Any]]]  # (source path, evaluation details), one per seed


def build_table(name: str, caption: str, tasks: Sequence[str], rows: Sequence[tuple[str, str, RowDocs]],
                verified: bool = True) -> Table:
    """``rows``: (row id, label, its seeds' documents). Avg. is recomputed from the rounded
    cells of each seed."""
    splits = {doc.get("split") for _, _, seeds in rows for _, doc in seeds}
    if len(splits) > 1:
        raise DataError(name, f"rows mix splits {sorted(map(str, splits))}; dev and test never share a table")
    multi = any(len(seeds) > 1 for _, _, seeds in rows)
    out, stds = [], []
    for _, label, seeds in rows:
        per_seed = [[cell(doc, t, source) for t in tasks] for source, doc in seeds]
        avgs = [round(sum(round(c, 2) for c in cells) / len(cells), 2) for cells in per_seed]
        stats = [seed_stats([cells[i] for cells in per_seed]) for i in range(len(tasks))] + [seed_stats(avgs)]
        row: list[float | None] = [m for m, _ in stats]
        if multi:
            best = max(range(len(seeds)), key=lambda k: _dev_score(seeds[k][1], seeds[k][0])) if len(seeds) > 1 else 0
            row.append(avgs[best])
        out.append((f"{label} ({len(seeds)} seeds)" if len(seeds) > 1 else label, row))
        stds.append(tuple(sd for _, sd in stats))
    split = splits.pop() if splits else "test"
    verified = verified and all(doc.get("data", {}).get("verified", True) for _, _, seeds in rows for _, doc in seeds)
    note = "" if verified else ", unverified data"
    return Table(name, f"{caption} [{split} split{note}]", list(tasks), out,
                 extras=("Best seed (dev)",) if multi else (), stds=tuple(stds), ids=tuple(r[0] for r in rows))


def with_comparisons(table: Table, comparisons: Mapping[str, Mapping[str, Interval]],
                     references: Mapping[str, str]) -> Table:
    """``table`` with each compared row's intervals (by column name and "Avg.") and reference label."""
    from dataclasses import replace

    labels = dict(zip(table.ids, (label for label, _ in table.rows)))
    keys = list(table.columns) + (["Avg."] if table.average else [])
    per_row = tuple(tuple(comparisons[i].get(k) for k in keys) if i in comparisons else None for i in table.ids)
    refs = tuple(labels.get(references[i], references[i]) if i in comparisons else None for i in table.ids)
    return replace(table, comparisons=per_row, references=refs)


def _cells(table: Table, r: int, cells: list[float | None], bold: list[float | None]) -> list[str]:
    shown = []
    for i, v in enumerate(cells):
        text = _fmt(table, i, v, _std(table, r, i)) + _delta(table.comparison(r, i))
        strong = i < table.n_scores and v == bold[i] and len(table.rows) > 1
        shown.append(f"**{text}**" if strong else text)
    return shown


def to_markdown(table: Table) -> str:
    headers = table.headers + (["Compared with"] if table.compared else [])
    lines = [f"**{table.caption}**", "", "| " + " | ".join(headers) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(table.headers) - 1) + (["---"] if table.compared else [])) + "|"]
    best = [max((r[1][i] for r in table.rows if r[1][i] is not None), default=None) for i in range(table.n_scores)]
    for r, (label, cells) in enumerate(table.rows):
        extra = [table.references[r] or "–"] if table.compared else []
        lines.append("| " + " | ".join([label] + _cells(table, r, cells, best) + extra) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """Means as printed (scores to 2 decimals, diagnostics at full precision); with several seeds,
    one ``<header> std`` column per cell; for compared tables, per score column the difference,
    the interval bounds and the bootstrap p-value, and the reference row."""
    spread = any(sd is not None for row in table.stds for sd in row)
    score_headers = table.headers[1:table.n_scores + 1]
    headers = table.headers + ([f"{h} std" for h in table.headers[1:]] if spread else [])
    if table.compared:
        headers += [f"{h} {k}" for h in score_headers for k in ("diff", "ci_low", "ci_high", "p")] + ["reference"]
    lines = [",".join(_csv_field(h) for h in headers)]
    for r, (label, cells) in enumerate(table.rows):
        values = ["" if v is None else f"{v:.2f}" if i < table.n_scores else repr(v) for i, v in enumerate(cells)]
        if spread:
            values += ["" if (sd := _std(table, r, i)) is None else repr(sd) for i in range(len(cells))]
        if table.compared:
            for i in range(table.n_scores):
                c = table.comparison(r, i)
                values += ["", "", "", ""] if c is None else [f"{c.diff:.4f}", f"{c.low:.4f}", f"{c.high:.4f}",
                                                             f"{c.p:.4f}"]
            values.append(_csv_field(table.references[r] or ""))
        lines.append(",".join([_csv_field(label)] + values))
    return "\n".join(lines) + "\n"


def _csv_field(text: str) -> str:
    return f'"{text}"' if any(ch in text for ch in ',"') else text


def to_latex(table: Table) -> str:
    escape = str.maketrans({"_": r"\_", "&": r"\&", "%": r"\%"})
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "c" * (len(table.headers) - 1) + "}",
             r"\toprule", " & ".join(h.translate(escape) for h in table.headers) + r" \\", r"\midrule"]
    for r, (label, cells) in enumerate(table.rows):
        shown = []
        for i, v in enumerate(cells):
            text = _fmt(table, i, v, _std(table, r, i)).replace("–", "--").replace("±", r"$\pm$")
            c = table.comparison(r, i)
            shown.append(text + (r"$^\dagger$" if c is not None and c.significant else ""))
        lines.append(" & ".join([label.translate(escape)] + shown) + r" \\")
    caption = table.caption + (" $^\\dagger$: the 95% paired bootstrap interval of the difference from the "
                               "row's reference excludes 0." if table.compared else "")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption.translate(escape)}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(table: Table, out_dir: Path) -> list[Path]:
    paths = []
    for ext, render in (("md", to_markdown), ("csv", to_csv), ("tex", to_latex)):
        path = out_dir / f"{table.name}.{ext}"
        with atomic_open(path) as handle:
            handle.write(render(table))
        paths.append(path)
    return paths
