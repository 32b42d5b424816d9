"""MHE, MHS, VICReg, Barlow Twins (docs/methods.md §5.6): the original objectives against their closed
forms, written here from the formulas with explicit loops, and the default λs.

Everything runs in float64 on unit-norm random rows; gradients are compared after projecting out
the radial part (see noncontrastive_helpers).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from noncontrastive_helpers import (
    CLASSES,
    TOL,
    _close,
    _lse,
    _reference_grads,
    _run,
    _views,
)

from sentemb.losses.barlow_twins import BarlowTwinsLoss
from sentemb.losses.mhe import MHELoss
from sentemb.losses.mhs import MHSLoss
from sentemb.losses.vicreg import VICRegLoss


def closed_mhe(u: torch.Tensor, v: torch.Tensor, lam: float) -> torch.Tensor:
    """λ(E_U + E_V) + Σ_i (2 − 2u_i·v_i)/N, E_U = log Σ_{i>j} exp(u_i·u_j)."""
    n = len(u)
    e_u = _lse([u[i] @ u[j] for i in range(n) for j in range(i)])
    e_v = _lse([v[i] @ v[j] for i in range(n) for j in range(i)])
    return lam * (e_u + e_v) + sum(2 - 2 * u[i] @ v[i] for i in range(n)) / n


def closed_mhs(u: torch.Tensor, v: torch.Tensor, lam: float) -> torch.Tensor:
    """λ[−mean_i min_{j≠i} ‖u_i − sg v_j‖ − mean_i min_{j≠i} ‖v_i − sg u_j‖] + mean_i (2 − 2u_i·v_i),
    each distance as sqrt(‖·‖² + 1e-4) (the official code's guard)."""
    n = len(u)

    def nearest(x: torch.Tensor, y: torch.Tensor, i: int) -> torch.Tensor:
        return min((((x[i] - y[j].detach()) ** 2).sum() + 1e-4).sqrt() for j in range(n) if j != i)

    sep = -sum(nearest(u, v, i) for i in range(n)) / n - sum(nearest(v, u, i) for i in range(n)) / n
    return lam * sep + sum(2 - 2 * u[i] @ v[i] for i in range(n)) / n


def closed_vicreg(u: torch.Tensor, v: torch.Tensor, lam: float) -> torch.Tensor:
    """Invariance (1/N)Σ‖u_i − v_i‖² plus λ·½‖XᵀX/N‖²_F for each view (no variance term)."""
    n = len(u)
    invariance = ((u - v) ** 2).sum() / n
    return invariance + lam / 2 * (((u.T @ u / n) ** 2).sum() + ((v.T @ v / n) ** 2).sum())


def closed_barlow_twins(u: torch.Tensor, v: torch.Tensor, lam: float) -> torch.Tensor:
    """Σ_k (1 − C_kk)² + λ Σ_{k≠l} C_kl², C = UᵀV/N on the unit rows (not standardised)."""
    n, d = u.shape
    c = u.T @ v / n
    on = sum((1 - c[k, k]) ** 2 for k in range(d))
    off = sum(c[k, m] ** 2 for k in range(d) for m in range(d) if k != m)
    return on + lam * off


@pytest.mark.parametrize("lam", [10.0, 0.5])
def test_mhe_equals_closed_form_in_value_and_gradient(lam: float) -> None:
    u, v = _views()
    value, _, ga, gp = _run(MHELoss(lambd=lam), u, v)
    ref, ra, rp = _reference_grads(lambda a, p: closed_mhe(a, p, lam), u, v)
    assert value.item() == pytest.approx(ref.item(), **TOL)
    assert _close(ga, ra) and _close(gp, rp)


@pytest.mark.parametrize("lam", [1.0, 3.0])
def test_mhs_equals_closed_form_in_value_and_gradient(lam: float) -> None:
    u, v = _views()
    value, _, ga, gp = _run(MHSLoss(lambd=lam), u, v)
    ref, ra, rp = _reference_grads(lambda a, p: closed_mhs(a, p, lam), u, v)
    assert value.item() == pytest.approx(ref.item(), **TOL)
    assert _close(ga, ra) and _close(gp, rp)


@pytest.mark.parametrize("lam", [30.0, 1.0])
@pytest.mark.parametrize("cls,closed", [(VICRegLoss, closed_vicreg), (BarlowTwinsLoss, closed_barlow_twins)])
def test_surrogate_gradient_equals_closed_form(cls: type, closed: Callable[..., torch.Tensor], lam: float) -> None:
    """Same tangential gradient, factor 1: the symmetrised BT surrogate gives each view the
    gradient of one L_BT(UᵀV/N), since L_BT(VᵀU/N) = L_BT(UᵀV/N)."""
    u, v = _views()
    _, _, ga, gp = _run(cls(lambd=lam), u, v)
    _, ra, rp = _reference_grads(lambda a, p: closed(a, p, lam), u, v)
    assert ra.abs().max() > 1e-3  # a real comparison, not 0 == 0
    assert _close(ga, ra, atol=1e-8) and _close(gp, rp, atol=1e-8)


def test_defaults_are_the_original_lambdas() -> None:
    assert [CLASSES[k]().lambd for k in ("mhe", "mhs", "vicreg", "barlow_twins")] == [10.0, 1.0, 30.0, 30.0]
    for cls in CLASSES.values():
        loss = cls()
        assert not (loss.w_gd or loss.w_r or getattr(loss, "w_w", False))
        assert (loss.margin, loss.ratio) == (0.30, 1.0)
