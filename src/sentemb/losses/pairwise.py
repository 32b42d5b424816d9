"""Pieces shared by the pair-scoring losses of docs/methods.md §4 (BSC, combo, cosine MSE, triplet).

Each pair loss reads ``EmbeddingBatch.anchor`` as Q (the ``text_a`` side), ``positive`` as A (the
``text_b`` side) and ``labels`` as y in [0, 1] (graded labels are normalised when loaded,
``sentemb.pairs.records``). The contrastive terms need binary labels: ``binarize`` applies the
threshold and operator of §4.2.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)

from sentemb.losses.base import EmbeddingBatch
from sentemb.losses.checks import check_real
from sentemb.losses.stats import mean_diagonal, mean_off_diagonal, off_diagonal, top1_accuracy

Norm = Literal["l2_row", "coord_range", "none"]
NORMS: tuple[str, ...] = ("l2_row", "coord_range", "none")
BINARIZE_OPS: tuple[str, ...] = (">", ">=")
# coord_range divides by a batch range that is 0 only if a coordinate is constant over the batch;
# the floor keeps that degenerate case finite instead of producing inf logits.
_RANGE_FLOOR = 1e-12


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return str(value)


def check_threshold(value: object) -> float:
    threshold = check_real("binarize_threshold", value)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"binarize_threshold must lie in [0, 1] (labels are normalised), got {value!r}")
    return threshold


def binarize(labels: torch.Tensor | None, n: int, threshold: float, op: str, device: torch.device) -> torch.Tensor:
    """Binary positives (B,) float: ``y >= t`` or ``y > t``; no labels means every pair is positive."""
    if labels is None:
        return torch.ones(n, device=device)
    if labels.shape != (n,):
        raise ValueError(f"labels {tuple(labels.shape)} must be ({n},), one per pair")
    hit = labels >= threshold if op == ">=" else labels > threshold
    return hit.to(torch.get_default_dtype() if not labels.is_floating_point() else labels.dtype)


def normalize(x: torch.Tensor, norm: str) -> torch.Tensor:
    """§4.3: ``l2_row`` = unit rows (cosine logits); ``coord_range`` = each coordinate divided by
    its batch range max - min, **without centring** (the official code); ``none`` = raw vectors."""
    if norm == "l2_row":
        return F.normalize(x, dim=1)
    if norm == "coord_range":
        spread = x.max(dim=0).values - x.min(dim=0).values  # (D,)
        return x / spread.clamp_min(_RANGE_FLOOR)
    return x


@torch.no_grad()
def pair_stats(cos: torch.Tensor, positive: torch.Tensor) -> dict[str, torch.Tensor]:
    """The standard stats plus the batch-hardness proxies of §4 "log per batch".

    ``pos_cos`` is the mean cosine of the batch's own pairs (labelled negatives included),
    ``neg_cos`` / ``neg_cos_max`` the mean and max off-diagonal cosine, ``labelled_negatives``
    the number of rows whose binarised label is 0, ``acc`` the fraction of rows whose own pair has
    the largest cosine.
    """
    return {
        "pos_cos": mean_diagonal(cos),
        "neg_cos": mean_off_diagonal(cos),
        "neg_cos_max": off_diagonal(cos.detach(), float("-inf")).max(),
        "acc": top1_accuracy(cos),
        "labelled_negatives": (positive.shape[0] - positive.sum()).detach(),
    }


def check_batch(batch: EmbeddingBatch, loss: str) -> None:
    if batch.anchor.shape[0] < 2:
        raise ValueError(f"{loss} needs a batch of at least 2 pairs (in-batch negatives), got {batch.anchor.shape[0]}")
