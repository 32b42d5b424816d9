"""MAT: margin triplet on angles with the closest in-batch negative (docs/methods.md §5.3)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import check_pairs, check_positive
from sentemb.losses.stats import contrastive_stats, cosine_matrix, off_diagonal


class MATLoss(Loss):
    r"""ℓ_i = max(0, θ_ii − θ_{ij*} + m·π), θ_ij = arccos s_ij, j* = argmin_{j≠i} θ_ij.

    Averaged over the B anchors. Cosines are clamped to [−1+1e-7, 1−1e-7] before arccos, whose
    derivative is infinite at ±1 (the reference code does not clamp; it differs only there).

    Args:
        margin: m as a fraction of π (reference default 0.15, i.e. 27°; used in the ICLR 2023
            precursor of Li et al.).

    Inputs: anchor, positive (B, D), B >= 2; need not be normalised.

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``acc``, ``align``, ``uniform``, ``active``.

    References:
        1. Nie, Zhang, Mao. On the Inadequacy of Optimizing Alignment and Uniformity in
           Contrastive Learning of Sentence Representations. ICLR 2023.
        2. The ``mat`` loss of BDBC-KG-NLP/UnderstandingCSE (isotropy/models.py); docs/methods.md §5.3.

    Relations:
        - Unified form (§5.4, derived): GD_i = 1[θ_{ij*} − θ_ii < mπ]/sin θ_{ij*}, W one-hot on
          j*, R_i = sin θ_{ij*}/sin θ_ii (tested against autograd).
    """

    requires: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset()

    def __init__(self, margin: float = 0.15) -> None:
        super().__init__()
        self.margin = check_positive("margin", margin, allow_zero=True)

    def extra_repr(self) -> str:
        return f"margin={self.margin}"

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        check_pairs(batch, "MAT")
        cos = cosine_matrix(batch.anchor, batch.positive)  # (B, B)
        angle = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7))  # (B, B)
        closest = off_diagonal(angle, float("inf")).min(dim=1).values  # (B,)
        per_anchor = F.relu(angle.diagonal() - closest + self.margin * math.pi)  # (B,)
        total = per_anchor.mean()
        stats = {"loss": total.detach(), **contrastive_stats(batch.anchor, batch.positive, cos, cos),
                 "active": (per_anchor.detach() > 0).to(cos.dtype).mean()}
        return LossOutput(total, stats)
