"""The contract every objective follows (style.md §3.2).

An objective is the recipe around a loss: it tokenizes the raw texts of a step, builds the
views (dropout twice for SimCSE, word repetition for ESimCSE, corrupted copies for DiffCSE),
runs the encoder, keeps any auxiliary state as registered buffers/submodules (so that it is
checkpointed with ``state_dict``), and returns one ``LossOutput`` whose ``stats`` name every
term. The training loop knows nothing else about it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sentemb.losses.base import LossOutput


@dataclass(frozen=True)
class TextBatch:
    """Raw texts of one step. Unsupervised data fills ``sentences`` only; NLI triplets fill all
    three (premise, entailment, contradiction: methods.md §1.3)."""

    sentences: list[str]
    positives: list[str] | None = None
    hard_negatives: list[str] | None = None

    def __len__(self) -> int:
        return len(self.sentences)


class Objective(nn.Module):
    """Subclasses implement ``forward(batch: TextBatch) -> LossOutput``.

    ``trainable_parameters()`` is what the optimizer gets (frozen generators and momentum
    encoders excluded). ``encoder`` is the ``SentenceEncoder`` that is evaluated and exported.
    """

    encoder: nn.Module

    def forward(self, batch: TextBatch) -> LossOutput:  # pragma: no cover - interface
        raise NotImplementedError

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
