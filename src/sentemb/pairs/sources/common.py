"""Small strict readers shared by the online pair sources (``sentemb.pairs.sources``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentemb.data.readers import read_lines
from sentemb.errors import DataError


def _find_one(root: Path, name: str) -> Path:
    """The single file called ``name`` under ``root`` (archives nest their files differently)."""
    matches = sorted(p for p in root.rglob(name) if p.is_file())
    if not matches:
        raise DataError(root, f"no file named {name} under this directory")
    if len(matches) > 1:
        listed = ", ".join(str(p.relative_to(root)) for p in matches)
        raise DataError(root, f"{name} is ambiguous: {listed}")
    return matches[0]


def _require_lines(path: Path) -> list[str]:
    lines = read_lines(path)
    if not lines:
        raise DataError(path, "empty file")
    return lines


@dataclass(frozen=True)
class _Text:
    text: str
    line: int


def _lookup(table: dict[str, _Text], key: str, what: str, source: Path, path: Path, line: int) -> str:
    """The text of ``key``; a missing key or an empty text is reported where it is used or defined."""
    if key not in table:
        raise DataError(path, f"{what} id {key!r} is not in {source.name}", line=line)
    entry = table[key]
    if not entry.text:
        raise DataError(source, f"{what} {key!r} has empty text (used at {path.name}:{line})", line=entry.line)
    return entry.text
