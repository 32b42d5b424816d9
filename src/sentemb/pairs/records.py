"""The pair dataset interface shared by every pair task (docs/methods.md §4.1, §4.6).

A ``Pair`` is ``(text_a, text_b, label)`` with the label in [0, 1]: binary tasks use 0/1, graded
tasks are normalised to [0, 1] when loaded (STS-B /5, SICK-R (x-1)/4, Antique (x-1)/3), as the
BSC code does before binarising (§4.2). ``group`` ties the candidates of one query together
for ranking metrics (a question id); it is ``None`` for regression and classification tasks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sentemb.errors import DataError

TaskKind = Literal["regression", "classification", "ranking"]
KINDS: tuple[str, ...] = ("regression", "classification", "ranking")


@dataclass(frozen=True)
class Pair:
    text_a: str
    text_b: str
    label: float  # in [0, 1]
    group: str | None = None  # ranking: the query the pair belongs to


@dataclass(frozen=True)
class PairTask:
    """One task: its kind (which metrics apply) and its splits (``train``/``dev``/``test``)."""

    name: str
    kind: TaskKind
    splits: dict[str, list[Pair]] = field(default_factory=dict)

    def split(self, name: str) -> list[Pair]:
        if name not in self.splits or not self.splits[name]:
            raise DataError(self.name, f"task has no {name!r} split (has: {', '.join(self.splits) or 'none'})")
        return self.splits[name]


def make_pair(text_a: str, text_b: str, label: float, path: str | Path, line: int,
              group: str | None = None) -> Pair:
    """A validated pair: both texts non-empty after whitespace normalisation, label finite in [0, 1].

    Raises ``DataError(path, reason, line)`` so the message reads ``file:line: reason``.
    """
    a, b = " ".join(str(text_a).split()), " ".join(str(text_b).split())
    if not a or not b:
        raise DataError(path, "empty text in a pair", line=line)
    if isinstance(label, bool) or not isinstance(label, (int, float)) or not math.isfinite(label):
        raise DataError(path, f"label {label!r} is not a finite number", line=line)
    if not 0.0 <= float(label) <= 1.0:
        raise DataError(path, f"label {label!r} outside [0, 1] (normalise graded labels when loading)", line=line)
    return Pair(a, b, float(label), group)
