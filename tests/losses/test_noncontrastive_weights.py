"""MHE, VICReg, Barlow Twins (docs/methods.md §5.6): w_w, only the push weights change."""

from __future__ import annotations

import math

import pytest
import torch
from noncontrastive_helpers import (
    TOL,
    N,
    _close,
    _lse,
    _run,
    _tangent,
    _views,
)

from sentemb.losses.barlow_twins import BarlowTwinsLoss
from sentemb.losses.mhe import MHELoss
from sentemb.losses.modifiers import offdiag_exp_weights
from sentemb.losses.vicreg import VICRegLoss


def test_weights_normalise_over_the_off_diagonal() -> None:
    u, _ = _views(seed=8)
    sim = u @ u.T
    for tau in (0.003, 0.05, 1.0):
        omega = offdiag_exp_weights(sim.clone().requires_grad_(), tau)
        assert not omega.requires_grad and torch.isfinite(omega).all()
        denominator = sum(math.exp(float(sim[i, j]) / tau) for i in range(N) for j in range(N) if i != j)
        for i, j in [(0, 1), (3, 2), (4, 4)]:  # the diagonal keeps its (unnormalised) entry
            assert omega[i, j].item() == pytest.approx(math.exp(float(sim[i, j]) / tau) / denominator, rel=1e-9)
        off = ~torch.eye(N, dtype=torch.bool)
        assert omega[off].sum().item() == pytest.approx(1.0, rel=1e-12)
    uniform = offdiag_exp_weights(sim, 1e12)  # τ_w → ∞: uniform over the N(N−1) pairs
    assert torch.allclose(uniform, torch.full((N, N), 1 / (N * (N - 1)), dtype=torch.float64), rtol=1e-9)


@pytest.mark.parametrize("cls,own_view", [(VICRegLoss, True), (BarlowTwinsLoss, False)])
def test_weight_switch_changes_only_the_push_weights(cls: type, own_view: bool) -> None:
    """grad(w_w) − grad(ori) = λ Σ_j (Ω_w − Ω_0)_ij x_j: VICReg weighs by x's own Gram matrix,
    Barlow Twins by the other view's."""
    u, v = _views(seed=9)
    lam, tau = 2.0, 0.1
    _, stats, ga, gp = _run(cls(lambd=lam, w_w=True, weight_temperature=tau), u, v)
    _, ref_stats, ra, rp = _run(cls(lambd=lam), u, v)
    for x, y, g, r in ((u, v, ga, ra), (v, u, gp, rp)):
        gram = x @ x.T if own_view else y @ y.T
        delta = offdiag_exp_weights(gram, tau) - gram * 2 / N**2
        assert _close(g - r, _tangent(lam * delta @ x, x))
    assert stats["align_term"].item() == pytest.approx(ref_stats["align_term"].item(), **TOL)
    assert stats["uniform_term"].item() != pytest.approx(ref_stats["uniform_term"].item())


def test_mhe_weight_switch_tempers_uniformity_and_reweights_alignment() -> None:
    """MHE's w_w: E uses S/τ_w, and ω_i = 2·(Σ_{j≠i} Ω_ij)/τ_w, row i's share of the mass / τ_w."""
    u, v = _views(seed=10)
    lam, tau = 2.0, 0.1
    _, stats, _, _ = _run(MHELoss(lambd=lam, w_w=True, weight_temperature=tau), u, v)
    e = [_lse([x[i] @ x[j] / tau for i in range(N) for j in range(i)]) for x in (u, v)]
    assert stats["uniform_term"].item() == pytest.approx(lam * (e[0] + e[1]).item(), **TOL)
    a = 2 - 2 * (u * v).sum(dim=1)
    share = [2 * (offdiag_exp_weights(x @ x.T, tau).sum(dim=1) - offdiag_exp_weights(x @ x.T, tau).diagonal()) / tau
             for x in (u, v)]
    assert stats["align_term"].item() == pytest.approx(((a * share[0]).sum() / 2 + (a * share[1]).sum() / 2).item(),
                                                       **TOL)


def test_mhe_all_flags_gradient_has_the_paradigm_form() -> None:
    """w_gd (open) + w_w + w_r: tangential gradient on u_i is λω^U_i Σ_{j≠i} W_ij u_j − R(ω^U_i + ω^V_i) v_i
    with W the softmax over same-view neighbours at τ_w (docs/methods.md §5.4)."""
    u, v = _views(seed=11)
    lam, tau, r = 1.0, 0.1, 1.75
    _, _, ga, _ = _run(MHELoss(lambd=lam, w_gd=True, w_w=True, w_r=True, margin=2.5, weight_temperature=tau,
                               ratio=r), u, v)

    def push_and_share(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = (x @ x.T / tau).fill_diagonal_(-math.inf)
        z = torch.logsumexp(logits[torch.tril_indices(N, N, -1).unbind()], dim=0)
        share = torch.exp(torch.logsumexp(logits, dim=1) - z) / tau  # ω_i
        return torch.softmax(logits, dim=1), share

    w_u, share_u = push_and_share(u)
    _, share_v = push_and_share(v)
    expected = lam * share_u[:, None] * (w_u @ u) - r * (share_u + share_v)[:, None] * v
    assert _close(ga, _tangent(expected, u))
