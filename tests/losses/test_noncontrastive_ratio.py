"""MHE, MHS, VICReg, Barlow Twins (docs/methods.md §5.6): w_r, only the positive (alignment) term
changes."""

from __future__ import annotations

import math

import pytest
import torch
from noncontrastive_helpers import (
    CLASSES,
    GD_CASES,
    TOL,
    D,
    N,
    Pair,
    _close,
    _hyper,
    _lse,
    _reference_grads,
    _run,
    _views,
)

from sentemb.losses.mhs import MHSLoss


def _plain_align(name: str, flags: dict[str, bool], hyper: dict[str, float]) -> Pair:
    """The alignment term of the objective *without* w_r (same λ and w_w), from the formulas."""
    lam, tau = hyper["lambd"], hyper.get("weight_temperature", 1.0)

    def mhe(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        a = [2 - 2 * u[i] @ v[i] for i in range(N)]
        if not flags["w_w"]:
            return sum(a) / N
        total = 0.0
        for x in (u, v):
            s = (x @ x.T).detach() / tau
            e = _lse([s[i, j] for i in range(N) for j in range(i)])
            omega = [torch.exp(_lse([s[i, j] for j in range(N) if j != i]) - e) / tau for i in range(N)]
            total = total + sum(a[i] * omega[i] for i in range(N)) / 2
        return total

    def mhs(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return sum(2 - 2 * u[i] @ v[i] for i in range(N)) / N

    def vicreg(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return -2 / N * ((u * v.detach()).sum() + (v * u.detach()).sum())

    def barlow(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for x, y in ((u, v), (v, u)):
            c = x.detach().T @ y.detach() / N
            coef = [(1 - (1 - lam) * c[k, k]) * 2 / N for k in range(D)]
            total = total - sum(coef[k] * x[i, k] * y[i, k].detach() for i in range(N) for k in range(D))
        return total

    return {"mhe": mhe, "mhs": mhs, "vicreg": vicreg, "barlow_twins": barlow}[name]


def _unit_pull(name: str, flags: dict[str, bool], hyper: dict[str, float]) -> Pair:
    """The w_r positive term at R = 1, from the formulas (both views live unless stated)."""
    lam, tau = hyper["lambd"], hyper.get("weight_temperature", 1.0)

    def weights(gram: torch.Tensor) -> torch.Tensor:
        gram = gram.detach()
        if not flags["w_w"]:
            return gram * 2 / N**2
        e = torch.exp(gram / tau)
        return e / (e.sum() - e.diagonal().sum())

    def mhs(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for i in range(N):
            a = 2 - 2 * u[i] @ v[i]
            # sg(n0_i), sg(n1_i): plain floats
            n0 = min(float(((u[i] - v[j]).detach() ** 2).sum() + 1e-4) ** 0.5 for j in range(N) if j != i)
            n1 = min(float(((v[i] - u[j]).detach() ** 2).sum() + 1e-4) ** 0.5 for j in range(N) if j != i)
            total = total + (a / n0 / 2 + a / n1 / 2) / N
        return total

    def sample_space(own_view: bool) -> Pair:
        def pull(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            total = 0.0
            for x, y in ((u, v), (v, u)):
                omega = weights(x @ x.T if own_view else y @ y.T)
                mass = omega.sum(dim=1) - omega.diagonal()
                total = total + lam * sum(mass[i] * -(x[i] @ y[i]) for i in range(N))
            return total
        return pull

    return {"mhe": _plain_align("mhe", flags, hyper), "mhs": mhs, "vicreg": sample_space(True),
            "barlow_twins": sample_space(False)}[name]


@pytest.mark.parametrize("name,flags", [c for c in GD_CASES if c.values[1]["w_r"]])
def test_ratio_scales_only_the_pull(name: str, flags: dict[str, bool]) -> None:
    u, v = _views(seed=6)
    cls, hyper = CLASSES[name], {k: x for k, x in _hyper(name).items() if k != "ratio"}
    r1, r2, r3 = 0.5, 1.5, 4.0
    runs = {r: _run(cls(**flags, ratio=r, **hyper), u, v) for r in (r1, r2, r3)}
    # the gradient is affine in R: one term carries all of R ...
    slope_a = (runs[r2][2] - runs[r1][2]) / (r2 - r1)
    slope_p = (runs[r2][3] - runs[r1][3]) / (r2 - r1)
    assert _close(runs[r3][2], runs[r1][2] + (r3 - r1) * slope_a)
    assert _close(runs[r3][3], runs[r1][3] + (r3 - r1) * slope_p)
    assert slope_a.abs().max() > 1e-3
    # ... whose gradient per unit of R is that of the pull written from the formula ...
    _, ua, up = _reference_grads(_unit_pull(name, flags, hyper), u, v)
    assert _close(slope_a, ua) and _close(slope_p, up)
    # ... and what does not scale with R is the push of the loss without w_r
    push_a, push_p = runs[r1][2] - r1 * slope_a, runs[r1][3] - r1 * slope_p
    plain = {**flags, "w_r": False}
    _, plain_stats, ga, gp = _run(cls(**plain, **hyper), u, v)
    _, ra, rp = _reference_grads(_plain_align(name, plain, _hyper(name)), u, v)
    assert _close(push_a, ga - ra) and _close(push_p, gp - rp)
    # the values: the uniformity term is untouched, the alignment term moves
    for r in (r1, r2, r3):
        assert runs[r][1]["uniform_term"].item() == pytest.approx(plain_stats["uniform_term"].item(), **TOL)
    assert runs[r2][1]["align_term"].item() != pytest.approx(runs[r1][1]["align_term"].item())


def test_plain_alignment_references_match_the_losses() -> None:
    """Guards the references above: the flag-off alignment term of each loss, in value."""
    u, v = _views(seed=6)
    for name, flags in [(c.values[0], c.values[1]) for c in GD_CASES if not c.values[1]["w_r"]]:
        hyper = _hyper(name)
        _, stats, _, _ = _run(CLASSES[name](**flags, **hyper), u, v)
        ref = _plain_align(name, flags, hyper)(u, v)
        assert stats["align_term"].item() == pytest.approx(ref.item(), **TOL), name


def test_mhs_ratio_divides_by_the_nearest_negative() -> None:
    u, v = _views(seed=7)
    r = 1.75
    _, stats, _, _ = _run(MHSLoss(w_r=True, ratio=r), u, v)

    def nearest(x: torch.Tensor, y: torch.Tensor, i: int) -> float:
        return min(math.sqrt(float(((x[i] - y[j]) ** 2).sum()) + 1e-4) for j in range(N) if j != i)

    a = [2 - 2 * float(u[i] @ v[i]) for i in range(N)]
    ref = sum(a[i] * r / nearest(u, v, i) / 2 + a[i] * r / nearest(v, u, i) / 2 for i in range(N)) / N
    assert stats["align_term"].item() == pytest.approx(ref, **TOL)
