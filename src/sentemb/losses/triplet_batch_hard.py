"""Batch-hard triplet loss on cosine distance over in-batch negatives (our baseline, docs/methods.md §4.5)."""

from __future__ import annotations

import torch

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import check_positive
from sentemb.losses.pairwise import BINARIZE_OPS, binarize, check_batch, check_choice, check_threshold, pair_stats
from sentemb.losses.stats import cosine_matrix, off_diagonal


class TripletBatchHardLoss(Loss):
    r"""Batch-hard triplet loss on cosine distance d(x, y) = 1 − cos(x, y).

    For every positive pair i (binarised label, as in BSC) the anchor is q_i, the positive a_i and
    the negative the hardest other answer of the batch, n_i = argmin_{j≠i} d(q_i, a_j) (labelled
    negatives' answers included), and

        L = (1/P) Σ_{i positive} max(0, d(q_i, a_i) − d(q_i, a_{n_i}) + margin),

    with P the number of positive pairs (0 when there are none). This is *our* baseline, not the
    paper's: the official triplet baseline (``triplet``) trains on explicit triplets built from a
    query's labelled candidates, which tasks without query groups (STS-B, SICK-R, MRPC) do not have.
    Mining the negative in the batch defines a triplet loss for every pair task and uses the same
    batches as BSC.

    Args:
        margin: > 0, on the cosine-distance scale.
        binarize_threshold, binarize_op: which labels count as positive pairs (as in ``bsc``).

    Inputs: anchor = Q, positive = A (m, d) with m ≥ 2; optional labels (none: all positive).

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``neg_cos_max``, ``acc``, ``labelled_negatives``
    and ``active`` (fraction of positive triplets with a non-zero hinge).

    References:
        1. Schroff, Kalenichenko, Philbin. FaceNet. CVPR 2015 (triplet loss with a margin).
        2. Hermans, Beyer, Leibe. In Defense of the Triplet Loss for Person Re-Identification.
           2017 (batch-hard mining).
        3. Chernyavskiy et al., NAACL 2022, the triplet baseline rows (docs/methods.md §4.5-4.6).

    Relations:
        - sentence-transformers ``TripletLoss`` with ``TripletDistanceMetric.COSINE`` (up to
          v4.1; v5 redefined the metrics as similarities) on explicit triplets (a_i, p_i, n_i)
          computes the same hinge for the same n_i.
    """

    family = "pair"
    requires: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset({"labels"})

    def __init__(self, margin: float = 0.5, binarize_threshold: float = 0.5, binarize_op: str = ">") -> None:
        super().__init__()
        self.margin = check_positive("margin", margin)
        self.binarize_threshold = check_threshold(binarize_threshold)
        self.binarize_op = check_choice("binarize_op", binarize_op, BINARIZE_OPS)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, binarize={self.binarize_op}{self.binarize_threshold}"

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        check_batch(batch, "triplet")
        q, a = batch.anchor, batch.positive
        positive = binarize(batch.labels, q.shape[0], self.binarize_threshold, self.binarize_op, q.device)
        cos = cosine_matrix(q, a)  # (m, m)
        hardest = off_diagonal(cos, float("-inf")).max(dim=1).values  # (m,) closest other answer
        hinge = torch.relu((1 - cos.diagonal()) - (1 - hardest) + self.margin)  # (m,)
        n_pos = positive.sum()
        total = (positive * hinge).sum() / n_pos.clamp_min(1.0)
        active = ((hinge > 0).to(hinge.dtype) * positive).sum() / n_pos.clamp_min(1.0)
        stats = {"loss": total.detach(), **pair_stats(cos, positive), "active": active.detach()}
        return LossOutput(total=total, stats=stats)
