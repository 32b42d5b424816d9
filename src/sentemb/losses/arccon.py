"""ArcCon: InfoNCE with an additive angular margin on the positive (docs/methods.md §5.3)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import check_pairs, check_positive
from sentemb.losses.stats import contrastive_stats, cosine_matrix


class ArcConLoss(Loss):
    r"""In-batch InfoNCE whose positive logit is cos(θ_ii + u)/τ, θ_ii = arccos s(u_i, v_i):

        ℓ_i = −log e^{cos(θ_ii+u)/τ} / ( e^{cos(θ_ii+u)/τ} + Σ_{j≠i} e^{s(u_i,v_j)/τ} ),

    averaged over the B anchors of view 1 (one direction, as the reference code).

    Args:
        temperature: τ > 0. The reference code takes it from ``temp`` (default 1 there); ArcCSE
            used 0.05, which is our default. The τ of Li et al.'s runs is unverified (§5.3).
        margin_degrees: u in degrees (reference default 10°).

    Inputs: anchor, positive (B, D), B >= 2; need not be normalised.

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``acc`` (over the margin logits), ``align``,
    ``uniform``, ``pos_theta_deg`` (mean θ_ii in degrees).

    References:
        1. Zhang et al. A Contrastive Framework for Learning Sentence Representations from
           Pairwise and Triple-wise Perspective in Angular Space (ArcCSE). ACL 2022.
        2. Li, Zhang, Nie. Towards Better Understanding of Contrastive Sentence Representation
           Learning: A Unified Paradigm for Gradient. ACL 2024 (the ``arccon`` loss of
           BDBC-KG-NLP/UnderstandingCSE, isotropy/models.py).

    Relations:
        - ``margin_degrees=0`` is exactly ``InfoNCELoss`` (tested).
        - Unified form (§5.4): GD_i = (1/τ)(1 − p̃_ii), W = softmax over negatives, and
          R_i = sin(θ_ii + u)/sin θ_ii (tested against autograd).
    """

    requires: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset()

    def __init__(self, temperature: float = 0.05, margin_degrees: float = 10.0) -> None:
        super().__init__()
        self.temperature = check_positive("temperature", temperature)
        self.margin_degrees = check_positive("margin_degrees", margin_degrees, allow_zero=True)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, margin_degrees={self.margin_degrees}"

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        check_pairs(batch, "ArcCon")
        cos = cosine_matrix(batch.anchor, batch.positive)  # (B, B)
        # clamp: arccos has an infinite derivative at ±1 (identical views, e.g. dropout 0)
        theta = torch.arccos(cos.diagonal().clamp(-1 + 1e-7, 1 - 1e-7))  # (B,)
        margin = math.radians(self.margin_degrees)
        logits = torch.diagonal_scatter(cos, torch.cos(theta + margin)) / self.temperature  # (B, B)
        target = torch.arange(cos.shape[0], device=cos.device)
        total = F.cross_entropy(logits, target)
        stats = {"loss": total.detach(), **contrastive_stats(batch.anchor, batch.positive, cos, logits),
                 "pos_theta_deg": torch.rad2deg(theta.detach()).mean()}
        return LossOutput(total, stats)
