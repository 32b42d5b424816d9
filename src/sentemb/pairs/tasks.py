"""Pair tasks available offline, built from the prepare stage's SentEval files (docs/methods.md §4.6).

* ``STSBenchmark`` (regression): gold 0-5 divided by 5; train/dev/test as SentEval ships them.
* ``SICKRelatedness`` (regression): gold 1-5 mapped by (x - 1)/4; train/trial(dev)/test.
* ``MRPC`` (classification): labels 0/1. SentEval ships train (4,076) and test (1,725) only; the
  paper uses GLUE's 3,668/408 train/dev cut, whose id list is not in the mirror, so a seeded
  random 408 of the 4,076 training pairs become dev (the same fraction of a smaller file). Dev
  therefore differs from GLUE's; test is the same 1,725 pairs.

``read_pair_file`` reads a user's own pair data: a UTF-8 TSV with the header
``text_a<TAB>text_b<TAB>label`` (and an optional 4th ``group`` column for ranking tasks), labels
already in [0, 1]; every problem is reported as ``file:line: reason``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from sentemb.data import readers
from sentemb.data.records import Example
from sentemb.data.senteval import load_task
from sentemb.errors import DataError
from sentemb.pairs.records import Pair, PairTask, TaskKind, make_pair

MRPC_DEV_FRACTION = 408 / 4076  # GLUE's MRPC cut: 4,076 training pairs = 3,668 train + 408 dev
PAIR_FILE_HEADER = ("text_a", "text_b", "label")

# source name -> (task kind, label normalisation to [0, 1])
OFFLINE: dict[str, tuple[TaskKind, Callable[[float], float]]] = {
    "STSBenchmark": ("regression", lambda x: x / 5.0),
    "SICKRelatedness": ("regression", lambda x: (x - 1.0) / 4.0),
    "MRPC": ("classification", float),
}


def task_traits(source: str, kind: str | None) -> tuple[str, bool]:
    """(task kind, whether queries carry labelled negatives) of a pair source, known without reading
    its data (a ``file`` source states its kind; its negatives are assumed present)."""
    if source in OFFLINE:
        return OFFLINE[source][0], True
    if source == "file":
        if kind is None:
            raise DataError(source, "a 'file' pair task must state its kind (regression | classification | ranking)")
        return kind, True
    from sentemb.pairs.sources import PAIR_SOURCES

    return PAIR_SOURCES[source].kind, PAIR_SOURCES[source].labelled_negatives


def _pairs(examples: list[Example], scale: Callable[[float], float], where: str) -> list[Pair]:
    out = []
    for number, ex in enumerate(examples, 1):
        if ex.text_b is None:
            raise DataError(where, "not a pair task (no second text)", line=number)
        out.append(make_pair(ex.text_a, ex.text_b, scale(float(ex.label)), where, number))
    return out


def _split_dev(train: list[Pair], fraction: float, seed: int, where: str = "MRPC") -> tuple[list[Pair], list[Pair]]:
    """A seeded random ``fraction`` of train (rounded, at least 1) as dev; both keep file order.

    Ranking pairs move by query (``group``), so no query has candidates on both sides.
    """
    units = list(dict.fromkeys(p.group if p.group is not None else i for i, p in enumerate(train)))
    size = max(1, round(fraction * len(units)))
    if size >= len(units):
        raise DataError(where, f"cannot carve {size} dev units out of {len(units)} in train")
    chosen = {units[i] for i in np.random.default_rng(seed).choice(len(units), size=size, replace=False).tolist()}
    in_dev = [(p.group if p.group is not None else i) in chosen for i, p in enumerate(train)]
    return [p for p, d in zip(train, in_dev) if not d], [p for p, d in zip(train, in_dev) if d]


def ensure_splits(task: PairTask, seed: int, fraction: float = 0.1) -> PairTask:
    """train/dev/test for every task: the pipeline selects on dev and reports test only.

    A source without a labelled test split (QQP: GLUE's test labels are private) reports on its
    official dev split, and a source without dev (Antique, QQP after that move) gets a seeded
    ``fraction`` of its training pairs (whole queries for ranking tasks) as dev.
    """
    splits = dict(task.splits)
    if "train" not in splits:
        raise DataError(task.name, "no train split")
    if "test" not in splits:
        if "dev" not in splits:
            raise DataError(task.name, "neither a test nor a dev split to report on")
        splits["test"] = splits.pop("dev")
    if "dev" not in splits:
        splits["train"], splits["dev"] = _split_dev(splits["train"], fraction, seed, task.name)
    return PairTask(task.name, task.kind, {k: splits[k] for k in ("train", "dev", "test")})


def load_offline_task(source: str, data_dir: Path, seed: int = 42) -> PairTask:
    """``source`` (a key of OFFLINE) from a prepared dir or a SentEval downstream dir."""
    if source not in OFFLINE:
        raise DataError(source, f"unknown offline pair task; known: {', '.join(OFFLINE)}")
    kind, scale = OFFLINE[source]
    task = load_task(source, data_dir)
    splits = {name: _pairs(ex, scale, f"{data_dir}/{source}[{name}]") for name, ex in task.splits.items()}
    if "dev" not in splits:  # MRPC
        splits["train"], splits["dev"] = _split_dev(splits["train"], MRPC_DEV_FRACTION, seed)
    return PairTask(source, kind, {k: splits[k] for k in ("train", "dev", "test")})


def read_pair_file(path: Path) -> list[Pair]:
    """Pairs of a ``text_a<TAB>text_b<TAB>label[<TAB>group]`` file with that header line."""
    lines = readers.read_lines(Path(path))
    if not lines:
        raise DataError(path, "empty file")
    header = tuple(lines[0].split("\t"))
    if header[:3] != PAIR_FILE_HEADER or len(header) > 4 or (len(header) == 4 and header[3] != "group"):
        raise DataError(path, f"header must be text_a, text_b, label[, group] (tab-separated), got {header}", line=1)
    pairs = []
    for number, line in enumerate(lines[1:], 2):
        cols = line.split("\t")
        if len(cols) != len(header):
            raise DataError(path, f"expected {len(header)} tab-separated columns, got {len(cols)}", line=number)
        try:
            label = float(cols[2])
        except ValueError:
            raise DataError(path, f"label {cols[2]!r} is not a number", line=number) from None
        pairs.append(make_pair(cols[0], cols[1], label, path, number, cols[3] if len(cols) == 4 else None))
    if not pairs:
        raise DataError(path, "no pairs after the header")
    return pairs
