"""Each geometry metric of docs/methods.md §6.1 and §7.1 on hand-made vectors with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sentemb.analysis import geometry as g


def test_mean_pairwise_cosine_identical_orthogonal_and_explicit() -> None:
    assert g.mean_pairwise_cosine(np.ones((5, 3))) == pytest.approx(1.0)
    assert g.mean_pairwise_cosine(np.eye(4)) == pytest.approx(0.0)
    x = np.random.default_rng(0).normal(size=(6, 4))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    explicit = np.mean([u[a] @ u[b] for a in range(6) for b in range(6) if a != b])
    assert g.mean_pairwise_cosine(x) == pytest.approx(explicit, rel=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        g.mean_pairwise_cosine(np.ones((1, 3)))


def test_anisotropy_baseline_uses_one_token_per_sentence() -> None:
    # every token of sentence i is e_i: one pick per sentence -> orthogonal picks -> 0
    layer = [np.tile(np.eye(5)[i], (i + 2, 1)) for i in range(5)]
    assert g.anisotropy_baseline(layer, np.random.default_rng(0)) == pytest.approx(0.0)
    same = [np.ones((3, 4)) for _ in range(5)]
    assert g.anisotropy_baseline(same, np.random.default_rng(0), samples=3) == pytest.approx(1.0)


def test_self_similarity_first_occurrence_and_min_count() -> None:
    # token 7 occurs in 3 sentences with identical vectors -> 1; token 9 orthogonal across
    # sentences -> 0; token 5 occurs twice only -> dropped by min_count=3
    e = np.eye(4)
    layer = [np.stack([e[0], e[1], e[3]]), np.stack([e[0], e[2], e[3]]), np.stack([e[0], e[3], e[3]])]
    ids = [np.array([7, 9, 5]), np.array([7, 9, 5]), np.array([7, 9, 9])]
    occ = g.type_occurrences(layer, ids, min_count=3)
    assert set(occ) == {7, 9}
    assert len(occ[9]) == 3  # the first of the two 9s in sentence 3
    assert g.self_similarity(occ, {7}) == pytest.approx(1.0)
    assert g.self_similarity(occ, {9}) == pytest.approx(0.0)
    assert g.self_similarity(occ) == pytest.approx(0.5)  # unweighted mean over types
    assert g.self_similarity(occ, {42}) is None
    assert len(g.type_occurrences(layer, ids, min_count=3, occurrence="all")[9]) == 4


def test_intra_sentence_similarity() -> None:
    assert g.intra_sentence_similarity([np.ones((4, 3)) * 2]) == pytest.approx(1.0)
    # two orthogonal unit tokens: mean (e1+e2)/2 -> cos 1/sqrt2 each
    assert g.intra_sentence_similarity([np.eye(2)]) == pytest.approx(1 / math.sqrt(2))


def test_rogue_shares() -> None:
    dominant = np.array([[10.0, 0.1, -0.1], [9.0, -0.1, 0.1]])
    shares = g.rogue_shares(dominant)
    assert shares.sum() == pytest.approx(1.0)
    assert g.top_k_share(g.rogue_shares(np.array([[1.0, 0, 0], [2.0, 0, 0]])), 1) == pytest.approx(1.0)
    assert g.top_k_share(shares, 1) > 0.99
    even = g.rogue_shares(np.ones((3, 4)))
    assert np.allclose(even, 0.25) and g.top_k_share(even, 3) == pytest.approx(0.75)


def test_norm_stats() -> None:
    stats = g.norm_stats([np.array([[3.0, 4.0]]), np.array([[0.0, 5.0], [6.0, 8.0]])])
    assert stats["norm_mean"] == pytest.approx(20 / 3) and stats["norm_q50"] == pytest.approx(5.0)


def test_alignment_and_uniformity_closed_forms() -> None:
    e = np.eye(3)
    assert g.alignment(e, e) == pytest.approx(0.0)
    assert g.alignment(e, np.roll(e, 1, axis=0)) == pytest.approx(2.0)  # ‖a−b‖² = 2 for orthogonal
    assert g.uniformity(e) == pytest.approx(-4.0)  # every distinct pair at squared distance 2: log e^{-4}
    x = np.random.default_rng(1).normal(size=(7, 3))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    d = [np.sum((u[i] - u[j]) ** 2) for i in range(7) for j in range(i + 1, 7)]
    assert g.uniformity(x) == pytest.approx(math.log(np.mean(np.exp(-2 * np.array(d)))), rel=1e-12)


def test_singular_spectrum() -> None:
    assert np.allclose(g.singular_spectrum(np.eye(4)), 1.0)  # perfectly isotropic
    spec = g.singular_spectrum(np.ones((5, 3)))  # rank one
    assert spec[0] == 1.0 and np.allclose(spec[1:], 0.0)


def test_zero_vector_raises() -> None:
    with pytest.raises(ValueError, match="zero vector"):
        g.unit_rows(np.zeros((2, 3)))
