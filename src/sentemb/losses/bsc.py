"""The batch-softmax contrastive loss of Chernyavskiy et al. (docs/methods.md §4.2, §4.3)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import check_flag, check_positive
from sentemb.losses.pairwise import (
    BINARIZE_OPS,
    NORMS,
    binarize,
    check_batch,
    check_choice,
    check_threshold,
    normalize,
    pair_stats,
)
from sentemb.losses.stats import cosine_matrix


class BatchSoftmaxContrastiveLoss(Loss):
    r"""Symmetric batch-softmax contrastive loss over labelled pairs (docs/methods.md §4.2).

    With Q, A the (m, d) embeddings of the two sides after ``norm`` (§4.3), α = 1/τ and
    M = α·QAᵀ, binary labels b_i = [y_i ≥ t] (or > t) and

        r_i = log softmax_row(M)_{ii},      c_i = log softmax_row(Mᵀ)_{ii},

    the loss is  L = −(1/m) Σ_i b_i r_i  − (1/m) Σ_i b_i c_i   (``direction_reduction: sum``,
    the paper), halved with ``mean`` (the official code), and only the first term when
    ``symmetric`` is false. Labelled negatives (b_i = 0) stay in the batch as rows and columns,
    so they are hard negatives of every other pair, while their own terms are zeroed; the sum is
    still divided by the full batch size m (§4.2 "labelled negatives"). With
    ``use_labeled_negatives: false`` they are removed from the batch before M is formed (the
    paper's "BSC without labelled negatives" row), and the division is by the number of positives.

    Args:
        temperature: τ > 0 (0.1 with ``l2_row``, about 1.2 with ``coord_range``, §4.5).
        symmetric: add the A→Q direction (the paper's point against one-directional SimCSE).
        direction_reduction: ``sum`` (paper) or ``mean`` (code) of the two directions.
        norm: ``l2_row`` | ``coord_range`` | ``none`` (§4.3).
        tau_trainable: learn α = 1/τ as a parameter initialised to 1/``temperature`` (the official
            code initialises α = 1: set ``temperature: 1.0`` to match it), trained in its own
            optimizer group at ``tau_lr`` without weight decay (``param_groups``, §4.2).
        tau_lr: that group's learning rate (§4.2: 1e-3; the fit default of the official code).
        use_labeled_negatives: keep labelled negatives as in-batch hard negatives (see above).
        binarize_threshold, binarize_op: a pair is positive when its normalised label is ``> t``
            (the official ``STSDataReaderBinaryPositives``: STS-B pairs scored exactly 3.0 of 5 are
            negatives at t = 0.6) or ``>= t``.

    Inputs: anchor = Q, positive = A (m, d) with m ≥ 2; optional labels (m,) in [0, 1] (none: all
    pairs positive).

    Stats: ``loss``, ``pos_cos``, ``neg_cos``, ``neg_cos_max``, ``acc``, ``labelled_negatives``
    (``losses/pairwise.py``) and ``tau``.

    References:
        1. Chernyavskiy, Ilvovsky, Kalinin, Nakov. Batch-Softmax Contrastive Loss for
           Pairwise Sentence Scoring Tasks. NAACL 2022 (arXiv 2110.15725), §3.1-3.3.
        2. docs/methods.md §4.2-4.3 (official-code behaviour: mean over directions, coordinate
           range normalisation without centring, label masking over the full batch).

    Relations:
        - With all labels positive, ``symmetric: false`` and ``norm: l2_row`` it equals
          InfoNCE (``infonce``, SimCSE's loss) with the same temperature.
        - With all labels positive it is the symmetric InfoNCE of CLIP (sum of both
          cross-entropies, or their mean).
    """

    family = "pair"
    requires: frozenset[str] = frozenset()
    accepts: frozenset[str] = frozenset({"labels"})

    def __init__(self, temperature: float = 0.1, symmetric: bool = True, direction_reduction: str = "mean",
                 norm: str = "l2_row", tau_trainable: bool = False, tau_lr: float = 1e-3,
                 use_labeled_negatives: bool = True, binarize_threshold: float = 0.5, binarize_op: str = ">") -> None:
        super().__init__()
        tau = check_positive("temperature", temperature)
        self.symmetric = check_flag("symmetric", symmetric)
        self.direction_reduction = check_choice("direction_reduction", direction_reduction, ("sum", "mean"))
        self.norm = check_choice("norm", norm, NORMS)
        self.tau_trainable = check_flag("tau_trainable", tau_trainable)
        self.use_labeled_negatives = check_flag("use_labeled_negatives", use_labeled_negatives)
        self.binarize_threshold = check_threshold(binarize_threshold)
        self.binarize_op = check_choice("binarize_op", binarize_op, BINARIZE_OPS)
        self.tau_lr = check_positive("tau_lr", tau_lr)
        self.fixed_scale = 1.0 / tau  # α as a Python float: exact in any dtype
        if self.tau_trainable:
            self.inv_temperature = nn.Parameter(torch.tensor(self.fixed_scale))  # α = 1/τ (§4.2)

    def param_groups(self) -> list[dict[str, Any]]:
        """α in a group of its own: ``tau_lr``, no weight decay (§4.2)."""
        if not self.tau_trainable:
            return []
        return [{"params": [self.inv_temperature], "lr": self.tau_lr, "weight_decay": 0.0}]

    def scale(self) -> torch.Tensor | float:
        """α = 1/τ: the trainable parameter, or the fixed value."""
        return self.inv_temperature if self.tau_trainable else self.fixed_scale

    def extra_repr(self) -> str:
        return (f"tau={1 / float(self.scale()):.4g}, symmetric={self.symmetric}, "
                f"reduction={self.direction_reduction}, norm={self.norm}, trainable={self.tau_trainable}, "
                f"labeled_negatives={self.use_labeled_negatives}, binarize={self.binarize_op}"
                f"{self.binarize_threshold}")

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        check_batch(batch, "BSC")
        q, a = batch.anchor, batch.positive
        positive = binarize(batch.labels, q.shape[0], self.binarize_threshold, self.binarize_op, q.device)
        cos = cosine_matrix(q, a)  # (m, m), for the stats only
        stats = pair_stats(cos, positive)  # hardness of the batch as the strategy built it
        if not self.use_labeled_negatives:
            keep = positive > 0
            q, a, positive = q[keep], a[keep], positive[keep]
        total = self._loss(q, a, positive)
        stats = {"loss": total.detach(), **stats, "tau": torch.as_tensor(1.0 / self.scale()).detach()}
        return LossOutput(total=total, stats=stats)

    def _loss(self, q: torch.Tensor, a: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
        m = q.shape[0]
        if m == 0:  # no positive pair survived the removal: nothing to contrast
            return q.sum() * 0.0
        logits = self.scale() * (normalize(q, self.norm) @ normalize(a, self.norm).T)  # (m, m)
        rows = logits.log_softmax(dim=1).diagonal()  # r_i: q_i against every answer
        total = -(positive * rows).sum() / m  # labelled negatives zeroed, divided by the full m
        if self.symmetric:
            cols = logits.log_softmax(dim=0).diagonal()  # c_i: a_i against every question
            total = total - (positive * cols).sum() / m
            if self.direction_reduction == "mean":
                total = total / 2
        return total
