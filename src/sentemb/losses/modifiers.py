"""Shared pieces of the four non-contrastive objectives of Li, Zhang, Nie (docs/methods.md §5.6).

The objectives (``mhe``, ``mhs``, ``vicreg``, ``barlow_twins``) each come in an original form and
a modified form with three independent switches, which give the gradient the contrastive shape
GD_i · Σ_{j≠i} W_ij (h′_j − R·h′_i) of docs/methods.md §5.4:

- ``w_gd`` (gradient dissipation): :func:`gate_views`, a per-row gate on the nearest same-view
  neighbour;
- ``w_w`` (weight): :func:`offdiag_exp_weights`, temperature-softmax negative weights;
- ``w_r`` (ratio): :func:`ratio_pull_term`, a positive term scaled to R times the row's push
  (VICReg, Barlow Twins; MHE and MHS rescale their own alignment term).

All functions take L2-normalised rows. Every weight they return is detached: weights shape the
gradient but never receive one. This module also holds the argument checks and the stats the four
losses share.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import check_flag, check_positive
from sentemb.losses.stats import contrastive_stats


def gate_rows(x: torch.Tensor, margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``w_gd`` gate for one view: rows far from every same-view neighbour lose their gradient.

    Row i is *active* iff 1 − max_{j≠i} x_i·x_j < ``margin`` (computed on detached values, so
    the gate itself carries no gradient). An inactive row is replaced by its detached copy: it
    still appears in every term, as a constant, so only the gradient changes and never a value.

    x: (N, D) L2-normalised rows, N >= 2. Returns the gated rows (N, D) and the mask (N,) bool.
    """
    with torch.no_grad():
        sim = x @ x.T  # (N, N)
        sim.fill_diagonal_(-math.inf)
        active = (1.0 - sim.max(dim=1).values) < margin  # (N,)
    return torch.where(active[:, None], x, x.detach()), active


def gate_views(
    u: torch.Tensor, v: torch.Tensor, enabled: bool, margin: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`gate_rows` on each view with its own Gram matrix, when ``enabled`` (``w_gd``).

    Returns the gated u, v (N, D) and the fraction of active rows over both views (a detached
    0-dim tensor; 1.0 when the gate is off).
    """
    if not enabled:
        return u, v, u.new_ones(()).detach()
    u, active_u = gate_rows(u, margin)
    v, active_v = gate_rows(v, margin)
    fraction = torch.cat([active_u, active_v]).to(u.dtype).mean()
    return u, v, fraction


def offdiag_exp_weights(sim: torch.Tensor, temperature: float) -> torch.Tensor:
    """The ``w_w`` weights: Ω_ij = exp(sim_ij/τ) / Σ_{k≠l} exp(sim_kl/τ), detached, (N, N).

    The normaliser sums the off-diagonal entries only, so those sum to 1; the diagonal entries
    are kept in Ω (as the official code keeps them) and only ever multiply x_i·x_i = 1 (see
    :func:`push_term`). Computed in log space, so a small τ does not overflow the normaliser;
    Ω_ii = e^{1/τ − log Σ_{k≠l} e^{sim_kl/τ}} can still overflow float32 once the batch's most
    similar pair has 1 − sim > 88·τ (possible for τ below about 0.02, never at 0.05).
    """
    logits = sim.detach() / temperature  # (N, N)
    off = ~torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device)  # (N, N)
    return torch.exp(logits - torch.logsumexp(logits[off], dim=0))


def gram_weights(sim: torch.Tensor) -> torch.Tensor:
    """The original (no ``w_w``) weights of VICReg and Barlow Twins: sg(sim) · 2/N², (N, N).

    With sim a Gram matrix, Σ_j Ω_ij x_i·sg(x_j) has the gradient of a squared Frobenius norm of
    a second-moment matrix (see vicreg.py and barlow_twins.py).
    """
    n = sim.shape[0]
    return sim.detach() * (2.0 / (n * n))


def offdiag_row_mass(omega: torch.Tensor) -> torch.Tensor:
    """Σ_{j≠i} Ω_ij for each row i: the total push on row i, (N,)."""
    return omega.sum(dim=1) - omega.diagonal()


def push_term(x: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """Σ_i Σ_j Ω_ij x_i·sg(x_j), diagonal included: the push of each row away from its weighted
    neighbours, gradient Σ_{j≠i} Ω_ij x_j on row i. x: (N, D) unit rows; omega: (N, N) detached.

    The diagonal entries enter as the constants Ω_ii (= Ω_ii·x_i·x_i for unit rows), so the
    value is the official code's but their gradient Ω_ii·x_i is left out. That gradient is
    purely radial, and the normalisation before the loss removes it; but with ``w_w`` Ω_ii can
    reach e^{2/τ_w} (e^40 at τ_w = 0.05), and its cancellation in float32 would swamp the
    tangential gradient.
    """
    own = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)  # (N, N)
    return (omega.masked_fill(own, 0.0) * (x @ x.detach().T)).sum() + omega.diagonal().sum()


def ratio_pull_term(x: torch.Tensor, y: torch.Tensor, omega: torch.Tensor, scale: float) -> torch.Tensor:
    """The ``w_r`` positive term of VICReg and Barlow Twins: scale · Σ_i (Σ_{j≠i} Ω_ij)(−x_i·y_i).

    With scale = λ·R the pull on row i is R times its push (λ Σ_{j≠i} Ω_ij), InfoNCE's ratio
    structure. Both views are live. x, y: (N, D); omega: (N, N) detached.
    """
    return scale * (offdiag_row_mass(omega) * -(x * y).sum(dim=1)).sum()


def alignment_distance(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """a_i = 2 − 2 u_i·v_i = ‖u_i − v_i‖² for unit rows, both views live: (N,)."""
    return 2.0 - 2.0 * (u * v).sum(dim=1)


# --- what the four losses share besides the maths ---------------------------------------------------

def normalised_views(batch: EmbeddingBatch, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The L2-normalised anchor and positive (N, D), after checking N >= 2."""
    if batch.anchor.shape[0] < 2:
        raise ValueError(f"{name} needs a batch of at least 2 pairs (in-batch neighbours), "
                         f"got {batch.anchor.shape[0]}")
    return F.normalize(batch.anchor, dim=-1), F.normalize(batch.positive, dim=-1)


def noncontrastive_stats(
    batch: EmbeddingBatch, u: torch.Tensor, v: torch.Tensor, total: torch.Tensor,
    gd_active: torch.Tensor, **terms: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """``loss``, the standard contrastive stats (acc = top-1 retrieval of v_i among all v_j),
    ``gd_active`` and the named terms, all detached 0-dim tensors."""
    cos = (u @ v.T).detach()  # (N, N)
    stats = {"loss": total.detach(), **contrastive_stats(batch.anchor, batch.positive, cos, cos)}
    stats["gd_active"] = gd_active.detach()
    stats.update({key: value.detach() for key, value in terms.items()})
    return stats


class SwitchableLoss(Loss):
    """What MHE, VICReg and Barlow Twins share (§5.6): the validated hyperparameters λ, the three
    switches, m, τ_w, R, and a forward that gates the views (``w_gd``) and sums the two
    directions of ``_direction(x, y) -> (Σ pull terms, Σ push terms)``, the push scaled by λ.
    Subclasses keep their own ``__init__`` signature (the registry reads it)."""

    family = "non_contrastive"
    requires: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset()
    display_name = "loss"

    def __init__(self, lambd: float, w_gd: bool, w_w: bool, w_r: bool, margin: float,
                 weight_temperature: float, ratio: float) -> None:
        super().__init__()
        self.lambd = check_positive("lambd", lambd)
        self.w_gd, self.w_w, self.w_r = check_flag("w_gd", w_gd), check_flag("w_w", w_w), check_flag("w_r", w_r)
        self.margin = check_positive("margin", margin)
        self.weight_temperature = check_positive("weight_temperature", weight_temperature)
        self.ratio = check_positive("ratio", ratio)

    def extra_repr(self) -> str:
        return (f"lambd={self.lambd}, w_gd={self.w_gd}, w_w={self.w_w}, w_r={self.w_r}, margin={self.margin}, "
                f"weight_temperature={self.weight_temperature}, ratio={self.ratio}")

    def _direction(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError  # pragma: no cover - interface

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        u, v = normalised_views(batch, self.display_name)
        u, v, gd_active = gate_views(u, v, self.w_gd, self.margin)
        pos_u, push_u = self._direction(u, v)
        pos_v, push_v = self._direction(v, u)
        align = pos_u + pos_v
        uniform = self.lambd * (push_u + push_v)
        total = align + uniform
        stats = noncontrastive_stats(batch, u, v, total, gd_active, uniform_term=uniform, align_term=align)
        return LossOutput(total=total, stats=stats)
