"""Standard per-step statistics shared by the losses (docs/design.md §2.6, docs/methods.md §7.1).

Every function returns a detached 0-dim tensor, so a loss can put the results straight into
``LossOutput.stats``. Inputs need not be normalised: the functions that speak of cosines or of
the unit sphere normalise first. The training loop logs these every step; none of them feeds
back into the loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)


def cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every row of ``a`` (N, D) with every row of ``b`` (M, D): (N, M).

    Keeps the autograd graph: losses build their logits from it.
    """
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T  # (N, M)


def _check_square(m: torch.Tensor) -> None:
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"expected a square (B, B) matrix, got {tuple(m.shape)}")


@torch.no_grad()
def mean_diagonal(m: torch.Tensor) -> torch.Tensor:
    """Mean of the diagonal of a square (B, B) matrix, e.g. the positive-pair cosines."""
    _check_square(m)
    return m.detach().diagonal().mean()


@torch.no_grad()
def mean_off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """Mean of the B(B-1) off-diagonal entries of a square (B, B) matrix (needs B >= 2)."""
    _check_square(m)
    n = m.shape[0]
    if n < 2:
        raise ValueError("the off-diagonal of a 1x1 matrix is empty")
    m = m.detach()
    return (m.sum() - m.diagonal().sum()) / (n * (n - 1))


@torch.no_grad()
def top1_accuracy(logits: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest logit is column i (the positive sits at column i of row i).

    The row may be longer than B (hard negatives, a queue): a row counts as correct only if the
    positive beats every candidate the cross-entropy sees.
    """
    if logits.ndim != 2 or logits.shape[1] < logits.shape[0]:
        raise ValueError(f"expected (B, C) logits with C >= B, got {tuple(logits.shape)}")
    target = torch.arange(logits.shape[0], device=logits.device)  # (B,)
    return (logits.detach().argmax(dim=1) == target).to(logits.dtype).mean()


@torch.no_grad()
def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Wang & Isola's ℓ_align = mean_i ||x̂_i - ŷ_i||^alpha on L2-normalised rows (lower is better)."""
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"alignment needs two (B, D) tensors, got {tuple(x.shape)} and {tuple(y.shape)}")
    diff = F.normalize(x.detach(), dim=-1) - F.normalize(y.detach(), dim=-1)  # (B, D)
    return diff.norm(dim=1).pow(alpha).mean()


@torch.no_grad()
def uniformity(x: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Wang & Isola's ℓ_uniform = log mean_{i<j} exp(-t ||x̂_i - x̂_j||²) on normalised rows.

    Averaged over the B(B-1)/2 distinct pairs (as pdist does); computed as a logsumexp so that
    well-spread batches do not underflow to log(0).
    """
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"uniformity needs a (B, D) tensor with B >= 2, got {tuple(x.shape)}")
    sq_dist = torch.pdist(F.normalize(x.detach().float(), dim=-1)).pow(2)  # (B(B-1)/2,); pdist has no CPU bf16
    return torch.logsumexp(-t * sq_dist, dim=0) - math.log(sq_dist.numel())


@torch.no_grad()
def contrastive_stats(
    anchor: torch.Tensor, positive: torch.Tensor, cos: torch.Tensor, logits: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The standard stats of a contrastive loss with the positive of row i at column i.

    anchor, positive: (B, D) raw embeddings; cos: (B, B) anchor-positive cosines;
    logits: (B, C) the rows the cross-entropy sees (C >= B).
    Returns ``pos_cos``, ``neg_cos`` (in-batch off-diagonal only), ``acc``, ``align``, ``uniform``
    (the latter over the anchors).
    """
    return {
        "pos_cos": mean_diagonal(cos),
        "neg_cos": mean_off_diagonal(cos),
        "acc": top1_accuracy(logits),
        "align": alignment(anchor, positive),
        "uniform": uniformity(anchor),
    }


def off_diagonal(m: torch.Tensor, fill: float) -> torch.Tensor:
    """``m`` (B, C) with entries (i, i) set to ``fill`` (e.g. -inf before a max over negatives).

    Out of place, so the autograd graph through the other entries is kept.
    """
    eye = torch.eye(m.shape[0], m.shape[1], dtype=torch.bool, device=m.device)
    return m.masked_fill(eye, fill)


@torch.no_grad()
def hardest_negative_cos(cos: torch.Tensor) -> torch.Tensor:
    """Mean over rows of the largest off-diagonal cosine of a (B, B) anchor-positive matrix."""
    _check_square(cos)
    return off_diagonal(cos.detach(), float("-inf")).max(dim=1).values.mean()
