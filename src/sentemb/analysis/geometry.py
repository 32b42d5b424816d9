"""Token- and sentence-level geometry metrics, as the isotropy paper's released code computes them
(docs/methods.md §6.1) unless a choice below says otherwise.

All functions are pure and take plain arrays, so each is tested on hand-made vectors. A layer is
given as a list of per-sentence token matrices (padding already removed), with the token ids
of each sentence alongside.

Choices that differ from the reference code (recorded in every analysis output, ``CHOICES``):
- [PAD] never enters any metric: the reference code counts pad positions as a token type for
  self-similarity (a quirk of counting over the padded batch); here sentences are unpadded.
- Special tokens ([CLS], [SEP]) are kept, as in the reference code, and reported as their own
  group in the self-similarity split.
- Rogue-dimension shares are computed per token type and averaged over types, as §6.1 states.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CHOICES = {
    "pad_tokens": "excluded from every metric (reference code: pads counted as a type in self-similarity)",
    "special_tokens": "included ([CLS], [SEP]); reported as the 'special' group of self-similarity",
    "self_similarity_occurrence": "first occurrence of a type in each sentence (reference code)",
    "rogue_dimensions": "share of each dimension in the mean cosine of a type's occurrences, averaged over types",
}


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float64); a zero row raises (its cosine is undefined)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("a zero vector has no direction: cosine undefined")
    return x / norms


def mean_pairwise_cosine(x: np.ndarray) -> float:
    """Mean cosine over the n(n-1) ordered pairs of distinct rows (self-pairs excluded), n >= 2.

    Uses ‖Σ x̂‖² = Σ_a Σ_b cos(a, b) = n + Σ_{a≠b} cos(a, b), so it is O(n d), not O(n² d).
    """
    n = len(x)
    if n < 2:
        raise ValueError("mean pairwise cosine needs at least 2 vectors")
    total = unit_rows(x).sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


def anisotropy_baseline(layer: Sequence[np.ndarray], rng: np.random.Generator, samples: int = 1000) -> float:
    """§6.1 item 1: one random token from each of up to ``samples`` sentences; their mean pairwise
    cosine (one token per sentence, so long sentences carry no extra weight)."""
    chosen = rng.choice(len(layer), size=min(samples, len(layer)), replace=False)
    picks = [layer[i][rng.integers(len(layer[i]))] for i in sorted(chosen)]
    return mean_pairwise_cosine(np.stack(picks))


def type_occurrences(layer: Sequence[np.ndarray], ids: Sequence[np.ndarray], min_count: int = 5,
                     occurrence: str = "first") -> dict[int, np.ndarray]:
    """Token id -> its vectors: the first (or every) occurrence in each sentence containing it,
    for ids occurring at least ``min_count`` times in the corpus (every position counts)."""
    if occurrence not in ("first", "all"):
        raise ValueError(f"occurrence must be 'first' or 'all', got {occurrence!r}")
    counts: dict[int, int] = {}
    for sent in ids:
        for t in np.asarray(sent).tolist():
            counts[t] = counts.get(t, 0) + 1
    kept = {t for t, c in counts.items() if c >= min_count}
    found: dict[int, list[np.ndarray]] = {}
    for vecs, sent in zip(layer, ids):
        seen: set[int] = set()
        for pos, t in enumerate(np.asarray(sent).tolist()):
            if t in kept and (occurrence == "all" or t not in seen):
                found.setdefault(t, []).append(vecs[pos])
                seen.add(t)
    return {t: np.stack(v) for t, v in found.items() if len(v) >= 2}


def self_similarity(occurrences: dict[int, np.ndarray], types: set[int] | None = None) -> float | None:
    """§6.1 item 2: unweighted mean over types of the mean pairwise cosine of their occurrences.
    ``types`` restricts to a group; None when the group has no type with two occurrences."""
    values = [mean_pairwise_cosine(v) for t, v in occurrences.items() if types is None or t in types]
    return float(np.mean(values)) if values else None


def intra_sentence_similarity(layer: Sequence[np.ndarray]) -> float:
    """§6.1 item 3: per sentence, mean cosine between each token and the mean-pooled sentence
    vector; averaged over sentences."""
    per_sentence = [float((unit_rows(v) @ unit_rows(v.mean(axis=0))).mean()) for v in layer]
    return float(np.mean(per_sentence))


def rogue_shares(x: np.ndarray) -> np.ndarray:
    """§6.1 item 5: each dimension's share of Σ_{a,b} cos(x_a, x_b) (self-pairs included).

    Σ_{a,b} x̂_a,k x̂_b,k = (Σ_a x̂_a,k)², so the shares are (Σ_a x̂_a)² / ‖Σ_a x̂_a‖²; they sum to 1.
    """
    total = unit_rows(x).sum(axis=0)
    denom = total @ total
    if denom <= 0:
        raise ValueError("vectors cancel out: rogue-dimension shares undefined")
    return total * total / denom


def top_k_share(shares: np.ndarray, k: int) -> float:
    """Summed share of the ``k`` largest dimensions."""
    return float(np.sort(shares)[::-1][:k].sum())


def norm_stats(layer: Sequence[np.ndarray]) -> dict[str, float]:
    """§6.1 item 6: L2 norm of every (non-pad) token vector: mean, std and quantiles."""
    norms = np.concatenate([np.linalg.norm(np.asarray(v, dtype=np.float64), axis=1) for v in layer])
    q05, q50, q95 = np.quantile(norms, [0.05, 0.5, 0.95])
    return {"norm_mean": float(norms.mean()), "norm_std": float(norms.std()), "norm_q05": float(q05),
            "norm_q50": float(q50), "norm_q95": float(q95)}


def alignment(x: np.ndarray, y: np.ndarray, alpha: float = 2.0) -> float:
    """§7.1: mean ‖x̂_i − ŷ_i‖^α over positive pairs (lower is better)."""
    return float((np.linalg.norm(unit_rows(x) - unit_rows(y), axis=1) ** alpha).mean())


def uniformity(x: np.ndarray, t: float = 2.0) -> float:
    """§7.1: log mean_{i<j} exp(−t ‖x̂_i − x̂_j‖²) over distinct pairs, as a stable logsumexp.

    For unit vectors ‖a − b‖² = 2 − 2 cos(a, b).
    """
    u = unit_rows(x)
    n = len(u)
    if n < 2:
        raise ValueError("uniformity needs at least 2 vectors")
    iu = np.triu_indices(n, k=1)
    sq = 2.0 - 2.0 * (u @ u.T)[iu]
    logits = -t * sq
    top = logits.max()
    return float(top + np.log(np.exp(logits - top).mean()))


def singular_spectrum(x: np.ndarray) -> np.ndarray:
    """Singular values of the L2-normalised sentence-embedding matrix, divided by the largest
    (SimCSE App. F plots this decay; a flatter spectrum is a more isotropic space). No centring."""
    s = np.linalg.svd(unit_rows(x), compute_uv=False)
    return s / s[0]
