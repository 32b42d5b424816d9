"""VICReg as Li, Zhang, Nie implement it (a sample-space surrogate), original and modified (§5.6)."""

from __future__ import annotations

import torch

from sentemb.losses.modifiers import (
    SwitchableLoss,
    gram_weights,
    offdiag_exp_weights,
    push_term,
    ratio_pull_term,
)


class VICRegLoss(SwitchableLoss):
    r"""VICReg's invariance + covariance, written in sample space as Li, Zhang, Nie's code does.

    U, V are the L2-normalised anchors and positives (N×d). The loss is f(U, V) + f(V, U) with

        f(X, Y) = Σ_i pos_i + λ·Σ_i Σ_j Ω_ij x_i·sg(x_j),

    Ω an (N×N) detached weight matrix on X's own Gram matrix (diagonal included):

    - original (flags off): Ω = sg(X Xᵀ)·2/N² and pos_i = −(2/N)·x_i·sg(y_i). Its gradient is
      that of (1/N)Σ_i ‖u_i − v_i‖² + (λ/2)(‖UᵀU/N‖²_F + ‖VᵀV/N‖²_F) (§5.6), up to radial parts
      that the normalisation removes: invariance plus the uncentred second moment of each view,
      diagonal included;
    - ``w_w``: Ω = exp(sg(X Xᵀ)/τ_w) divided by the sum of its off-diagonal entries
      (modifiers.offdiag_exp_weights);
    - ``w_r``: pos_i = λ·R·(Σ_{j≠i} Ω_ij)·(−x_i·y_i), y live: the pull is R times the push in
      each direction (row i is pulled by both directions, so about 2R overall);
    - ``w_gd``: before anything else, rows of U whose nearest other row of U has 1 − cos ≥ m
      (same for V with V's neighbours) are detached: they stay in every term, without gradient.
      The official code gates on *same-view* neighbours, not on the positive-vs-negative gap of
      the contrastive losses (§5.5).

    Differences from Bardes et al.'s VICReg, following the official code of Li et al.: **no
    variance hinge term**, no centring, no projector, and the terms act on L2-normalised
    embeddings in sample space rather than on a d×d covariance matrix.

    Args:
        lambd: λ > 0, the covariance (push) weight; 30 in the original runs, 1 in the modified ones.
        w_gd, w_w, w_r: the three modifier switches (§5.6); the "mod" runs turn on all three.
        margin: m > 0 of the ``w_gd`` gate (0.30 for BERT, 0.37 for RoBERTa).
        weight_temperature: τ_w > 0 of ``w_w`` (0.05).
        ratio: R > 0 of ``w_r`` (1.50 for BERT, 1.25 for RoBERTa).

    Inputs (``EmbeddingBatch``): anchor, positive (N, D) with N >= 2, not necessarily normalised.

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``acc`` (top-1 retrieval of v_i among all v_j),
    ``align``, ``uniform`` (stats.py), ``gd_active`` (fraction of rows the ``w_gd`` gate lets
    through, over both views; 1 without the gate), ``align_term`` (Σ pos over both directions)
    and ``uniform_term`` (λ·Σ push over both), which sum to the loss. They are surrogate values:
    their gradients, not their values, are those of the invariance and covariance terms.

    References:
        1. Li, Zhang, Nie. Towards Better Understanding of Contrastive Sentence Representation
           Learning: A Unified Paradigm for Gradient. ACL 2024 (arXiv 2402.18281).
        2. BDBC-KG-NLP/UnderstandingCSE at commit f3b2839, isotropy/models.py (the VICReg
           objective and its three modifications), as restated in docs/methods.md §5.6.
        3. Bardes, Ponce, LeCun. VICReg: Variance-Invariance-Covariance Regularization for
           Self-Supervised Learning. ICLR 2022.

    Relations:
        - Not lightly's or Bardes et al.'s VICReg (no variance term, no centring): do not
          compare its numbers with theirs.
        - With all three flags the gradient on x_i is, up to radial parts,
          GD_i·λ·[Σ_{j≠i} Ω_ij (x_j − R·y_i) − R(Σ_{j≠i} Ω′_ij)·y_i], Ω′ the weights of f(y, x):
          the contrastive form of docs/methods.md §5.4 with W a softmax over same-view neighbours.
        - barlow_twins.py is the same skeleton with Ω on the *other* view's Gram matrix.
    """

    display_name = "VICReg"

    def __init__(self, lambd: float = 30.0, w_gd: bool = False, w_w: bool = False, w_r: bool = False,
                 margin: float = 0.30, weight_temperature: float = 0.05, ratio: float = 1.0) -> None:
        super().__init__(lambd, w_gd, w_w, w_r, margin, weight_temperature, ratio)

    def _direction(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(Σ_i pos_i, Σ_ij Ω_ij x_i·sg(x_j)) of f(x, y); x, y: (N, D)."""
        n = x.shape[0]
        gram = (x @ x.T).detach()  # (N, N), the same view's
        omega = offdiag_exp_weights(gram, self.weight_temperature) if self.w_w else gram_weights(gram)
        if self.w_r:
            pos = ratio_pull_term(x, y, omega, self.lambd * self.ratio)
        else:
            pos = -(x * y.detach()).sum() * (2.0 / n)
        return pos, push_term(x, omega)
