"""Training data from the prepare stage, and the seeded, resumable data order.

The order of epoch ``e`` is a permutation drawn from ``default_rng([seed, e])``, so a run
resumed at (epoch, offset) sees exactly the batches an uninterrupted run would. The last
partial batch is kept on one process (SimCSE does not drop it) unless it holds a single sentence
(no in-batch negative), and dropped under several processes, where every rank must hold an
equal slice for the all-gather.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sentemb.errors import DataError
from sentemb.objectives.base import TextBatch
from sentemb.utils.io import read_jsonl


class TrainData:
    """Wiki sentences (unsupervised) or NLI triplets (supervised) from ``data/prepared``."""

    def __init__(self, kind: str, prepared_dir: str | Path) -> None:
        self.kind = kind
        root = Path(prepared_dir)
        if kind == "wiki":
            path = root / "wiki.txt"
            self._rows: list[tuple[str, ...]] = [(line,) for line in self._read_lines(path)]
        elif kind == "nli":
            path = root / "nli.jsonl"
            if not path.exists():
                raise DataError(path, "file not found; run the prepare stage (`dvc repro prepare`)")
            self._rows = [(r["sent0"], r["sent1"], r["hard_neg"]) for r in read_jsonl(path)]
        else:
            raise DataError(root, f"unknown training data kind {kind!r}")
        if not self._rows:
            raise DataError(path, "no training examples")

    @staticmethod
    def _read_lines(path: Path) -> list[str]:
        if not path.exists():
            raise DataError(path, "file not found; run the prepare stage (`dvc repro prepare`)")
        return path.read_text(encoding="utf-8").splitlines()

    def __len__(self) -> int:
        return len(self._rows)

    def batch(self, indices: np.ndarray) -> TextBatch:
        rows = [self._rows[i] for i in indices]
        if self.kind == "wiki":
            return TextBatch(sentences=[r[0] for r in rows])
        return TextBatch(sentences=[r[0] for r in rows], positives=[r[1] for r in rows],
                         hard_negatives=[r[2] for r in rows])


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def steps_per_epoch(n: int, global_batch: int, world_size: int = 1) -> int:
    """Steps over ``n`` examples with the global batch; the last partial batch is kept on one
    process unless it would hold a single example (no in-batch negative)."""
    if world_size > 1 or n % global_batch == 1:
        return n // global_batch
    return math.ceil(n / global_batch)


def rank_slice(order: np.ndarray, offset: int, per_rank: int, rank: int, world_size: int) -> np.ndarray:
    """This process's share (``per_rank`` rows) of the global batch that starts at ``offset``."""
    start = offset + rank * per_rank
    return order[start : start + per_rank]
