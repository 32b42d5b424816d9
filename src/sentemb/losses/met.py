"""MET: margin triplet on Euclidean distance with the nearest in-batch negative (docs/methods.md §5.3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import check_pairs, check_positive
from sentemb.losses.stats import contrastive_stats, cosine_matrix, off_diagonal


class METLoss(Loss):
    r"""ℓ_i = max(0, d_ii − d_{ij*} + m), d_ij = √max(2 − 2 s_ij, 1e-4), j* = argmin_{j≠i} d_ij.

    On unit vectors 2 − 2s is the squared Euclidean distance; the floor 1e-4 (reference code)
    keeps the square root differentiable for identical views. Averaged over the B anchors.

    Args:
        margin: m (reference default 0.45).

    Inputs: anchor, positive (B, D), B >= 2; need not be normalised.

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``acc``, ``align``, ``uniform``, ``active``.

    References:
        1. Li, Zhang, Nie. A Unified Paradigm for Gradient. ACL 2024, the ``met`` loss of
           BDBC-KG-NLP/UnderstandingCSE (isotropy/models.py); docs/methods.md §5.3.

    Relations:
        - Unified form (§5.4): GD_i = 1[d_{ij*} − d_ii < m]/d_{ij*}, W one-hot on j*,
          R_i = d_{ij*}/d_ii (tested against autograd).
    """

    requires: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset()

    def __init__(self, margin: float = 0.45) -> None:
        super().__init__()
        self.margin = check_positive("margin", margin, allow_zero=True)

    def extra_repr(self) -> str:
        return f"margin={self.margin}"

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        check_pairs(batch, "MET")
        cos = cosine_matrix(batch.anchor, batch.positive)  # (B, B)
        dist = torch.clamp_min(2 - 2 * cos, 1e-4).sqrt()  # (B, B)
        nearest = off_diagonal(dist, float("inf")).min(dim=1).values  # (B,)
        per_anchor = F.relu(dist.diagonal() - nearest + self.margin)  # (B,)
        total = per_anchor.mean()
        stats = {"loss": total.detach(), **contrastive_stats(batch.anchor, batch.positive, cos, cos),
                 "active": (per_anchor.detach() > 0).to(cos.dtype).mean()}
        return LossOutput(total, stats)
