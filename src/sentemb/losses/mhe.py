"""MHE: alignment plus log-sum-exp uniformity, original and modified (docs/methods.md §5.6)."""

from __future__ import annotations

import torch

from sentemb.losses.modifiers import SwitchableLoss, alignment_distance


class MHELoss(SwitchableLoss):
    r"""Minimum Hyperspherical Energy: alignment + log-sum-exp uniformity of Li, Zhang, Nie.

    U, V are the L2-normalised anchors and positives (N×d), a_i = 2 − 2 u_i·v_i, S_U = U Uᵀ
    (S_U/τ_w with ``w_w``), and E_U = log Σ_{i>j} exp(S_U)_ij over the strictly lower triangle
    (each within-view pair once); E_V likewise. The loss is

        L = λ·(E_U + E_V) + R′·Σ_i a_i (ω^U_i + ω^V_i)/2,

    - original (all flags off): ω^U_i = ω^V_i = 1/N and R′ = 1, i.e.
      L = λ(E_U + E_V) + Σ_i (2 − 2u_i·v_i)/N (§5.6 "MHE");
    - ``w_w``: ω^U_i = exp(log Σ_{j≠i} exp sg(S_U)_ij − sg(E_U)) / τ_w, row i's share of the
      uniformity mass divided by τ_w. This is exactly the total weight with which ∇E_U pushes
      u_i away from the other u_j, Σ_{j≠i} e^{S_ij}/(τ_w Σ_{k>l} e^{S_kl}) (the shares sum to
      2, each pair counting for both its rows);
    - ``w_r``: R′ = R, scaling the pull against the push;
    - ``w_gd``: before anything else, rows of U whose nearest other row of U has 1 − cos ≥ m
      (same for V with V's neighbours) are detached: they stay in every term, without gradient.
      The official code gates on *same-view* neighbours, not on the positive-vs-negative gap of
      the contrastive losses (§5.5).

    Uniformity is within-view only (u_i–u_j and v_i–v_j, no u_i–v_j term); the alignment
    distances a_i are live in both views. Because e^{u·u′} = e^{1 − ‖u−u′‖²/2}, E_U is Wang &
    Isola's uniformity with t = ½ up to constants (§5.6).

    Args:
        lambd: λ > 0, the uniformity weight; 10 in the original runs, 1 in the modified ones.
        w_gd, w_w, w_r: the three modifier switches (§5.6); the "mod" runs turn on all three.
        margin: m > 0 of the ``w_gd`` gate (0.30 for BERT).
        weight_temperature: τ_w > 0 of ``w_w`` (0.05).
        ratio: R > 0 of ``w_r`` (1.75 for BERT, 1.25 for RoBERTa).

    Inputs (``EmbeddingBatch``): anchor, positive (N, D) with N >= 2, not necessarily normalised.

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``acc`` (top-1 retrieval of v_i among all v_j),
    ``align``, ``uniform`` (stats.py), ``gd_active`` (fraction of rows the ``w_gd`` gate lets
    through, over both views; 1 without the gate), ``uniform_term`` = λ(E_U + E_V) and
    ``align_term`` (the rest), which sum to the loss.

    References:
        1. Li, Zhang, Nie. Towards Better Understanding of Contrastive Sentence Representation
           Learning: A Unified Paradigm for Gradient. ACL 2024 (arXiv 2402.18281).
        2. BDBC-KG-NLP/UnderstandingCSE at commit f3b2839, isotropy/models.py (the MHE objective
           and its three modifications), as restated in docs/methods.md §5.6.
        3. Wang, Isola. Understanding Contrastive Representation Learning through Alignment and
           Uniformity on the Hypersphere. ICML 2020.

    Relations:
        - With all flags off it is alignment + uniformity (t = ½) with weight λ, computed on
          log-sum-exp rather than log-mean-exp (a constant apart).
        - With all three flags the gradient on u_i has the contrastive form of docs/methods.md §5.4
          (up to radial parts): GD a 0/1 gate, a push λ·ω^U_i·Σ_{j≠i} W_ij u_j with W the
          softmax over same-view neighbours at τ_w, and a pull R(ω^U_i + ω^V_i)·v_i (both
          directions' alignment terms pull u_i), so the effective ratio is about 2R/λ.
        - ``margin`` above 2 keeps the gate always open: ``w_gd`` then changes nothing.
    """

    display_name = "MHE"

    def __init__(self, lambd: float = 10.0, w_gd: bool = False, w_w: bool = False, w_r: bool = False,
                 margin: float = 0.30, weight_temperature: float = 0.05, ratio: float = 1.0) -> None:
        super().__init__(lambd, w_gd, w_w, w_r, margin, weight_temperature, ratio)

    def _direction(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x's half of the alignment, E_x) for view x with partner view y; x, y: (N, D)."""
        n = x.shape[0]
        scale = 1.0 / self.weight_temperature if self.w_w else 1.0
        lower = torch.tril_indices(n, n, offset=-1, device=x.device)  # (2, N(N-1)/2)
        s = (x @ x.T) * scale  # (N, N)
        energy = torch.logsumexp(s[lower[0], lower[1]], dim=0)
        if self.w_w:
            weight = _row_share(s, energy) * scale  # (N,)
        else:
            weight = torch.full((n,), 1.0 / n, dtype=x.dtype, device=x.device)
        pull = (alignment_distance(x, y) * weight).sum() / 2
        return (pull * self.ratio if self.w_r else pull), energy

def _row_share(s: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """exp(log Σ_{j≠i} exp sg(s)_ij − sg(e)) for each row i, (N,): row i's share of the mass."""
    s = s.detach().clone()
    s.fill_diagonal_(-float("inf"))
    return torch.exp(torch.logsumexp(s, dim=1) - e.detach())
