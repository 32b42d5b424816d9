"""MHS: alignment plus max-min separation, original and modified (docs/methods.md §5.6)."""

from __future__ import annotations

import math

import torch

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import check_flag, check_positive
from sentemb.losses.modifiers import (
    alignment_distance,
    gate_views,
    noncontrastive_stats,
    normalised_views,
)

EPS = 1e-4  # inside the square root, as in the official code: keeps d = 0 differentiable


class MHSLoss(Loss):
    r"""Maximum Hyperspherical Separation: alignment + nearest-negative distance of Li, Zhang, Nie.

    U, V are the L2-normalised anchors and positives (N×d), a_i = 2 − 2 u_i·v_i, and

        D0_ij = sqrt(‖u_i − sg(v_j)‖² + 1e-4),   n0_i = min_{j≠i} D0_ij,
        D1_ij = sqrt(‖v_i − sg(u_j)‖² + 1e-4),   n1_i = min_{j≠i} D1_ij,

    the distance of each row to its nearest *other-view* negative, the other view detached. The
    loss is

        L = λ·(−mean_i n0_i − mean_i n1_i) + mean_i a_i/2 · c0_i + mean_i a_i/2 · c1_i,

    - original (flags off): c0_i = c1_i = 1, i.e. λ·[separation] + mean_i (2 − 2u_i·v_i)
      (one half per direction; §5.6 "MHS");
    - ``w_r``: c0_i = R / sg(n0_i), c1_i = R / sg(n1_i), so the pull is R/(nearest-negative
      distance), MET's ratio (docs/methods.md §5.4);
    - ``w_gd``: before anything else, rows of U whose nearest other row of U has 1 − cos ≥ m
      (same for V with V's neighbours; the *same-view* neighbour, as in the official code, not
      the nearest negative used above) are detached: they stay in every term, without gradient.

    The min already puts all the push on one negative, so MHS has no ``w_w`` switch.

    Args:
        lambd: λ > 0, the separation weight; 1 in the original and in the modified runs.
        w_gd, w_r: the modifier switches (§5.6); the "mod" runs turn on both.
        margin: m > 0 of the ``w_gd`` gate (0.30 for BERT, 0.27 for RoBERTa).
        ratio: R > 0 of ``w_r`` (1.75 for BERT, 1.00 for RoBERTa).

    Inputs (``EmbeddingBatch``): anchor, positive (N, D) with N >= 2, not necessarily normalised.

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``acc`` (top-1 retrieval of v_i among all v_j),
    ``align``, ``uniform`` (stats.py), ``gd_active`` (fraction of rows the ``w_gd`` gate lets
    through, over both views; 1 without the gate), ``uniform_term`` (λ times the separation),
    ``align_term`` (the rest; the two sum to the loss) and ``nearest_neg_dist`` (mean of n0, n1).

    References:
        1. Li, Zhang, Nie. Towards Better Understanding of Contrastive Sentence Representation
           Learning: A Unified Paradigm for Gradient. ACL 2024 (arXiv 2402.18281).
        2. BDBC-KG-NLP/UnderstandingCSE at commit f3b2839, isotropy/models.py (the MHS objective
           and its modifications), as restated in docs/methods.md §5.6.

    Relations:
        - With ``w_r`` the gradient on u_i is, up to radial parts, (λ/(N·n0_i))·v_{j*} −
          (R/N)(1/n0_i + 1/n1_i)·v_i, j* the nearest negative: the form of docs/methods.md §5.4 with
          W one-hot on the nearest negative as in MET (§5.3), GD ∝ 1/n0_i, and an effective
          ratio of about 2R/λ, since both directions' alignment terms pull u_i.
        - ``margin`` above 2 keeps the gate always open: ``w_gd`` then changes nothing.
    """

    family = "non_contrastive"
    requires: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset()

    def __init__(self, lambd: float = 1.0, w_gd: bool = False, w_w: bool = False, w_r: bool = False,
                 margin: float = 0.30, ratio: float = 1.0) -> None:
        super().__init__()
        self.lambd = check_positive("lambd", lambd)
        self.w_gd, self.w_r = check_flag("w_gd", w_gd), check_flag("w_r", w_r)
        if check_flag("w_w", w_w):
            raise ValueError("MHS has no weight modifier (w_w): its push already goes to the nearest negative only")
        self.margin = check_positive("margin", margin)
        self.ratio = check_positive("ratio", ratio)

    def extra_repr(self) -> str:
        return f"lambd={self.lambd}, w_gd={self.w_gd}, w_r={self.w_r}, margin={self.margin}, ratio={self.ratio}"

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        u, v = normalised_views(batch, "MHS")
        u, v, gd_active = gate_views(u, v, self.w_gd, self.margin)
        n0 = _nearest_negative(u, v.detach())  # (N,)
        n1 = _nearest_negative(v, u.detach())  # (N,)
        uniform = self.lambd * -(n0.mean() + n1.mean())
        a = alignment_distance(u, v)  # (N,)
        if self.w_r:
            align = (a * self.ratio / n0.detach() / 2).mean() + (a * self.ratio / n1.detach() / 2).mean()
        else:
            align = a.mean()  # mean(a/2) for each of the two directions
        total = uniform + align
        stats = noncontrastive_stats(batch, u, v, total, gd_active, uniform_term=uniform, align_term=align,
                                     nearest_neg_dist=(n0.mean() + n1.mean()).detach() / 2)
        return LossOutput(total=total, stats=stats)


def _nearest_negative(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """min_{j≠i} sqrt(‖x_i − y_j‖² + EPS) for each row i of x (N, D) against y (N, D): (N,)."""
    # ‖x_i‖² is kept live, so the gradient is that of ‖x_i − y_j‖² exactly, radial part included.
    sq = (x * x).sum(dim=1, keepdim=True) + (y * y).sum(dim=1) - 2.0 * x @ y.T  # (N, N)
    dist = (sq.clamp_min(0.0) + EPS).sqrt()  # (N, N)
    own = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)  # (N, N)
    return dist.masked_fill(own, math.inf).min(dim=1).values
