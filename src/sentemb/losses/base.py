"""The contract every loss follows (style.md §3.1, §3.7).

A loss is an ``nn.Module`` whose constructor takes hyperparameters only and whose ``forward``
takes one keyword-only ``EmbeddingBatch`` and returns a ``LossOutput``. Losses never see the
model, hold no state and change nothing in ``forward``; queues, momentum encoders and views
belong to objectives (``sentemb.objectives``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class EmbeddingBatch:
    """Sentence embeddings of one training step (not normalised; losses normalise as they need).

    anchor:          (B, D)  view 1 of each sentence (u in methods.md §1.2)
    positive:        (B, D)  view 2 / entailment hypothesis (v)
    hard_negative:   (B, D)  optional contradiction hypothesis (w, §1.3)
    extra_negatives: (K, D)  optional detached extra candidates, e.g. the ESimCSE queue (§3.3)
    labels:          (B,)    optional pair labels (pair-scoring losses)
    """

    anchor: torch.Tensor
    positive: torch.Tensor
    hard_negative: torch.Tensor | None = None
    extra_negatives: torch.Tensor | None = None
    labels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.anchor.ndim != 2 or self.anchor.shape != self.positive.shape:
            raise ValueError(f"anchor {tuple(self.anchor.shape)} and positive {tuple(self.positive.shape)} "
                             "must both be (B, D)")
        if self.hard_negative is not None and self.hard_negative.shape != self.anchor.shape:
            raise ValueError(f"hard_negative {tuple(self.hard_negative.shape)} must match anchor "
                             f"{tuple(self.anchor.shape)}")
        if self.extra_negatives is not None and (
            self.extra_negatives.ndim != 2 or self.extra_negatives.shape[1] != self.anchor.shape[1]
        ):
            raise ValueError(f"extra_negatives {tuple(self.extra_negatives.shape)} must be (K, D)")


@dataclass
class LossOutput:
    """``total``: scalar with gradient; ``stats``: detached scalars for logging (name -> tensor)."""

    total: torch.Tensor
    stats: dict[str, torch.Tensor] = field(default_factory=dict)

    def scaled(self, weight: float, prefix: str) -> LossOutput:
        """This term times ``weight``, its stats renamed ``<prefix>/<name>`` (for objectives)."""
        return LossOutput(self.total * weight, {f"{prefix}/{k}": v for k, v in self.stats.items()})
