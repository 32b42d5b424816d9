"""The contract every loss follows (docs/design.md "Losses").

A loss is a ``Loss`` (an ``nn.Module``) whose constructor takes hyperparameters only and whose
``forward`` takes one keyword-only ``EmbeddingBatch`` and returns a ``LossOutput``. Losses never
see the model, hold no state and change nothing in ``forward``; queues, momentum encoders and
views belong to objectives (``sentemb.objectives``).

Precision: every loss computes in fp32 (or in the float64 it is given) even when the encoder
runs under bf16 autocast. A cosine matrix is a matmul, which autocast would return in bf16: at
τ = 0.05 that alone moved the InfoNCE gradient by several per cent, and a clamp to 1 − 1e-7 rounds
to 1.0 in bf16, so arccos-based losses (ArcCon, MAT) reached an infinite gradient. The official
SimCSE family likewise keeps the similarity in fp32 under AMP.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class EmbeddingBatch:
    """Sentence embeddings of one training step (not normalised; losses normalise as they need).

    anchor:          (B, D)  view 1 of each sentence (u in docs/methods.md §1.2)
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

    def upcast(self) -> EmbeddingBatch:
        """This batch with bf16/fp16 tensors cast to fp32 (fp32 and float64 stay as they are;
        the casts are differentiable, so gradients reach the encoder)."""
        def up(t: torch.Tensor | None) -> torch.Tensor | None:
            return t.float() if t is not None and t.dtype in (torch.float16, torch.bfloat16) else t

        return dataclasses.replace(self, **{f.name: up(getattr(self, f.name)) for f in dataclasses.fields(self)})

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


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """No autocast inside, on any device type (a no-op when none is active)."""
    with torch.autocast("cpu", enabled=False), torch.autocast("cuda", enabled=False):
        yield


class Loss(nn.Module):
    """Base of every registered loss: the forward runs outside autocast on an upcast batch.

    ``family`` groups losses for the reports: ``contrastive`` (the effective contrastive losses
    and the sg probe), ``non_contrastive`` (docs/methods.md §5.6) or ``pair`` (§4)."""

    family: str = "contrastive"

    def __call__(self, *args: Any, batch: EmbeddingBatch, **kwargs: Any) -> LossOutput:
        with full_precision():
            return super().__call__(*args, batch=batch.upcast(), **kwargs)

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups with settings of their own (a trainable temperature); none by default."""
        return []
