"""The official triplet baseline of the BSC paper: Euclidean triplet loss on explicit triplets
(docs/methods.md §4.5)."""

from __future__ import annotations

import torch
from torch import nn

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import check_positive
from sentemb.losses.pairwise import BINARIZE_OPS, check_choice, check_threshold


class TripletLoss(Loss):
    r"""L = mean_i max(0, ‖a_i − p_i‖₂ − ‖a_i − n_i‖₂ + margin) over explicit triplets
    (anchor = query, positive = a relevant candidate, negative = an irrelevant candidate of the same
    query), on the raw (unnormalised) embeddings; ‖·‖₂ is torch's ``pairwise_distance``, which
    adds 1e-6 to every coordinate difference, as sentence-transformers' loss does.

    This is sentence-transformers' ``TripletLoss`` with its default Euclidean distance, as the
    official BSC code builds it (``losses.TripletLoss(model=model, triplet_margin=0.5)``; every
    labelled positive of a question paired with every labelled negative of it). From
    sentence-transformers v5.0 the Euclidean "metric" returns a *negative* distance, which flips
    that loss; the formula here is the one its docstring states and v0.3-v4.1 computed.

    Args:
        margin: > 0 (§4.5: 0.5; 0.6 for PFCC-S).
        binarize_threshold, binarize_op: which normalised labels count as relevant when the
            triplets are built (``is_positive``), as for ``bsc``.

    Inputs: anchor, positive, hard_negative (B, d), B >= 1.

    Stats: ``loss``, ``pos_cos``, ``neg_cos`` (mean cosine to the positive and to the negative),
    ``acc`` (fraction of triplets whose positive is closer than their negative), ``pos_dist``,
    ``neg_dist`` (mean Euclidean distances), ``active`` (fraction with a non-zero hinge).

    References:
        1. Schroff, Kalenichenko, Philbin. FaceNet. CVPR 2015.
        2. Chernyavskiy et al., NAACL 2022, the triplet rows of Tables 2-3; ``aschern/BSC-loss``
           (examples/CQA-A.ipynb, CQA-B.ipynb, PFCC-S.ipynb).

    Relations:
        - ``triplet_batch_hard`` is our variant for tasks without query groups: cosine distance and
          the hardest in-batch answer as the negative.
    """

    family = "pair"
    requires: frozenset[str] = frozenset({"hard_negative"})
    accepts: frozenset[str] = frozenset({"hard_negative"})

    def __init__(self, margin: float = 0.5, binarize_threshold: float = 0.5, binarize_op: str = ">") -> None:
        super().__init__()
        self.margin = check_positive("margin", margin)
        self.binarize_threshold = check_threshold(binarize_threshold)
        self.binarize_op = check_choice("binarize_op", binarize_op, BINARIZE_OPS)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, binarize={self.binarize_op}{self.binarize_threshold}"

    def is_positive(self, label: float) -> bool:
        """Whether a candidate with this normalised label is a positive of its query."""
        t = self.binarize_threshold
        return label > t if self.binarize_op == ">" else label >= t

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        if batch.hard_negative is None:
            raise ValueError("the triplet loss needs explicit negatives (hard_negative)")
        a, p, n = batch.anchor, batch.positive, batch.hard_negative
        pos, neg = nn.functional.pairwise_distance(a, p), nn.functional.pairwise_distance(a, n)  # (B,) each
        hinge = torch.relu(pos - neg + self.margin)
        total = hinge.mean()
        cos_p = nn.functional.cosine_similarity(a, p).detach()
        cos_n = nn.functional.cosine_similarity(a, n).detach()
        stats = {"loss": total.detach(), "pos_cos": cos_p.mean(), "neg_cos": cos_n.mean(),
                 "acc": (pos < neg).to(pos.dtype).mean().detach(), "pos_dist": pos.detach().mean(),
                 "neg_dist": neg.detach().mean(), "active": (hinge > 0).to(hinge.dtype).mean().detach()}
        return LossOutput(total=total, stats=stats)
