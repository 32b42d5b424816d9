"""Cosine-similarity regression onto the pair label: the MSE baseline of docs/methods.md §4.2."""

from __future__ import annotations

import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.pairwise import binarize, check_batch, pair_stats
from sentemb.losses.stats import cosine_matrix


class CosineMSELoss(Loss):
    r"""L_MSE = mean_i (cos(q_i, a_i) − y_i)² with y_i in [0, 1] (docs/methods.md §4.2, "Combo").

    The regression target is the (normalised, graded or binary) label itself; nothing is
    binarised. Only the batch's own pairs enter the loss, so batch composition does not matter
    (the other pairs appear in the logged stats only).

    Inputs: anchor = Q, positive = A (m, d) with m ≥ 2 (for the in-batch stats); labels (m,).

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``neg_cos_max``, ``acc``, ``labelled_negatives``
    (labels below 0.5).

    References:
        1. Chernyavskiy et al., NAACL 2022, the MSE baseline and the MSE half of the combo loss.
        2. Reimers & Gurevych, Sentence-BERT, EMNLP 2019: the regression objective (cosine
           similarity with mean squared error), ``CosineSimilarityLoss`` in sentence-transformers.

    Relations:
        - Equals sentence-transformers ``CosineSimilarityLoss`` (MSE on the cosine).
        - ``combo`` with ``mu = 0`` is this loss.
    """

    family = "pair"
    requires: frozenset[str] = frozenset({"labels"})
    accepts: frozenset[str] = frozenset({"labels"})

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        check_batch(batch, "cosine MSE")
        q, a, y = batch.anchor, batch.positive, batch.labels
        if y is None:
            raise ValueError("cosine MSE regresses onto pair labels, but the batch has none")
        if y.shape != (q.shape[0],):
            raise ValueError(f"labels {tuple(y.shape)} must be ({q.shape[0]},), one per pair")
        own = F.cosine_similarity(q, a, dim=1)  # (m,)
        total = (own - y.to(own.dtype)).pow(2).mean()
        positive = binarize(y, q.shape[0], 0.5, ">=", q.device)
        stats = {"loss": total.detach(), **pair_stats(cosine_matrix(q, a), positive)}
        return LossOutput(total=total, stats=stats)
