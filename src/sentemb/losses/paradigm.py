"""Measured gradient components of any loss (docs/methods.md §5.4): GD, W and R per anchor.

Li et al. write the gradient of an effective contrastive loss for anchor i as

    ∂L/∂h_i = GD_i · Σ_{j≠i} W_ij (h'_j − R_i·h'_i),   Σ_j W_ij = 1,

on L2-normalised embeddings. Instead of hand-deriving GD, W and R for each loss, this module
*measures* them for whatever loss it is given, so that every loss (the paradigm's, SimCSE with
hard negatives or a queue, BSC, and ones not written yet) is diagnosed the same way:

1. evaluate the loss in float64 on detached copies of the batch and take autograd's gradient g_i
   with respect to the raw anchor x_i; ‖x_i‖·g_i is the tangential part of ∂L/∂ĥ_i (the radial
   part is removed by the normalisation, so it is not observable and not needed);
2. write that tangent vector as a combination Σ_c a_ic·P_i k_c of the candidates k_c projected on
   the tangent plane (P_i = I − ĥ_iĥ_iᵀ): the positives ĥ'_j (column j = i is the positive),
   hard negatives, extra negatives and the other anchors ĥ_j (j≠i; the same-view "negatives" of
   the non-contrastive objectives). The solution is unique while the candidates are fewer than
   the dimension; it is solved through its normal equations (see the code);
3. read off GD_i = Σ_{negatives} a_ic, W_ic = a_ic/GD_i, R_i = −a_i,pos/GD_i, and the residual
   ‖t − Σ a P k‖/‖t‖, the part of the gradient that is not of the paradigm's form (0 for the
   contrastive losses; non-zero e.g. for Barlow Twins' per-dimension weighting).

tests/losses/test_paradigm.py checks that these measured values equal the closed forms of §5.4
for InfoNCE, ArcCon, MPT, MET, MAT and the ``sg`` probe.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)
from torch import nn

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.stats import hardest_negative_cos

log = logging.getLogger(__name__)

ZERO_GD = 1e-12  # |GD_i| at or below this: the anchor receives no gradient (dissipated / gated)


@dataclass(frozen=True)
class Components:
    """Per-anchor components. ``weights`` (B, C) is 0 on the positive and own-anchor columns."""

    gd: torch.Tensor  # (B,)
    weights: torch.Tensor  # (B, C)
    ratio: torch.Tensor  # (B,)
    residual: torch.Tensor  # (B,)
    coefficients: torch.Tensor  # (B, C) raw a_ic
    positive_column: torch.Tensor  # (B,) column of each anchor's positive

    @property
    def active(self) -> torch.Tensor:
        return self.gd.abs() > ZERO_GD


def _candidates(batch: EmbeddingBatch) -> tuple[torch.Tensor, int]:
    """Normalised candidates (C, D) in float64 and the column offset of the anchors block."""
    blocks = [batch.positive, batch.hard_negative, batch.extra_negatives]
    cand = [F.normalize(b.detach().double(), dim=-1) for b in blocks if b is not None and b.shape[0] > 0]
    offset = sum(c.shape[0] for c in cand)
    cand.append(F.normalize(batch.anchor.detach().double(), dim=-1))
    return torch.cat(cand), offset


def _n_candidates(batch: EmbeddingBatch) -> int:
    blocks = (batch.positive, batch.hard_negative, batch.extra_negatives, batch.anchor)
    return sum(b.shape[0] for b in blocks if b is not None)


def measurable(batch: EmbeddingBatch) -> bool:
    """Components are unique only with fewer candidates than dimensions."""
    return _n_candidates(batch) < batch.anchor.shape[1]


def gradient_components(loss: nn.Module, batch: EmbeddingBatch) -> Components:
    """Measure GD, W, R (see the module docstring) of ``loss`` on ``batch``."""
    x = batch.anchor.detach().double().requires_grad_(True)

    def dbl(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t.detach().double()

    probe = EmbeddingBatch(anchor=x, positive=dbl(batch.positive), hard_negative=dbl(batch.hard_negative),
                           extra_negatives=dbl(batch.extra_negatives), labels=batch.labels)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(loss(batch=probe).total, x)
    h = F.normalize(x.detach(), dim=-1)  # (B, D)
    tangent = grad * x.detach().norm(dim=1, keepdim=True)  # (B, D)
    cand, offset = _candidates(batch)  # (C, D)
    n, c = h.shape[0], cand.shape[0]
    rows = torch.arange(n, device=h.device)
    # Least squares min_a ‖t_i − Σ_c a_c P_i k_c‖ through its normal equations: the Gram of the
    # projected candidates is K P_i Kᵀ = G − (K h_i)(K h_i)ᵀ, a rank-one update of one shared
    # G = K Kᵀ, and K P_i t_i = K t_i. A candidate parallel to ĥ_i (the anchor itself; a positive
    # identical to it) projects to 0, an all-zero row and column: a 1 on its diagonal makes the
    # system regular and gives it the coefficient k·t_i = 0 (t_i is tangent).
    # B solves of C×C instead of B pseudo-inverses of D×C: 0.05 s instead of 10.7 s per step at
    # B = 64, D = 384 (measured on 2 busy CPU cores).
    kh = h @ cand.T  # (B, C)
    gram = (cand @ cand.T)[None] - kh[:, :, None] * kh[:, None, :]  # (B, C, C)
    diag = gram.diagonal(dim1=1, dim2=2)  # (B, C) view: squared norms of the projected candidates
    diag += (diag < 1e-12).to(diag.dtype)
    rhs = tangent @ cand.T  # (B, C)
    coef, info = torch.linalg.solve_ex(gram, rhs)  # (B, C)
    bad = info != 0  # duplicate candidates (e.g. identical views): the minimum-norm solution
    if bad.any():
        coef[bad] = (torch.linalg.pinv(gram[bad], hermitian=True) @ rhs[bad][:, :, None]).squeeze(-1)
    combo = coef @ cand  # (B, D): Σ_c a_c k_c
    fitted = combo - (combo * h).sum(dim=1, keepdim=True) * h  # projected on the tangent plane
    norm = tangent.norm(dim=1)
    residual = torch.where(norm > 0, (tangent - fitted).norm(dim=1) / norm.clamp_min(1e-300), 0.0)

    pos_col = rows.clone()
    negatives = torch.ones(n, c, dtype=torch.bool, device=h.device)
    negatives[rows, pos_col] = False
    negatives[rows, offset + rows] = False  # the anchor itself
    gd = (coef * negatives).sum(dim=1)
    safe = torch.where(gd.abs() > ZERO_GD, gd, 1.0)
    weights = torch.where(negatives, coef, 0.0) / safe[:, None]
    ratio = -coef[rows, pos_col] / safe
    return Components(gd=gd, weights=weights, ratio=ratio, residual=residual, coefficients=coef,
                      positive_column=pos_col)


def summarize(comp: Components, batch: EmbeddingBatch) -> dict[str, torch.Tensor]:
    """Per-step scalars (``grad/...``). W, R and the entropy are averaged over anchors that
    receive gradient; with none they are left out rather than reported as 0."""
    active = comp.active
    cos = F.normalize(batch.anchor.detach(), dim=-1) @ F.normalize(batch.positive.detach(), dim=-1).T
    stats = {
        "grad/gd_mean": comp.gd.mean(),
        "grad/gd_nonzero": active.double().mean(),
        "grad/pos_cos": cos.diagonal().mean().double(),
        "grad/hardest_neg_cos": hardest_negative_cos(cos).double(),
    }
    if active.any():
        w = comp.weights[active].clamp_min(0.0)
        w = w / w.sum(dim=1, keepdim=True).clamp_min(1e-300)
        entropy = -(w * torch.log(w.clamp_min(1e-300))).sum(dim=1)
        stats |= {
            "grad/w_entropy": entropy.mean(),
            "grad/w_max": w.max(dim=1).values.mean(),
            "grad/r_mean": comp.ratio[active].mean(),
            "grad/residual": comp.residual[active].mean(),
        }
    return {k: v.detach().float() for k, v in stats.items()}


class GradientDiagnostics(Loss):
    """Wraps a loss: same ``total``, plus the ``grad/...`` stats of ``summarize`` while training.

    Skipped (with one warning) when the batch has as many candidates as dimensions, where the
    components are not unique, and under ``no_grad`` (evaluation).
    """

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss
        self.requires = loss.requires
        self.accepts = getattr(loss, "accepts", frozenset())
        self._warned = False

    def param_groups(self) -> list[dict[str, Any]]:
        return self.loss.param_groups()  # type: ignore[operator]

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        out = self.loss(batch=batch)
        if not torch.is_grad_enabled() or not torch.isfinite(out.total):
            return out  # evaluation; or a bad step, which the training loop reports
        if not measurable(batch):
            if not self._warned:
                log.warning("gradient diagnostics skipped: %d candidates >= %d dimensions",
                            _n_candidates(batch), batch.anchor.shape[1])
                self._warned = True
            return out
        stats = summarize(gradient_components(self.loss, batch), batch)
        bad = [k for k, v in stats.items() if not math.isfinite(float(v))]
        if bad:  # a diagnostic never stops training; it is left out of this step's log, not zeroed
            log.warning("non-finite gradient diagnostics %s left out of this step", ", ".join(bad))
            stats = {k: v for k, v in stats.items() if k not in bad}
        return LossOutput(out.total, out.stats | stats)
