"""Shared helpers for the MHE, MHS, VICReg and Barlow Twins tests (tests/losses/test_noncontrastive_*.py).

Everything runs in float64 on unit-norm random rows. The losses normalise their inputs, so the
gradient with respect to an input row x is the gradient with respect to the normalised row with
its radial part removed, (I − x xᵀ)·g: references are compared after that projection.

pytest puts this directory on ``sys.path`` (rootdir-relative "prepend" imports, no
``__init__.py``), so the test modules import it as ``noncontrastive_helpers``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from sentemb.losses.barlow_twins import BarlowTwinsLoss
from sentemb.losses.base import EmbeddingBatch
from sentemb.losses.mhe import MHELoss
from sentemb.losses.mhs import MHSLoss
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


def _lse(values: list[torch.Tensor]) -> torch.Tensor:
    return torch.logsumexp(torch.stack(values), dim=0)


def _flag_sets(name: str) -> list[dict[str, bool]]:
    ws = [False] if name == "mhs" else [False, True]
    return [{"w_w": w, "w_r": r} for w, r in itertools.product(ws, [False, True])]


def _hyper(name: str) -> dict[str, float]:
    extra = {} if name == "mhs" else {"weight_temperature": 0.2}
    return {"lambd": 2.0, "ratio": 1.5, **extra}


GD_CASES = [pytest.param(name, flags, id=f"{name}-{'+'.join(k for k, on in flags.items() if on) or 'ori'}")
            for name in CLASSES for flags in _flag_sets(name)]
