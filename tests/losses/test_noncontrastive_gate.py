"""MHE, MHS, VICReg, Barlow Twins (docs/methods.md §5.6): w_gd, the same-view gate."""

from __future__ import annotations

import pytest
import torch
from noncontrastive_helpers import (
    CLASSES,
    GD_CASES,
    TOL,
    N,
    _close,
    _hyper,
    _run,
    _views,
)


def _gap(x: torch.Tensor) -> torch.Tensor:
    """1 − max_{j≠i} x_i·x_j for each row, by loops."""
    n = len(x)
    return torch.tensor([1 - max(float(x[i] @ x[j]) for j in range(n) if j != i) for i in range(n)])


def _split_margin(u: torch.Tensor, v: torch.Tensor) -> float:
    """A margin that leaves about half the rows of the two views active."""
    gaps = sorted(torch.cat([_gap(u), _gap(v)]).tolist())
    k = len(gaps) // 2
    return (gaps[k - 1] + gaps[k]) / 2


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
