"""Pair fine-tuning as an objective of the one training loop (docs/methods.md §4).

``PairObjective`` encodes the two sides of each labelled pair (and the negative of an explicit
triplet) in separate forward passes, as SBERT's fit does for each text column, and hands the
loss ``EmbeddingBatch(q, a, hard_negative, labels)``. ``PairData`` / ``TripletData`` are the
loop's datasets, and ``pair_order`` is its per-epoch ordering hook: the shuffling strategy of
§4.4, which may embed the training texts with the current model.

Behaviours of the official BSC code (``aschern/BSC-loss``, ``ShuffledSentenceTransformer.fit``),
each an option of ``pairs.shuffle``:

* the first epoch runs in the data's file order; a strategy reorders only when the data iterator
  is exhausted, i.e. before epochs 2, 3, ... (``reorder_first_epoch: false``);
* the reorder encodes with SBERT's ``encode``, which puts the model in eval mode, and the fit
  loop only switches it back at the next epoch start, just before the next reorder: epochs after
  a model-based reorder train without dropout (``dropout_after_reorder: false``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sentemb.config import ShuffleConfig
from sentemb.data.collate import tokenize
from sentemb.losses.base import EmbeddingBatch, LossOutput
from sentemb.objectives.base import Objective, TextBatch
from sentemb.pairs.batching import epoch_order
from sentemb.pairs.records import Pair
from sentemb.training.distributed import gather_with_grad
from sentemb.training.loop import EpochPlan

MODEL_BASED = ("example_knn", "cluster")  # strategies that embed with the model being trained
REORDERING = ("example_knn", "shingle", "cluster")


class PairObjective(Objective):
    """A bi-encoder on labelled pairs or explicit triplets; the loss sees Q = text_a, A = text_b."""

    data_kinds: tuple[str, ...] = ("pairs", "triplets")
    provides: frozenset[str] = frozenset({"labels"})

    def __init__(self, encoder: nn.Module, tokenizer: Any, loss: nn.Module, *, max_seq_length: int,
                 gather_negatives: bool = True) -> None:
        super().__init__()
        self.encoder, self.tokenizer, self.loss = encoder, tokenizer, loss
        self.max_seq_length, self.gather_negatives = max_seq_length, gather_negatives

    def _embed(self, texts: Sequence[str]) -> torch.Tensor:
        enc = tokenize(self.tokenizer, texts, self.max_seq_length)
        return self.encoder(**{k: v.to(self.device) for k, v in enc.items()})  # (B, D)

    def _gather(self, x: torch.Tensor) -> torch.Tensor:
        return gather_with_grad(x) if self.gather_negatives else x

    def forward(self, batch: TextBatch) -> LossOutput:
        if batch.positives is None:
            raise ValueError("a pair batch needs text_b (positives)")
        q, a = self._embed(batch.sentences), self._embed(batch.positives)  # text_a first, as SBERT's columns
        n = self._embed(batch.hard_negatives) if batch.hard_negatives is not None else None
        labels = None
        if batch.labels is not None:
            labels = torch.tensor(batch.labels, dtype=q.dtype, device=q.device)
            labels = self._gather(labels[:, None])[:, 0]
        out = self.loss(batch=EmbeddingBatch(self._gather(q), self._gather(a),
                                             hard_negative=None if n is None else self._gather(n), labels=labels))
        return LossOutput(out.total, dict(out.stats) | {"loss": out.total.detach()})


class PairData:
    """Labelled pairs as the loop's dataset."""

    def __init__(self, pairs: list[Pair]) -> None:
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def batch(self, indices: np.ndarray) -> TextBatch:
        chosen = [self.pairs[i] for i in indices]
        return TextBatch(sentences=[p.text_a for p in chosen], positives=[p.text_b for p in chosen],
                         labels=[p.label for p in chosen])


class TripletData:
    """Explicit (query, positive, negative) triplets, as the official code builds them for its
    triplet baseline: within each query, every labelled positive with every labelled negative."""

    def __init__(self, pairs: list[Pair], is_positive: Callable[[float], bool]) -> None:
        groups: dict[str, list[Pair]] = {}
        for p in pairs:
            groups.setdefault(str(p.group), []).append(p)
        self.triplets = [(pos.text_a, pos.text_b, neg.text_b) for members in groups.values()
                         for pos in members if is_positive(pos.label)
                         for neg in members if not is_positive(neg.label)]
        if not self.triplets:
            raise ValueError("no query has both a positive and a negative candidate: no triplets")
        self.pairs = [Pair(q, p, 1.0) for q, p, _ in self.triplets]  # what a shuffling strategy looks at

    def __len__(self) -> int:
        return len(self.triplets)

    def batch(self, indices: np.ndarray) -> TextBatch:
        chosen = [self.triplets[i] for i in indices]
        return TextBatch(sentences=[t[0] for t in chosen], positives=[t[1] for t in chosen],
                         hard_negatives=[t[2] for t in chosen])


def pair_order(strategy: str, pairs: list[Pair], shuffle: ShuffleConfig, seed: int,
               embed: Callable[[list[str]], np.ndarray]) -> Callable[[int], EpochPlan]:
    """The loop's ordering hook for ``strategy`` (see the module docstring for the official
    behaviours it follows); ``embed`` encodes with the current model."""

    def plan(epoch: int) -> EpochPlan:
        if strategy in REORDERING and epoch == 0 and not shuffle.reorder_first_epoch:
            return EpochPlan(np.arange(len(pairs)), dropout=True)
        order = epoch_order(strategy, pairs, epoch, seed, embed=embed,  # type: ignore[arg-type]
                            group_size=shuffle.group_size, knn_candidates=shuffle.knn_candidates,
                            allow_identical=shuffle.allow_identical, shingle_size=shuffle.shingle_size,
                            n_clusters=shuffle.n_clusters)
        return EpochPlan(order, dropout=strategy not in MODEL_BASED or shuffle.dropout_after_reorder)

    return plan
