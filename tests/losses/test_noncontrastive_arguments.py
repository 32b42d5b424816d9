"""MHE, MHS, VICReg, Barlow Twins (docs/methods.md §5.6): arguments, batch, registry, scale and float32."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from noncontrastive_helpers import (
    CLASSES,
    TOL,
    D,
    N,
    _close,
    _run,
    _views,
)

from sentemb.errors import ConfigError
from sentemb.losses import LOSSES, build_loss
from sentemb.losses.barlow_twins import BarlowTwinsLoss
from sentemb.losses.base import EmbeddingBatch
from sentemb.losses.mhs import MHSLoss
from sentemb.losses.modifiers import offdiag_exp_weights, push_term
from sentemb.losses.vicreg import VICRegLoss


@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize("kwargs,match", [
    ({"margin": True}, "margin"), ({"margin": 0.0}, "margin"), ({"lambd": "1"}, "lambd"),
    ({"lambd": -1.0}, "lambd"), ({"ratio": 0}, "ratio"), ({"ratio": math.nan}, "ratio"),
    ({"w_gd": 1}, "w_gd"), ({"w_r": "yes"}, "w_r"),
])
def test_bad_arguments_raise(name: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CLASSES[name](**kwargs)


@pytest.mark.parametrize("name", ["mhe", "vicreg", "barlow_twins"])
@pytest.mark.parametrize("tau", [-0.05, 0.0, True, math.inf])
def test_bad_weight_temperature_raises(name: str, tau: object) -> None:
    with pytest.raises(ValueError, match="weight_temperature"):
        CLASSES[name](weight_temperature=tau)


def test_mhs_has_no_weight_modifier() -> None:
    with pytest.raises(ValueError, match="MHS has no weight modifier"):
        MHSLoss(w_w=True)
    with pytest.raises(ConfigError, match="weight_temperature"):
        build_loss("mhs", weight_temperature=0.05)
    assert MHSLoss(w_w=False).w_r is False


@pytest.mark.parametrize("name", list(CLASSES))
def test_batch_of_one_raises(name: str) -> None:
    x = torch.randn(1, D)
    with pytest.raises(ValueError, match="at least 2"):
        CLASSES[name]()(batch=EmbeddingBatch(anchor=x, positive=x.clone()))


def test_registered_under_their_names() -> None:
    assert {name: LOSSES[name] for name in CLASSES} == CLASSES
    loss = build_loss("vicreg", lambd=1.0, w_gd=True, w_w=True, w_r=True, margin=0.37, ratio=1.25)
    assert (loss.lambd, loss.w_gd, loss.w_w, loss.w_r, loss.margin, loss.ratio) == (1.0, True, True, True, 0.37, 1.25)


@pytest.mark.parametrize("name", list(CLASSES))
def test_scale_invariant_and_float32_finite(name: str) -> None:
    u, v = _views(seed=12)
    kwargs = {"w_gd": True, "w_r": True, "ratio": 1.5, "lambd": 1.0}
    if name != "mhs":
        kwargs.update(w_w=True, weight_temperature=0.05)
    loss = CLASSES[name](**kwargs)
    base = loss(batch=EmbeddingBatch(anchor=u, positive=v)).total
    scaled = loss(batch=EmbeddingBatch(anchor=3 * u, positive=0.5 * v)).total
    assert scaled.item() == pytest.approx(base.item(), rel=1e-9)
    out = loss(batch=EmbeddingBatch(anchor=u.float(), positive=v.float()))
    assert torch.isfinite(out.total) and all(torch.isfinite(s) for s in out.stats.values())


@pytest.mark.parametrize("cls", [VICRegLoss, BarlowTwinsLoss])
def test_push_diagonal_does_not_swamp_float32_gradients(cls: type) -> None:
    """Spread rows make Ω_ii ~ e^{(1 − max cos)/τ_w} large; its (radial) gradient is left out, so
    float32 gradients stay close to float64 ones and the value still counts Σ Ω_ii."""
    g = torch.Generator().manual_seed(13)
    u = F.normalize(torch.randn(16, 128, generator=g, dtype=torch.float64), dim=1)
    v = F.normalize(u + 0.3 * torch.randn(16, 128, generator=g, dtype=torch.float64), dim=1)
    loss = cls(lambd=1.0, w_w=True, weight_temperature=0.05)
    assert float(offdiag_exp_weights(u @ u.T, 0.05).diagonal().min()) > 1e4  # the hard case
    value64, _, ga64, gp64 = _run(loss, u, v)
    value32, _, ga32, gp32 = _run(loss, u.float(), v.float())
    assert value32.item() == pytest.approx(value64.item(), rel=1e-5)
    for g32, g64 in ((ga32, ga64), (gp32, gp64)):
        assert torch.allclose(g32.double(), g64, rtol=1e-3, atol=1e-4 * g64.abs().max().item())


def test_push_term_value_counts_the_diagonal() -> None:
    u, _ = _views(seed=14)
    omega = offdiag_exp_weights(u @ u.T, 0.1)
    x = u.clone().requires_grad_()
    value = push_term(x, omega)
    assert value.item() == pytest.approx(sum(float(omega[i, j] * (u[i] @ u[j])) for i in range(N) for j in range(N)),
                                         **TOL)
    (grad,) = torch.autograd.grad(value, x)
    assert _close(grad, (omega - torch.diag(omega.diagonal())) @ u)
