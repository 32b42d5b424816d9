"""The contract every objective follows (docs/design.md §3.1).

An objective is the recipe around a loss: it tokenizes the raw texts of a step, builds the
views (dropout twice for SimCSE, word repetition for ESimCSE, corrupted copies for DiffCSE),
runs the encoder, keeps any auxiliary state as registered buffers/submodules (so that it is
checkpointed with ``state_dict``), and returns one ``LossOutput`` whose ``stats`` name every
term. The training loop knows nothing else about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sentemb.losses.base import LossOutput


@dataclass(frozen=True)
class TextBatch:
    """Raw texts of one step. Unsupervised data fills ``sentences`` only; NLI triplets fill all
    three (premise, entailment, contradiction: docs/methods.md §1.3); pair tasks fill
    ``sentences`` (text_a), ``positives`` (text_b) and ``labels`` (in [0, 1]), and explicit
    triplets also ``hard_negatives``."""

    sentences: list[str]
    positives: list[str] | None = None
    hard_negatives: list[str] | None = None
    labels: list[float] | None = None

    def __len__(self) -> int:
        return len(self.sentences)


@dataclass(frozen=True)
class BuildContext:
    """What every objective is built from; ``from_recipe`` adds the method's ``objective_args``."""

    encoder: nn.Module  # the SentenceEncoder being trained (backbone + train pooler)
    tokenizer: Any
    loss: nn.Module
    head: str
    max_seq_length: int
    gather_negatives: bool
    seed: int
    model_path: Path  # the pretrained checkpoint the encoder was loaded from


class Objective(nn.Module):
    """Subclasses implement ``forward(batch: TextBatch) -> LossOutput``.

    ``trainable_parameters()`` is what the optimizer gets (frozen generators and momentum
    encoders excluded). ``encoder`` is the ``SentenceEncoder`` that is evaluated and exported.
    """

    encoder: nn.Module
    loss: nn.Module
    data_kinds: tuple[str, ...] = ()
    provides: frozenset[str] = frozenset()

    @classmethod
    def from_recipe(cls, ctx: BuildContext, **objective_args: Any) -> Objective:  # pragma: no cover - interface
        """Build from the shared context plus the method's ``objective_args`` (keyword-only)."""
        raise NotImplementedError

    @classmethod
    def check_args(cls, *, head: str, train_pooler: str, **objective_args: Any) -> None:
        """Reject values that ``from_recipe`` would reject, without building anything."""

    def forward(self, batch: TextBatch) -> LossOutput:  # pragma: no cover - interface
        raise NotImplementedError

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups with settings of their own (e.g. a trainable temperature's learning
        rate); every other trainable parameter goes to the loop's AdamW groups."""
        groups = getattr(self.loss, "param_groups", None)
        return groups() if callable(groups) else []

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
