"""Barlow Twins as Li, Zhang, Nie implement it (a sample-space surrogate), original and modified (§5.6)."""

from __future__ import annotations

import torch

from sentemb.losses.modifiers import (
    SwitchableLoss,
    gram_weights,
    offdiag_exp_weights,
    push_term,
    ratio_pull_term,
)


class BarlowTwinsLoss(SwitchableLoss):
    r"""Barlow Twins' cross-correlation objective, written in sample space as Li et al.'s code does.

    U, V are the L2-normalised anchors and positives (N×d). The loss is f(U, V) + f(V, U) with

        f(X, Y) = Σ_i pos_i + λ·Σ_i Σ_j Ω_ij x_i·sg(x_j),

    Ω an (N×N) detached weight matrix on the *other* view's Gram matrix Y Yᵀ (diagonal included):

    - original (flags off): Ω = sg(Y Yᵀ)·2/N², and with C = sg(X)ᵀ sg(Y)/N (d×d) and
      c_k = (1 − (1 − λ)·C_kk)·2/N, pos_i = −Σ_k c_k·x_ik·sg(y_ik). Its gradient equals that of

          L_BT = Σ_k (1 − C_kk)² + λ Σ_{k≠l} C_kl²,   C = UᵀV/N,

      exactly, in both views (§5.6): f(X, Y) is the linearisation of L_BT at the current point
      in X, and L_BT(VᵀU/N) = L_BT(C), so the symmetrised sum gives each view the gradient of
      one L_BT (not twice it);
    - ``w_w``: Ω = exp(sg(Y Yᵀ)/τ_w) divided by the sum of its off-diagonal entries
      (modifiers.offdiag_exp_weights);
    - ``w_r``: pos_i = λ·R·(Σ_{j≠i} Ω_ij)·(−x_i·y_i), y live: the pull is R times the push in
      each direction (row i is pulled by both directions, so about 2R overall);
    - ``w_gd``: before anything else, rows of U whose nearest other row of U has 1 − cos ≥ m
      (same for V with V's neighbours) are detached: they stay in every term, without gradient.
      The official code gates on *same-view* neighbours, not on the positive-vs-negative gap of
      the contrastive losses (§5.5).

    Differences from Zbontar et al.'s Barlow Twins, following the official code of Li et al.:
    C is computed on **L2-normalised embeddings, not batch-standardised ones** (no centring, no
    per-dimension scaling, no projector), and the loss is evaluated in sample space through
    N×N Gram matrices rather than through the d×d matrix C.

    Args:
        lambd: λ > 0, the off-diagonal (push) weight; 30 in the original runs, 1 in the
            modified ones. Note that Zbontar et al.'s λ (5e-3) multiplies a different scale.
        w_gd, w_w, w_r: the three modifier switches (§5.6); the "mod" runs turn on all three.
        margin: m > 0 of the ``w_gd`` gate (0.30 for BERT, 0.37 for RoBERTa).
        weight_temperature: τ_w > 0 of ``w_w`` (0.05).
        ratio: R > 0 of ``w_r`` (1.50 for BERT, 1.25 for RoBERTa).

    Inputs (``EmbeddingBatch``): anchor, positive (N, D) with N >= 2, not necessarily normalised.

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``acc`` (top-1 retrieval of v_i among all v_j),
    ``align``, ``uniform`` (stats.py), ``gd_active`` (fraction of rows the ``w_gd`` gate lets
    through, over both views; 1 without the gate), ``align_term`` (Σ pos over both directions)
    and ``uniform_term`` (λ·Σ push over both), which sum to the loss. They are surrogate values:
    their gradients, not their values, are those of L_BT's terms.

    References:
        1. Li, Zhang, Nie. Towards Better Understanding of Contrastive Sentence Representation
           Learning: A Unified Paradigm for Gradient. ACL 2024 (arXiv 2402.18281).
        2. BDBC-KG-NLP/UnderstandingCSE at commit f3b2839, isotropy/models.py (the Barlow Twins
           objective and its three modifications), as restated in docs/methods.md §5.6.
        3. Zbontar, Jing, Misra, LeCun, Deny. Barlow Twins: Self-Supervised Learning via
           Redundancy Reduction. ICML 2021.

    Relations:
        - Not lightly's or Zbontar et al.'s Barlow Twins (no standardisation): do not compare
          its numbers with theirs.
        - vicreg.py is the same skeleton with Ω on the same view's Gram matrix and a plain
          positive term; with ``w_r`` on, the two differ only in which Gram matrix weighs the
          push.
    """

    display_name = "Barlow Twins"

    def __init__(self, lambd: float = 30.0, w_gd: bool = False, w_w: bool = False, w_r: bool = False,
                 margin: float = 0.30, weight_temperature: float = 0.05, ratio: float = 1.0) -> None:
        super().__init__(lambd, w_gd, w_w, w_r, margin, weight_temperature, ratio)

    def _direction(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(Σ_i pos_i, Σ_ij Ω_ij x_i·sg(x_j)) of f(x, y); x, y: (N, D)."""
        n = x.shape[0]
        gram = (y @ y.T).detach()  # (N, N), the other view's
        omega = offdiag_exp_weights(gram, self.weight_temperature) if self.w_w else gram_weights(gram)
        if self.w_r:
            pos = ratio_pull_term(x, y, omega, self.lambd * self.ratio)
        else:
            c_diag = (x * y).detach().sum(dim=0) / n  # (D,), the diagonal of C = sg(X)ᵀ sg(Y)/N
            c = (1.0 - (1.0 - self.lambd) * c_diag) * (2.0 / n)  # (D,)
            pos = -(x * y.detach() * c).sum()
        return pos, push_term(x, omega)
