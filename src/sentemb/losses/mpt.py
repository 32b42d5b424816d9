"""MPT: margin triplet on cosine similarity with the hardest in-batch negative (docs/methods.md §5.3)."""

from __future__ import annotations

import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import check_pairs, check_positive
from sentemb.losses.stats import contrastive_stats, cosine_matrix, off_diagonal


class MPTLoss(Loss):
    r"""ℓ_i = max(0, s_{ij*} − s_ii + m), j* = argmax_{j≠i} s_ij, averaged over the B anchors.

    s_ij = cos(u_i, v_j): anchors of view 1 against the other view, one direction.

    Args:
        margin: m (reference default 0.23).

    Inputs: anchor, positive (B, D), B >= 2; need not be normalised.

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``acc``, ``align``, ``uniform``, ``active``
    (fraction of anchors inside the margin, i.e. with non-zero gradient).

    References:
        1. Li, Zhang, Nie. A Unified Paradigm for Gradient. ACL 2024, the ``mpt`` loss of
           BDBC-KG-NLP/UnderstandingCSE (isotropy/models.py); docs/methods.md §5.3.

    Relations:
        - Unified form (§5.4): GD_i = 1[s_ii − s_{ij*} < m], W one-hot on j*, R = 1 (tested).
        - ``MATLoss`` is the same triplet on angles, ``METLoss`` on Euclidean distances.
    """

    requires: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset()

    def __init__(self, margin: float = 0.23) -> None:
        super().__init__()
        self.margin = check_positive("margin", margin, allow_zero=True)

    def extra_repr(self) -> str:
        return f"margin={self.margin}"

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        check_pairs(batch, "MPT")
        cos = cosine_matrix(batch.anchor, batch.positive)  # (B, B)
        hardest = off_diagonal(cos, float("-inf")).max(dim=1).values  # (B,)
        per_anchor = F.relu(hardest - cos.diagonal() + self.margin)  # (B,)
        total = per_anchor.mean()
        stats = {"loss": total.detach(), **contrastive_stats(batch.anchor, batch.positive, cos, cos),
                 "active": (per_anchor.detach() > 0).to(cos.dtype).mean()}
        return LossOutput(total, stats)
