"""The report's "at a glance": per table and score column, the best row, named as a winner only
when its difference from its reference row is positive and its 95% paired bootstrap interval
excludes 0; otherwise the line says there is no significant difference. A table without
comparisons lists only its best rows, marked as not compared."""

from __future__ import annotations

from sentemb.reporting.tables import Table


def _column_line(table: Table, i: int, header: str) -> str:
    values = [(cells[i], r) for r, (_, cells) in enumerate(table.rows) if cells[i] is not None]
    best = max(v for v, _ in values)
    top = [r for v, r in values if v == best]
    if not table.compared:
        return f"{header}: {', '.join(table.rows[r][0] for r in top)} ({best:.2f}; not compared)"
    wins = [r for r in top if (c := table.comparison(r, i)) is not None and c.significant and c.diff > 0]
    if wins:
        parts = [f"{table.rows[r][0]} ({best:.2f}, {table.comparison(r, i).diff:+.2f} vs "  # type: ignore[union-attr]
                 f"{table.references[r]})" for r in wins]
        return f"{header}: {'; '.join(parts)}"
    return f"{header}: no significant difference (best: {', '.join(table.rows[r][0] for r in top)}, {best:.2f})"


def at_a_glance(tables: list[Table]) -> list[str]:
    lines = []
    for table in tables:
        if len(table.rows) < 2 or table.n_scores == 0:
            continue
        headers = table.headers[1:table.n_scores + 1]
        columns = [_column_line(table, i, h) for i, h in enumerate(headers)]
        lines.append(f"- **{table.name}**: " + "; ".join(columns))
    if not lines:
        return []
    return ["## At a glance (best row per column; a winner only where its gain over its reference is "
            "significant)", ""] + lines + [""]
