"""The unified gradient paradigm (docs/methods.md §5.4-§5.5): for each effective loss, autograd's
gradient equals GD·Σ_j W_ij (h'_j − R·h'_i) built from the closed forms, and the measured
components (losses/paradigm.py) recover GD, W and R. Float64, random embeddings."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from sentemb.losses import build_loss
from sentemb.losses.base import EmbeddingBatch
from sentemb.losses.paradigm import GradientDiagnostics, gradient_components, measurable, summarize

B, D = 6, 16
TOL = 1e-8


MIXED = (0.15, 0.15, 0.15, 0.9, 0.9, 0.9)  # half the positives close (solved anchors), half far


def _views(seed: int = 0, noise: tuple[float, ...] = MIXED) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit anchors h and positives h' at per-row distances ``noise`` (so some anchors are solved)."""
    g = torch.Generator().manual_seed(seed)
    h = F.normalize(torch.randn(B, D, generator=g, dtype=torch.float64), dim=-1)
    scale = torch.tensor(noise, dtype=torch.float64)[:, None]
    hp = F.normalize(h + scale * torch.randn(B, D, generator=g, dtype=torch.float64), dim=-1)
    return h, hp


def _autograd(loss_name: str, h: torch.Tensor, hp: torch.Tensor, **kw: object) -> torch.Tensor:
    """Gradient w.r.t. the unit anchors; the loss normalises again, so this is P_i ∂L/∂ĥ_i."""
    leaf = h.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(build_loss(loss_name, **kw)(batch=EmbeddingBatch(leaf, hp)).total, leaf)
    return grad


def _tangent(h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return g - (g * h).sum(dim=1, keepdim=True) * h


def _paradigm(h: torch.Tensor, hp: torch.Tensor, gd: torch.Tensor, w: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """GD_i · Σ_j W_ij (h'_j − R_i h'_i) for every anchor, projected on the tangent plane."""
    pull = (w @ hp) - (w.sum(dim=1) * r)[:, None] * hp
    return _tangent(h, gd[:, None] * pull)


def _off(m: torch.Tensor, fill: float) -> torch.Tensor:
    return m.masked_fill(torch.eye(B, dtype=torch.bool), fill)


def _one_hot(idx: torch.Tensor) -> torch.Tensor:
    return F.one_hot(idx, B).to(torch.float64)


# ---- closed forms of §5.4 (per anchor; the losses average over B anchors, hence the 1/B) ----

def closed_infonce(s: torch.Tensor, tau: float = 0.05) -> tuple[torch.Tensor, ...]:
    p = torch.softmax(s / tau, dim=1)
    gd = (1 - p.diagonal()) / tau
    w = _off(p, 0.0) / (1 - p.diagonal())[:, None]
    return gd / B, w, torch.ones(B, dtype=torch.float64)


def closed_arccon(s: torch.Tensor, tau: float = 0.05, u_deg: float = 10.0) -> tuple[torch.Tensor, ...]:
    theta = torch.arccos(s.diagonal())
    u = math.radians(u_deg)
    p = torch.softmax(torch.diagonal_scatter(s, torch.cos(theta + u)) / tau, dim=1)
    gd = (1 - p.diagonal()) / tau
    w = _off(p, 0.0) / (1 - p.diagonal())[:, None]
    return gd / B, w, torch.sin(theta + u) / torch.sin(theta)


def closed_mpt(s: torch.Tensor, m: float = 0.23) -> tuple[torch.Tensor, ...]:
    hard = _off(s, -math.inf).max(dim=1)
    gd = (s.diagonal() - hard.values < m).to(torch.float64)
    return gd / B, _one_hot(hard.indices), torch.ones(B, dtype=torch.float64)


def closed_met(s: torch.Tensor, m: float = 0.45) -> tuple[torch.Tensor, ...]:
    d = torch.clamp_min(2 - 2 * s, 1e-4).sqrt()
    near = _off(d, math.inf).min(dim=1)
    gd = (near.values - d.diagonal() < m).to(torch.float64) / near.values
    return gd / B, _one_hot(near.indices), near.values / d.diagonal()


def closed_mat(s: torch.Tensor, m: float = 0.15) -> tuple[torch.Tensor, ...]:
    theta = torch.arccos(s)
    near = _off(theta, math.inf).min(dim=1)
    gd = (near.values - theta.diagonal() < m * math.pi).to(torch.float64) / torch.sin(near.values)
    return gd / B, _one_hot(near.indices), torch.sin(near.values) / torch.sin(theta.diagonal())


CLOSED = {"infonce": closed_infonce, "arccon": closed_arccon, "mpt": closed_mpt, "met": closed_met,
          "mat": closed_mat}


@pytest.mark.parametrize("name", sorted(CLOSED))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_autograd_gradient_is_the_paradigm_form(name: str, seed: int) -> None:
    h, hp = _views(seed)
    gd, w, r = CLOSED[name](h @ hp.T)
    expected = _paradigm(h, hp, gd, w, r)
    assert torch.allclose(_autograd(name, h, hp), expected, atol=TOL, rtol=0)


@pytest.mark.parametrize("name", sorted(CLOSED))
def test_measured_components_equal_the_closed_forms(name: str) -> None:
    h, hp = _views(3)
    gd, w, r = CLOSED[name](h @ hp.T)
    comp = gradient_components(build_loss(name), EmbeddingBatch(h, hp))
    assert torch.allclose(comp.gd, gd, atol=TOL, rtol=0)
    active = gd > 0
    assert torch.allclose(comp.weights[active, :B], w[active], atol=1e-7, rtol=0)
    assert torch.allclose(comp.weights[:, B:], torch.zeros(B, B, dtype=torch.float64), atol=1e-7)  # no same-view
    assert torch.allclose(comp.ratio[active], r[active], atol=1e-7, rtol=0)
    assert comp.residual.max() < 1e-8


def test_margin_losses_gate_some_anchors_in_this_fixture() -> None:
    """The fixture exercises both branches of the indicator (otherwise the tests above could not fail on it)."""
    for seed in (0, 1, 2):
        h, hp = _views(seed)
        s = h @ hp.T
        for closed in (closed_mpt, closed_met, closed_mat):
            assert 0 < int((closed(s)[0] > 0).sum()) < B, (seed, closed.__name__)


def test_arccon_without_margin_is_infonce() -> None:
    h, hp = _views(4)
    a = build_loss("arccon", margin_degrees=0.0)(batch=EmbeddingBatch(h, hp)).total
    b = build_loss("infonce")(batch=EmbeddingBatch(h, hp)).total
    assert torch.allclose(a, b, atol=1e-12)


# ---- the sg probe (§5.5) ----

def closed_sg(h: torch.Tensor, hp: torch.Tensor, m: float = 0.3, tau_w: float = 0.05, ratio: float = 1.0,
              power: int | None = None, gate: bool = True) -> tuple[torch.Tensor, ...]:
    """GD, W, R of the U→V direction, and the extra pull −R·h'_i/(n_v·B) that the V→U direction
    puts on an anchor through the live diagonal."""
    s = h @ hp.T
    if power is None:
        w = torch.softmax(_off(s / tau_w, -math.inf), dim=1)
    else:
        raw = _off(torch.ones_like(s) if power == 0 else s.clamp_min(1e-4) ** power, 0.0)
        w = raw / raw.sum(dim=1, keepdim=True)
    open_u = s.diagonal() - _off(s, -math.inf).max(dim=1).values < m if gate else torch.ones(B, dtype=torch.bool)
    open_v = s.diagonal() - _off(s, -math.inf).max(dim=0).values < m if gate else torch.ones(B, dtype=torch.bool)
    gd = open_u.to(torch.float64) / (max(int(open_u.sum()), 1) * B)
    extra = open_v.to(torch.float64) * ratio / (max(int(open_v.sum()), 1) * B)
    return gd, w, torch.full((B,), ratio, dtype=torch.float64), extra


SG_SETTINGS = [
    {},                                   # InfoNCE-like defaults
    {"margin": 1.0},                      # gd.sh
    {"weight_temperature": 0.003},        # w.sh
    {"ratio": 2.0},                       # r.sh
    {"power": 0}, {"power": 2},
    {"gate": False},
]


@pytest.mark.parametrize("kw", SG_SETTINGS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
def test_sg_gradient_is_the_prescribed_paradigm_form(kw: dict) -> None:
    h, hp = _views(5)
    ref = {{"margin": "m", "weight_temperature": "tau_w"}.get(k, k): v for k, v in kw.items()}
    gd, w, r, extra = closed_sg(h, hp, **ref)
    expected = _paradigm(h, hp, gd, w, r) - _tangent(h, extra[:, None] * hp)
    assert torch.allclose(_autograd("sg", h, hp, **kw), expected, atol=TOL, rtol=0)


def test_sg_fixture_has_open_and_closed_rows() -> None:
    h, hp = _views(5)
    gd = closed_sg(h, hp)[0]
    assert 0 < int((gd > 0).sum()) < B


def _components(**kw: object):
    h, hp = _views(5)
    return gradient_components(build_loss("sg", **kw), EmbeddingBatch(h, hp))


def test_sg_switches_change_only_their_component() -> None:
    base = _components()
    both = base.active & _components(margin=1.0).active
    # the gate: closed rows get no gradient; open rows keep W (GD changes only by the count)
    opened = _components(margin=1.0)
    assert opened.active.all() and not base.active.all()
    assert torch.allclose(base.weights[both], opened.weights[both], atol=1e-7)
    # the weight temperature changes W only
    sharp = _components(weight_temperature=0.003)
    assert torch.allclose(base.gd, sharp.gd, atol=TOL)
    assert not torch.allclose(base.weights[base.active], sharp.weights[base.active], atol=1e-3)
    assert torch.allclose(sharp.weights[base.active].max(dim=1).values, torch.ones(int(base.active.sum()),
                          dtype=torch.float64), atol=1e-3)  # ≈ the hardest negative only
    # the ratio changes R only (by the same factor on both of its sources)
    double = _components(ratio=2.0)
    assert torch.allclose(base.gd, double.gd, atol=TOL)
    assert torch.allclose(base.weights, double.weights, atol=1e-7)
    assert torch.allclose(double.ratio[base.active], 2 * base.ratio[base.active], atol=1e-7)


def test_diagnostics_wrapper_adds_stats_and_keeps_the_loss() -> None:
    h, hp = _views(0)
    inner = build_loss("mpt")
    wrapped = GradientDiagnostics(inner)
    leaf = h.clone().requires_grad_(True)
    out = wrapped(batch=EmbeddingBatch(leaf, hp))
    assert torch.equal(out.total, inner(batch=EmbeddingBatch(leaf, hp)).total)
    assert {"grad/gd_mean", "grad/gd_nonzero", "grad/w_entropy", "grad/w_max", "grad/r_mean",
            "grad/pos_cos", "grad/hardest_neg_cos", "grad/residual"} <= out.stats.keys()
    gd = closed_mpt(h @ hp.T)[0]
    assert out.stats["grad/gd_nonzero"].item() == pytest.approx((gd > 0).double().mean().item())
    assert out.stats["grad/w_max"].item() == pytest.approx(1.0)  # MPT: one-hot weights
    assert out.stats["grad/w_entropy"].item() == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():  # evaluation: no diagnostics
        assert "grad/gd_mean" not in wrapped(batch=EmbeddingBatch(h, hp)).stats


def test_summary_leaves_out_w_and_r_when_no_anchor_has_gradient() -> None:
    h, _ = _views(0)
    batch = EmbeddingBatch(h, h.clone())  # identical views: every MPT anchor is solved
    stats = summarize(gradient_components(build_loss("mpt", margin=0.1), batch), batch)
    assert stats["grad/gd_nonzero"].item() == 0.0
    assert "grad/w_max" not in stats and "grad/r_mean" not in stats


def test_infonce_with_hard_negatives_and_queue_is_measured_over_all_negatives() -> None:
    g = torch.Generator().manual_seed(7)
    wide = 32  # 21 candidates (6 positives, 6 hard negatives, 3 queued, 6 anchors) need > 21 dimensions
    h = F.normalize(torch.randn(B, wide, generator=g, dtype=torch.float64), dim=-1)
    hp, w_hard = (F.normalize(h + torch.randn(B, wide, generator=g, dtype=torch.float64), dim=-1) for _ in "ab")
    queue = F.normalize(torch.randn(3, wide, generator=g, dtype=torch.float64), dim=-1)
    batch = EmbeddingBatch(h, hp, hard_negative=w_hard, extra_negatives=queue)
    assert measurable(batch) and not measurable(EmbeddingBatch(h[:, :D], hp[:, :D], w_hard[:, :D], queue[:, :D]))
    comp = gradient_components(build_loss("infonce"), batch)
    logits = torch.cat([h @ hp.T, h @ w_hard.T, h @ queue.T], dim=1) / 0.05
    p = torch.softmax(logits, dim=1)
    pos = p[torch.arange(B), torch.arange(B)]
    assert torch.allclose(comp.gd, (1 - pos) / 0.05 / B, atol=TOL)
    expected_w = p.clone()
    expected_w[torch.arange(B), torch.arange(B)] = 0
    assert torch.allclose(comp.weights[:, : 2 * B + 3], expected_w / (1 - pos)[:, None], atol=1e-7)
    assert torch.allclose(comp.ratio, torch.ones(B, dtype=torch.float64), atol=1e-7)
