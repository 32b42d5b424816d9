"""InfoNCE: reference, closed forms, properties and equivalences (docs/design.md §2.7)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from sentemb.losses import InfoNCELoss
from sentemb.losses.base import EmbeddingBatch

B, D = 6, 10


def _rand(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    # drawn in float64 and cast, so that fp32 and fp64 batches hold the same numbers
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def _batch(hard: bool = False, queue: int | None = None,
           dtype: torch.dtype = torch.float64) -> EmbeddingBatch:
    return EmbeddingBatch(
        anchor=_rand(B, D, seed=1, dtype=dtype),
        positive=_rand(B, D, seed=2, dtype=dtype),
        hard_negative=_rand(B, D, seed=3, dtype=dtype) if hard else None,
        extra_negatives=_rand(queue, D, seed=4, dtype=dtype) if queue is not None else None,
    )


# --- (a) a reference written from the formula (docs/methods.md §1.2, §1.3, §3.3) -------------------------

def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def reference_infonce(batch: EmbeddingBatch, tau: float, b: float) -> float:
    """ℓ_i = −log e^{s(u_i,v_i)/τ} / (Σ_j e^{s(u_i,v_j)/τ} + Σ_k e^{s(u_i,w_k)/τ + b·1[k=i]}
    + Σ_q e^{s(u_i,q)/τ}), averaged over i; plain Python floats, explicit loops."""
    u, v = batch.anchor.tolist(), batch.positive.tolist()
    w = batch.hard_negative.tolist() if batch.hard_negative is not None else []
    q = batch.extra_negatives.tolist() if batch.extra_negatives is not None else []
    total = 0.0
    for i in range(len(u)):
        denominator = 0.0
        for j in range(len(v)):
            denominator += math.exp(_cos(u[i], v[j]) / tau)
        for k in range(len(w)):
            denominator += math.exp(_cos(u[i], w[k]) / tau + (b if k == i else 0.0))
        for entry in q:
            denominator += math.exp(_cos(u[i], entry) / tau)
        total += -math.log(math.exp(_cos(u[i], v[i]) / tau) / denominator)
    return total / len(u)


@pytest.mark.parametrize("tau", [0.05, 0.1, 1.0])
@pytest.mark.parametrize("hard,b", [(False, 0.0), (True, 0.0), (True, 1.0), (True, -2.0),
                                    (True, math.log(0.5))])
@pytest.mark.parametrize("queue", [None, 5])
def test_matches_reference(tau: float, hard: bool, b: float, queue: int | None) -> None:
    batch = _batch(hard=hard, queue=queue)
    out = InfoNCELoss(temperature=tau, hard_negative_weight=b)(batch=batch)
    assert out.total.item() == pytest.approx(reference_infonce(batch, tau, b), rel=1e-10, abs=1e-12)


# --- (b) closed forms ----------------------------------------------------------------------------------

def _orthogonal(n: int, dim: int, scale: float = 3.0) -> torch.Tensor:
    """n mutually orthogonal rows (scaled basis vectors, so the loss must normalise)."""
    return scale * torch.eye(dim, dtype=torch.float64)[:n]


@pytest.mark.parametrize("tau", [0.05, 0.5, 1.0])
@pytest.mark.parametrize("n", [2, 5])
def test_closed_form_identical_views_orthogonal_sentences(tau: float, n: int) -> None:
    x = _orthogonal(n, 8)
    out = InfoNCELoss(temperature=tau)(batch=EmbeddingBatch(anchor=x, positive=x.clone()))
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + (n - 1)))
    assert out.total.item() == pytest.approx(expected, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("tau", [0.05, 0.5])
@pytest.mark.parametrize("k", [1, 4])
def test_closed_form_orthogonal_queue_adds_k_terms(tau: float, k: int) -> None:
    n = 4
    basis = _orthogonal(n + k, n + k)
    x, queue = basis[:n], basis[n:]
    out = InfoNCELoss(temperature=tau)(batch=EmbeddingBatch(anchor=x, positive=x, extra_negatives=queue))
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + (n - 1) + k))
    assert out.total.item() == pytest.approx(expected, rel=1e-10, abs=1e-14)


def test_stats_identical_views_orthogonal_negatives() -> None:
    n = 4
    basis = _orthogonal(2 * n + 3, 2 * n + 3)
    x, hard, queue = basis[:n], basis[n:2 * n], basis[2 * n:]
    batch = EmbeddingBatch(anchor=x, positive=x.clone(), hard_negative=hard, extra_negatives=queue)
    stats = InfoNCELoss(hard_negative_weight=1.0)(batch=batch).stats
    assert stats["acc"].item() == 1.0
    assert stats["pos_cos"].item() == pytest.approx(1.0)
    assert stats["align"].item() == pytest.approx(0.0, abs=1e-12)
    assert stats["neg_cos"].item() == pytest.approx(0.0, abs=1e-12)
    assert stats["hard_neg_cos"].item() == pytest.approx(0.0, abs=1e-12)
    assert stats["queue_cos"].item() == pytest.approx(0.0, abs=1e-12)
    # orthonormal anchors: every pair at squared distance 2, so uniformity = −2·2
    assert stats["uniform"].item() == pytest.approx(-4.0)


def test_stats_keys_detached_and_acc_counts_hard_negatives() -> None:
    x = _orthogonal(3, 4)
    # each anchor's own hard negative is itself: it ties with the positive, and a logit b > 0 wins
    out = InfoNCELoss(hard_negative_weight=1.0)(batch=EmbeddingBatch(anchor=x, positive=x, hard_negative=x))
    assert set(out.stats) == {"loss", "pos_cos", "neg_cos", "acc", "align", "uniform", "hard_neg_cos"}
    assert out.stats["acc"].item() == 0.0
    assert all(v.ndim == 0 and not v.requires_grad for v in out.stats.values())


# --- (c) properties ------------------------------------------------------------------------------------

@pytest.mark.parametrize("hard,queue", [(False, None), (True, 3)])
def test_invariant_to_embedding_scale(hard: bool, queue: int | None) -> None:
    batch = _batch(hard=hard, queue=queue)
    loss = InfoNCELoss(hard_negative_weight=0.5 if hard else 0.0)
    scaled = EmbeddingBatch(
        anchor=batch.anchor * 7.0,
        positive=batch.positive * 0.01,
        hard_negative=batch.hard_negative * 3.0 if hard else None,
        extra_negatives=batch.extra_negatives * 100.0 if queue else None,
    )
    torch.testing.assert_close(loss(batch=scaled).total, loss(batch=batch).total, rtol=1e-12, atol=1e-12)


def test_gradients_finite_and_queue_receives_none() -> None:
    u, v, w = (_rand(B, D, seed=s).requires_grad_() for s in (1, 2, 3))
    queue = _rand(4, D, seed=4)
    out = InfoNCELoss(hard_negative_weight=1.0)(
        batch=EmbeddingBatch(anchor=u, positive=v, hard_negative=w, extra_negatives=queue))
    out.total.backward()
    for t in (u, v, w):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    assert queue.grad is None


def test_one_direction_not_symmetric() -> None:
    batch = _batch()
    loss = InfoNCELoss()
    swapped = EmbeddingBatch(anchor=batch.positive, positive=batch.anchor)
    assert abs(loss(batch=batch).total.item() - loss(batch=swapped).total.item()) > 1e-6


def test_mismatched_shapes_raise() -> None:
    with pytest.raises(ValueError, match="anchor"):
        EmbeddingBatch(anchor=_rand(B, D), positive=_rand(B + 1, D))
    with pytest.raises(ValueError, match="hard_negative"):
        EmbeddingBatch(anchor=_rand(B, D), positive=_rand(B, D), hard_negative=_rand(B, D + 1))
    with pytest.raises(ValueError, match="extra_negatives"):
        EmbeddingBatch(anchor=_rand(B, D), positive=_rand(B, D), extra_negatives=_rand(3, D - 1))


def test_batch_of_one_and_weight_without_hard_negatives_raise() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        InfoNCELoss()(batch=EmbeddingBatch(anchor=_rand(1, D), positive=_rand(1, D)))
    loss = InfoNCELoss(hard_negative_weight=1.0)
    assert loss.requires == {"hard_negative"} and InfoNCELoss.requires == frozenset()
    with pytest.raises(ValueError, match="needs hard negatives"):
        loss(batch=_batch())


@pytest.mark.parametrize("kwargs", [{"temperature": 0.0}, {"temperature": -1.0}, {"temperature": True},
                                    {"temperature": float("nan")}, {"hard_negative_weight": float("inf")}])
def test_bad_hyperparameters_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        InfoNCELoss(**kwargs)


# --- (d) equivalences ----------------------------------------------------------------------------------

def test_hard_negative_weight_zero_equals_hand_built_concatenation() -> None:
    batch = _batch(hard=True)
    u, v, w = (F.normalize(t, dim=-1) for t in (batch.anchor, batch.positive, batch.hard_negative))
    logits = torch.cat([u @ v.T, u @ w.T], dim=1) / 0.05  # (B, 2B)
    expected = F.cross_entropy(logits, torch.arange(B))
    torch.testing.assert_close(InfoNCELoss()(batch=batch).total, expected, rtol=1e-12, atol=1e-12)


def test_empty_queue_equals_no_queue() -> None:
    loss = InfoNCELoss(hard_negative_weight=0.3)
    with_empty = loss(batch=_batch(hard=True, queue=0))
    without = loss(batch=_batch(hard=True))
    torch.testing.assert_close(with_empty.total, without.total, rtol=0, atol=0)
    assert with_empty.stats.keys() == without.stats.keys()


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 10.0])
def test_hard_negative_logit_equals_alpha_weighted_denominator(alpha: float) -> None:
    tau, batch = 0.05, _batch(hard=True)
    u, v, w = (F.normalize(t, dim=-1) for t in (batch.anchor, batch.positive, batch.hard_negative))
    e_pos, e_hard = torch.exp(u @ v.T / tau), torch.exp(u @ w.T / tau)  # (B, B) each
    own = torch.eye(B, dtype=torch.float64)
    # paper Eq. 8: the anchor's own hard negative counts α times, every other one once
    denominator = e_pos.sum(1) + (e_hard * (1 - own)).sum(1) + alpha * e_hard.diagonal()
    expected = -torch.log(e_pos.diagonal() / denominator).mean()
    got = InfoNCELoss(temperature=tau, hard_negative_weight=math.log(alpha))(batch=batch).total
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("hard,queue", [(False, None), (True, None), (True, 4)])
def test_float32_matches_float64(hard: bool, queue: int | None) -> None:
    loss = InfoNCELoss(hard_negative_weight=0.7 if hard else 0.0)
    lo = loss(batch=_batch(hard=hard, queue=queue, dtype=torch.float32))
    hi = loss(batch=_batch(hard=hard, queue=queue, dtype=torch.float64))
    assert lo.total.dtype == torch.float32
    assert lo.total.item() == pytest.approx(hi.total.item(), abs=1e-5)


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("tau", [0.05, 0.2])
def test_equals_sentence_transformers_mnrl(hard: bool, tau: float) -> None:
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    try:  # v6 moved the losses; older versions only have the top-level path
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:
        from sentence_transformers.losses import MultipleNegativesRankingLoss
    mnrl = MultipleNegativesRankingLoss(model=torch.nn.Identity(), scale=1 / tau)
    if not hasattr(mnrl, "compute_loss_from_embeddings"):
        pytest.skip("this sentence-transformers has no compute_loss_from_embeddings")
    batch = _batch(hard=hard)
    columns = [batch.anchor, batch.positive] + ([batch.hard_negative] if hard else [])
    expected = mnrl.compute_loss_from_embeddings(columns, labels=None)
    got = InfoNCELoss(temperature=tau)(batch=batch).total
    torch.testing.assert_close(got, expected.to(got.dtype), rtol=1e-6, atol=1e-8)
