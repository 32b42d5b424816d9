"""The pair-scoring losses of docs/methods.md §4.2-4.3 against references written from the formulas.

References are plain loops over float64 entries (no shared code with the losses): the BSC row
and column log-softmax terms, label masking over the full batch size, both reductions, each
normalisation, the combo weights, cosine MSE and the batch-hard triplet hinge.
"""

from __future__ import annotations

import math

import pytest
import torch

from sentemb.errors import ConfigError
from sentemb.losses import build_loss
from sentemb.losses.base import EmbeddingBatch

M, D = 6, 5


def _data(seed: int = 0, m: int = M) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(m, D, generator=g, dtype=torch.float64),
            torch.randn(m, D, generator=g, dtype=torch.float64))


def _normed(x: torch.Tensor, norm: str) -> list[list[float]]:
    rows = x.tolist()
    if norm == "l2_row":
        return [[v / math.sqrt(sum(w * w for w in r)) for v in r] for r in rows]
    if norm == "coord_range":  # divide by max - min over the batch, no centring (§4.3)
        spread = [max(r[k] for r in rows) - min(r[k] for r in rows) for k in range(len(rows[0]))]
        return [[v / spread[k] for k, v in enumerate(r)] for r in rows]
    return rows


def reference_bsc(q: torch.Tensor, a: torch.Tensor, labels: list[float], tau: float, norm: str = "l2_row",
                  symmetric: bool = True, reduction: str = "mean", threshold: float = 0.5, op: str = ">") -> float:
    """−(1/m) Σ b_i log softmax_row(M)_ii − (1/m) Σ b_i log softmax_row(Mᵀ)_ii, M = QAᵀ/τ."""
    qn, an = _normed(q, norm), _normed(a, norm)
    m = len(qn)
    mat = [[sum(x * y for x, y in zip(qn[i], an[j])) / tau for j in range(m)] for i in range(m)]
    b = [1.0 if (y >= threshold if op == ">=" else y > threshold) else 0.0 for y in labels]
    row = sum(b[i] * (mat[i][i] - math.log(sum(math.exp(mat[i][j]) for j in range(m)))) for i in range(m))
    col = sum(b[i] * (mat[i][i] - math.log(sum(math.exp(mat[j][i]) for j in range(m)))) for i in range(m))
    if not symmetric:
        return -row / m
    total = -(row + col) / m
    return total / 2 if reduction == "mean" else total


def _loss(name: str, q: torch.Tensor, a: torch.Tensor, labels: list[float] | None = None, **kw: object) -> float:
    y = None if labels is None else torch.tensor(labels, dtype=torch.float64)
    return build_loss(name, **kw)(batch=EmbeddingBatch(q, a, labels=y)).total.item()


LABELS = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("norm,tau", [("l2_row", 0.1), ("coord_range", 1.2), ("none", 3.0)])
@pytest.mark.parametrize("symmetric,reduction", [(True, "mean"), (True, "sum"), (False, "mean")])
def test_bsc_matches_formula(norm: str, tau: float, symmetric: bool, reduction: str) -> None:
    q, a = _data()
    got = _loss("bsc", q, a, LABELS, temperature=tau, norm=norm, symmetric=symmetric, direction_reduction=reduction)
    assert got == pytest.approx(reference_bsc(q, a, LABELS, tau, norm, symmetric, reduction), rel=1e-10)


def test_sum_is_twice_mean_and_second_direction_counts() -> None:
    q, a = _data(1)
    mean = _loss("bsc", q, a, LABELS, direction_reduction="mean")
    assert _loss("bsc", q, a, LABELS, direction_reduction="sum") == pytest.approx(2 * mean, rel=1e-12)
    one_way = _loss("bsc", q, a, LABELS, symmetric=False)
    other_way = _loss("bsc", a, q, LABELS, symmetric=False)  # A→Q is Q→A with the sides swapped
    assert mean == pytest.approx((one_way + other_way) / 2, rel=1e-12)
    assert one_way != pytest.approx(other_way)


def test_labelled_negatives_are_zeroed_but_divide_by_full_batch() -> None:
    q, a = _data(2)
    got = _loss("bsc", q, a, LABELS, symmetric=False)
    per_row = [-reference_bsc(q, a, [1.0 if k == i else 0.0 for k in range(M)], 0.1, symmetric=False) * M
               for i in range(M)]  # ℓ_i of each row alone, undoing the 1/m
    positives = [i for i, y in enumerate(LABELS) if y]
    assert got == pytest.approx(-sum(per_row[i] for i in positives) / M, rel=1e-10)  # / 6, not / 4
    assert got != pytest.approx(-sum(per_row[i] for i in positives) / len(positives))


def test_labelled_negatives_stay_in_the_denominators() -> None:
    """Kept negatives are hard negatives: dropping them from the batch changes the loss."""
    q, a = _data(3)
    kept = _loss("bsc", q, a, LABELS, use_labeled_negatives=True)
    dropped = _loss("bsc", q, a, LABELS, use_labeled_negatives=False)
    idx = [i for i, y in enumerate(LABELS) if y]
    sub = reference_bsc(q[idx], a[idx], [1.0] * len(idx), 0.1)  # plain BSC on the positives only
    assert dropped == pytest.approx(sub, rel=1e-10)
    assert kept != pytest.approx(dropped)


def test_rewritten_form_of_one_direction() -> None:
    """§4.2: L0 = −(1/(mτ)) Σ q_iᵀa_i + (1/m) Σ_i log Σ_j exp(q_iᵀa_j/τ), with unit rows."""
    q, a = _data(4)
    qn, an = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(a, dim=1)
    tau = 0.07
    closed = -(qn * an).sum() / (M * tau) + torch.logsumexp(qn @ an.T / tau, dim=1).mean()
    assert _loss("bsc", q, a, None, temperature=tau, symmetric=False) == pytest.approx(closed.item(), rel=1e-12)


def test_one_directional_all_positive_equals_infonce() -> None:
    q, a = _data(5)
    assert _loss("bsc", q, a, None, temperature=0.05, symmetric=False) == pytest.approx(
        _loss("infonce", q, a, None, temperature=0.05), rel=1e-12)


@pytest.mark.parametrize("op,expected", [(">=", 1.0), (">", 0.0)])
def test_binarisation_operator_at_the_threshold(op: str, expected: float) -> None:
    q, a = _data(6, m=3)
    labels = [0.5, 1.0, 0.2]
    got = _loss("bsc", q, a, labels, binarize_op=op, binarize_threshold=0.5)
    assert got == pytest.approx(reference_bsc(q, a, [expected, 1.0, 0.0], 0.1), rel=1e-10)
    assert _loss("bsc", q, a, [0.7, 0.7, 0.7], binarize_threshold=0.6) == pytest.approx(
        reference_bsc(q, a, [1.0] * 3, 0.1), rel=1e-10)  # the paper's STS-B threshold


def test_normalisations_behave_as_documented() -> None:
    q, a = _data(7)
    shift = torch.full((D,), 3.0, dtype=torch.float64)
    # l2_row: invariant to scaling a row; none: not invariant to scale
    assert _loss("bsc", q * 5, a, None) == pytest.approx(_loss("bsc", q, a, None), rel=1e-12)
    assert _loss("bsc", q * 5, a, None, norm="none", temperature=1.0) != pytest.approx(
        _loss("bsc", q, a, None, norm="none", temperature=1.0))
    # coord_range: invariant to a global scale, but not to a shift (no centring)
    assert _loss("bsc", q * 5, a, None, norm="coord_range") == pytest.approx(
        _loss("bsc", q, a, None, norm="coord_range"), rel=1e-12)
    assert _loss("bsc", q + shift, a, None, norm="coord_range") != pytest.approx(
        _loss("bsc", q, a, None, norm="coord_range"))


def test_trainable_temperature_is_a_parameter_with_gradient() -> None:
    q, a = _data(8)
    y = torch.tensor(LABELS, dtype=torch.float64)
    loss = build_loss("bsc", temperature=0.5, tau_trainable=True).double()
    params = dict(loss.named_parameters())
    assert list(params) == ["inv_temperature"] and params["inv_temperature"].item() == 2.0  # α = 1/τ
    assert list(build_loss("bsc").parameters()) == []  # fixed τ: nothing to train
    qq, aa = q.clone().requires_grad_(), a.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, z: loss(batch=EmbeddingBatch(x, z, labels=y)).total, (qq, aa))
    (grad,) = torch.autograd.grad(loss(batch=EmbeddingBatch(q, a, labels=y)).total, [loss.inv_temperature])
    eps = 1e-6  # dL/dα against a central difference of fixed-τ losses at α ± eps
    numeric = (_loss("bsc", q, a, LABELS, temperature=1 / (2 + eps))
               - _loss("bsc", q, a, LABELS, temperature=1 / (2 - eps))) / (2 * eps)
    assert grad.item() == pytest.approx(numeric, rel=1e-6)


def reference_mse(q: torch.Tensor, a: torch.Tensor, labels: list[float]) -> float:
    qn, an = _normed(q, "l2_row"), _normed(a, "l2_row")
    return sum((sum(x * y for x, y in zip(qn[i], an[i])) - labels[i]) ** 2 for i in range(len(qn))) / len(qn)


GRADED = [0.9, 0.1, 0.55, 0.6, 0.0, 1.0]


def test_cosine_mse_matches_formula_and_needs_labels() -> None:
    q, a = _data(9)
    assert _loss("cosine_mse", q, a, GRADED) == pytest.approx(reference_mse(q, a, GRADED), rel=1e-12)
    with pytest.raises(ValueError, match="labels"):
        _loss("cosine_mse", q, a, None)


@pytest.mark.parametrize("mu", [0.0, 0.1, 0.9, 1.0])
def test_combo_weights(mu: float) -> None:
    q, a = _data(10)
    got = _loss("combo", q, a, GRADED, mu=mu, temperature=0.1, binarize_threshold=0.6, binarize_op=">")
    expected = (mu * reference_bsc(q, a, GRADED, 0.1, threshold=0.6)
                + (1 - mu) * reference_mse(q, a, GRADED))  # BSC binarised at > 0.6, MSE on the graded labels
    assert got == pytest.approx(expected, rel=1e-10)
    # by default as the official ComboBSCLoss: labels >= 0.5 (0.55 and 0.6 are positives either way)
    official = mu * reference_bsc(q, a, GRADED, 0.1, threshold=0.5, op=">=") + (1 - mu) * reference_mse(q, a, GRADED)
    assert _loss("combo", q, a, GRADED, mu=mu, temperature=0.1) == pytest.approx(official, rel=1e-10)


def test_combo_rejects_bad_mu_and_unknown_bsc_argument() -> None:
    with pytest.raises(ConfigError, match="mu must lie in"):
        build_loss("combo", mu=1.5)
    with pytest.raises(ConfigError, match="temprature"):
        build_loss("combo", temprature=0.1)


def reference_triplet(q: torch.Tensor, a: torch.Tensor, labels: list[float], margin: float) -> float:
    qn, an = _normed(q, "l2_row"), _normed(a, "l2_row")
    m = len(qn)

    def dist(i: int, j: int) -> float:
        return 1 - sum(x * y for x, y in zip(qn[i], an[j]))

    hinges = [max(0.0, dist(i, i) - min(dist(i, j) for j in range(m) if j != i) + margin)
              for i in range(m) if labels[i] >= 0.5]
    return sum(hinges) / len(hinges) if hinges else 0.0


def test_triplet_batch_hard_matches_its_formula() -> None:
    q, a = _data(11)
    for margin in (0.1, 0.5, 2.0):
        assert _loss("triplet_batch_hard", q, a, LABELS, margin=margin) == pytest.approx(
            reference_triplet(q, a, LABELS, margin), rel=1e-10)
    assert _loss("triplet_batch_hard", q, a, [0.0] * M) == 0.0  # no positive pair: nothing to pull


def reference_official_triplet(q: torch.Tensor, p: torch.Tensor, n: torch.Tensor, margin: float) -> float:
    """sentence-transformers' TripletLoss (v0.3-v4.1, Euclidean): mean max(0, |a-p| - |a-n| + m), with
    torch's ``pairwise_distance`` (1e-6 added to every coordinate difference) as the distance."""
    def dist(x: list[float], y: list[float]) -> float:
        return math.sqrt(sum((u - v + 1e-6) ** 2 for u, v in zip(x, y)))

    rows = [(q[i].tolist(), p[i].tolist(), n[i].tolist()) for i in range(len(q))]
    return sum(max(0.0, dist(a, b) - dist(a, c) + margin) for a, b, c in rows) / len(rows)


def test_official_triplet_is_euclidean_on_explicit_triplets() -> None:
    q, a = _data(12)
    neg, _ = _data(13)
    for margin in (0.5, 0.6, 5.0):
        out = build_loss("triplet", margin=margin)(batch=EmbeddingBatch(q, a, hard_negative=neg))
        assert out.total.item() == pytest.approx(reference_official_triplet(q, a, neg, margin), rel=1e-12)
    loss = build_loss("triplet", binarize_threshold=0.6)
    assert [loss.is_positive(y) for y in (0.6, 0.61, 1.0)] == [False, True, True]  # label > t, as the official reader
    with pytest.raises(ValueError, match="explicit negatives"):
        loss(batch=EmbeddingBatch(q, a))


@pytest.mark.parametrize("kw,match", [
    ({"temperature": 0.0}, "temperature"), ({"norm": "l2"}, "norm"), ({"binarize_op": "=>"}, "binarize_op"),
    ({"binarize_threshold": 2.0}, "binarize_threshold"), ({"direction_reduction": "avg"}, "direction_reduction"),
    ({"symmetric": 1}, "symmetric"),
])
def test_bad_arguments_name_the_parameter(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_loss("bsc", **kw)


def test_hardness_stats() -> None:
    eye = torch.eye(4, dtype=torch.float64)
    out = build_loss("bsc")(batch=EmbeddingBatch(eye, eye, labels=torch.tensor([1.0, 0.0, 0.0, 1.0])))
    assert out.stats["neg_cos"].item() == 0.0 and out.stats["neg_cos_max"].item() == 0.0
    assert out.stats["pos_cos"].item() == pytest.approx(1.0)
    assert out.stats["labelled_negatives"].item() == 2.0
    assert out.stats["tau"].item() == pytest.approx(0.1)
