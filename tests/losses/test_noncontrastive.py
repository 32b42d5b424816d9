"""MHE, MHS, VICReg, Barlow Twins (methods.md §5.6): closed forms, the three modifiers, arguments.

Everything runs in float64 on unit-norm random rows. The losses normalise their inputs, so the
gradient with respect to an input row x is the gradient with respect to the normalised row with
its radial part removed, (I − x xᵀ)·g: references are compared after that projection.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from sentemb.errors import ConfigError
from sentemb.losses import LOSSES, build_loss
from sentemb.losses.barlow_twins import BarlowTwinsLoss
from sentemb.losses.base import EmbeddingBatch
from sentemb.losses.mhe import MHELoss
from sentemb.losses.mhs import MHSLoss
from sentemb.losses.modifiers import offdiag_exp_weights, push_term
from sentemb.losses.vicreg import VICRegLoss

N, D = 6, 8
CLASSES = {"mhe": MHELoss, "mhs": MHSLoss, "vicreg": VICRegLoss, "barlow_twins": BarlowTwinsLoss}
TOL = {"rel": 1e-10, "abs": 1e-12}
Pair = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # a reference loss of (u, v)


def _views(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit rows U and V = normalise(U + noise): correlated views, as dropout views are."""
    g = torch.Generator().manual_seed(seed)
    u = F.normalize(torch.randn(N, D, generator=g, dtype=torch.float64), dim=1)
    v = F.normalize(u + 0.6 * torch.randn(N, D, generator=g, dtype=torch.float64), dim=1)
    return u, v


def _run(loss: torch.nn.Module, u: torch.Tensor, v: torch.Tensor, detach_u: torch.Tensor | None = None,
         detach_v: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor,
                                                        torch.Tensor]:
    """Loss value, stats and the gradients w.r.t. leaf copies of u, v; rows where ``detach_*`` is
    True are fed as detached copies (the by-hand version of the w_gd gate)."""
    a, p = u.clone().requires_grad_(), v.clone().requires_grad_()
    a_in = a if detach_u is None else torch.where(detach_u[:, None], a.detach(), a)
    p_in = p if detach_v is None else torch.where(detach_v[:, None], p.detach(), p)
    out = loss(batch=EmbeddingBatch(anchor=a_in, positive=p_in))
    ga, gp = torch.autograd.grad(out.total, (a, p), allow_unused=True)
    ga = torch.zeros_like(a) if ga is None else ga
    gp = torch.zeros_like(p) if gp is None else gp
    return out.total.detach(), out.stats, ga, gp


def _reference_grads(fn: Pair, u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Value of fn(u, v) and its gradients, projected onto the tangent space of each unit row."""
    a, p = u.clone().requires_grad_(), v.clone().requires_grad_()
    value = fn(a, p)
    ga, gp = torch.autograd.grad(value, (a, p))
    return value.detach(), _tangent(ga, u), _tangent(gp, v)


def _tangent(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return g - (g * x).sum(dim=1, keepdim=True) * x


def _close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-10) -> bool:
    return torch.allclose(a, b, rtol=1e-9, atol=atol)


# --- (1) the original objectives against their closed forms (methods.md §5.6), written here from
#     the formulas with explicit loops -------------------------------------------------------------

def _lse(values: list[torch.Tensor]) -> torch.Tensor:
    return torch.logsumexp(torch.stack(values), dim=0)


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


# --- (2) w_gd: the same-view gate ---------------------------------------------------------------------

def _gap(x: torch.Tensor) -> torch.Tensor:
    """1 − max_{j≠i} x_i·x_j for each row, by loops."""
    n = len(x)
    return torch.tensor([1 - max(float(x[i] @ x[j]) for j in range(n) if j != i) for i in range(n)])


def _split_margin(u: torch.Tensor, v: torch.Tensor) -> float:
    """A margin that leaves about half the rows of the two views active."""
    gaps = sorted(torch.cat([_gap(u), _gap(v)]).tolist())
    k = len(gaps) // 2
    return (gaps[k - 1] + gaps[k]) / 2


def _flag_sets(name: str) -> list[dict[str, bool]]:
    ws = [False] if name == "mhs" else [False, True]
    return [{"w_w": w, "w_r": r} for w, r in itertools.product(ws, [False, True])]


def _hyper(name: str) -> dict[str, float]:
    extra = {} if name == "mhs" else {"weight_temperature": 0.2}
    return {"lambd": 2.0, "ratio": 1.5, **extra}


GD_CASES = [pytest.param(name, flags, id=f"{name}-{'+'.join(k for k, on in flags.items() if on) or 'ori'}")
            for name in CLASSES for flags in _flag_sets(name)]


@pytest.mark.parametrize("name,flags", GD_CASES)
def test_gate_detaches_exactly_the_failing_rows(name: str, flags: dict[str, bool]) -> None:
    u, v = _views(seed=3)
    margin = _split_margin(u, v)
    active_u, active_v = _gap(u) < margin, _gap(v) < margin
    assert 0 < int(active_u.sum() + active_v.sum()) < 2 * N, "the test needs a mixed gate"
    cls, hyper = CLASSES[name], _hyper(name)

    value, stats, ga, gp = _run(cls(w_gd=True, margin=margin, **flags, **hyper), u, v)
    ref_value, ref_stats, ra, rp = _run(cls(w_gd=False, **flags, **hyper), u, v, ~active_u, ~active_v)

    assert torch.all(ga[~active_u] == 0) and torch.all(gp[~active_v] == 0)
    assert ga[active_u].abs().max() > 0 or gp[active_v].abs().max() > 0
    assert _close(ga, ra, atol=1e-12) and _close(gp, rp, atol=1e-12)
    # the gate changes gradients, never values
    assert value.item() == pytest.approx(ref_value.item(), **TOL)
    for key in ref_stats.keys() - {"gd_active"}:
        assert stats[key].item() == pytest.approx(ref_stats[key].item(), **TOL), key
    expected = (active_u.double().mean() + active_v.double().mean()) / 2
    assert stats["gd_active"].item() == pytest.approx(expected.item())
    assert ref_stats["gd_active"].item() == 1.0


@pytest.mark.parametrize("name,flags", GD_CASES)
def test_open_gate_changes_nothing(name: str, flags: dict[str, bool]) -> None:
    u, v = _views(seed=4)
    cls, hyper = CLASSES[name], _hyper(name)
    value, stats, ga, gp = _run(cls(w_gd=True, margin=2.5, **flags, **hyper), u, v)
    ref_value, _, ra, rp = _run(cls(w_gd=False, **flags, **hyper), u, v)
    assert torch.equal(value, ref_value) and torch.equal(ga, ra) and torch.equal(gp, rp)
    assert stats["gd_active"].item() == 1.0


def test_closed_gate_stops_all_gradient() -> None:
    u, v = _views(seed=5)
    margin = 0.9 * float(torch.cat([_gap(u), _gap(v)]).min())
    for cls in CLASSES.values():
        _, stats, ga, gp = _run(cls(w_gd=True, margin=margin), u, v)
        assert torch.all(ga == 0) and torch.all(gp == 0) and stats["gd_active"].item() == 0.0


# --- (3) w_r: only the positive (alignment) term changes -------------------------------------------

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


# --- (4) w_w: only the push weights change ----------------------------------------------------------

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
    with W the softmax over same-view neighbours at τ_w (methods.md §5.4)."""
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


# --- (5) arguments, batch, registry -----------------------------------------------------------------

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
