"""The "simulated gradient" probe of Li et al. (docs/methods.md §5.5): a loss built so that its
gradient is GD·Σ_j W_ij (h'_j − R·h'_i) with each component set by one parameter."""

from __future__ import annotations

import torch

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import check_pairs, check_positive, check_real
from sentemb.losses.stats import contrastive_stats, cosine_matrix, off_diagonal


class SimulatedGradientLoss(Loss):
    r"""Probe loss whose gradient has a prescribed Gradient Dissipation, Weight and Ratio.

    With U, V the normalised views and a_i = u_i·v_i (live in both views), direction U→V is

        S = U·sg(V)ᵀ with diag(S) := a,     target_ij = S_ij − R·S_ii,
        W_ij = softmax_{j≠i}(sg(S_ij)/τ_w)  (or, with ``power`` p: max(sg(S_ij), 1e-4)^p
               normalised over j≠i; p = 0 is uniform),  W_ii = 0,
        gate_i = 1[a_i − max_{j≠i} s_ij < m]   (detached),
        L_{U→V} = Σ_{i: gate_i} Σ_j W_ij·target_ij / (n_active·B),

    and the loss is L_{U→V} + L_{V→U} (V→U uses Sᵀ, other side detached). Per direction the
    gradient w.r.t. u_i is gate_i/(n_active·B) · Σ_j W_ij (v_j − R·v_i): GD an indicator scaled
    by the dynamic 1/(n_active·B), W exactly the chosen weights, R the constant ``ratio``. The
    V→U direction also reaches u_i through a_i, adding −R·v_i/(n'_active·B) when v_i is active.

    Args:
        margin: m of the gate (0.30; 1.0 keeps it almost always open, script ``gd.sh``).
        weight_temperature: τ_w of the softmax weights (0.05; 0.003 ≈ hardest negative, ``w.sh``).
        power: use power weights instead of the softmax (null: softmax). Integer, as the
            reference casts it.
        ratio: R (1.0; 2.0 in ``r.sh``).
        gate: apply the gate (the reference's ``w_gd`` flag; its scripts always set it). Off, the
            mean runs over all B² entries.

    Inputs: anchor, positive (B, D), B >= 2; need not be normalised.

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``acc``, ``align``, ``uniform``, ``active``
    (fraction of rows open in both directions together).

    References:
        1. Li, Zhang, Nie. A Unified Paradigm for Gradient. ACL 2024; the ``sg`` loss of
           BDBC-KG-NLP/UnderstandingCSE (isotropy/models.py), scripts empirical/{gd,w,r}.sh.

    Relations:
        - Deviation: when no row is open the reference takes the mean of an empty tensor (NaN);
          here the direction contributes 0 (its gradient is 0 either way).
        - Its measured paradigm components equal the prescribed ones (tested).
    """

    requires: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset()

    def __init__(self, margin: float = 0.30, weight_temperature: float = 0.05, power: int | None = None,
                 ratio: float = 1.0, gate: bool = True) -> None:
        super().__init__()
        self.margin = check_real("margin", margin)
        self.weight_temperature = check_positive("weight_temperature", weight_temperature)
        if power is not None and (isinstance(power, bool) or not isinstance(power, int) or power < 0):
            raise ValueError(f"power must be null or an integer >= 0, got {power!r}")
        self.power = power
        self.ratio = check_real("ratio", ratio)
        if not isinstance(gate, bool):
            raise ValueError(f"gate must be true or false, got {gate!r}")
        self.gate = gate

    def extra_repr(self) -> str:
        return (f"margin={self.margin}, weight_temperature={self.weight_temperature}, power={self.power}, "
                f"ratio={self.ratio}, gate={self.gate}")

    def weights(self, sim: torch.Tensor) -> torch.Tensor:
        """W (B, B) from detached similarities: zero diagonal, rows summing to 1."""
        sim = sim.detach()
        if self.power is None:
            return torch.softmax(off_diagonal(sim / self.weight_temperature, float("-inf")), dim=1)
        raw = torch.ones_like(sim) if self.power == 0 else sim.clamp_min(1e-4).pow(self.power)
        raw = off_diagonal(raw, 0.0)
        return raw / raw.sum(dim=1, keepdim=True)

    def open_rows(self, cos: torch.Tensor) -> torch.Tensor:
        """gate_i of direction U→V for a (B, B) cosine matrix (rows: anchors), detached."""
        cos = cos.detach()
        gap = cos.diagonal() - off_diagonal(cos, float("-inf")).max(dim=1).values
        return gap < self.margin if self.gate else torch.ones_like(gap, dtype=torch.bool)

    def _direction(self, rows: torch.Tensor, cols: torch.Tensor, align: torch.Tensor) -> tuple[torch.Tensor, ...]:
        sim = torch.diagonal_scatter(rows @ cols.detach().T, align)  # (B, B); diagonal live both ways
        target = sim - self.ratio * sim.diagonal()[:, None]  # (B, B)
        active = self.open_rows(sim)  # (B,); diag(sim) = a equals the plain product's diagonal
        per_row = (self.weights(sim) * target).sum(dim=1)  # (B,)
        count = active.sum() * rows.shape[0]
        return (per_row * active).sum() / count.clamp_min(1), active

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        check_pairs(batch, "sg")
        u = torch.nn.functional.normalize(batch.anchor, dim=-1)
        v = torch.nn.functional.normalize(batch.positive, dim=-1)
        align = (u * v).sum(dim=1)  # (B,)
        loss_uv, open_u = self._direction(u, v, align)
        loss_vu, open_v = self._direction(v, u, align)
        total = loss_uv + loss_vu
        cos = cosine_matrix(batch.anchor, batch.positive)
        stats = {"loss": total.detach(), **contrastive_stats(batch.anchor, batch.positive, cos, cos),
                 "active": torch.cat([open_u, open_v]).to(cos.dtype).mean()}
        return LossOutput(total, stats)
