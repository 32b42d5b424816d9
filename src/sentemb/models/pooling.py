"""The one pooler implementation used by training, evaluation and export (docs/methods.md §0.4).

| name              | sentence vector                                                           |
|-------------------|---------------------------------------------------------------------------|
| cls               | the model's ``pooler_output`` (dense+tanh over last-layer [CLS]; for a    |
|                   | converted SimCSE-style checkpoint, the trained MLP)                       |
| cls_before_pooler | last-layer hidden state at position 0                                     |
| avg               | masked mean of last-layer token states (special tokens included)          |
| avg_top2          | masked mean of (last + second-to-last layer) / 2                          |
| avg_first_last    | masked mean of (first + last layer) / 2, where "first" is                 |
|                   | ``hidden_states[first_layer_index]``: 0 = embedding output (the SimCSE     |
|                   | paper's baseline rows, DiffCSE/ESimCSE copies), 1 = output of transformer |
|                   | layer 1 (SimCSE HEAD since commit 206d7ae)                                 |
"""

from __future__ import annotations

import typing
from collections.abc import Sequence

import torch

from sentemb.config import Pooler
from sentemb.errors import ConfigError

POOLERS: tuple[str, ...] = typing.get_args(Pooler)
_NEED_HIDDEN_STATES = {"avg_top2", "avg_first_last"}


def needs_hidden_states(pooler: str) -> bool:
    """Whether the backbone must be run with ``output_hidden_states=True`` for this pooler."""
    return pooler in _NEED_HIDDEN_STATES


def masked_mean(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over positions where ``attention_mask`` is 1. states: (B, T, D), mask: (B, T)."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
    return (states * mask).sum(1) / mask.sum(1)  # (B, D)


def pool(
    pooler: str,
    *,
    attention_mask: torch.Tensor,
    last_hidden_state: torch.Tensor,
    hidden_states: Sequence[torch.Tensor] | None = None,
    pooler_output: torch.Tensor | None = None,
    first_layer_index: int = 1,
) -> torch.Tensor:
    """Reduce a backbone's outputs to one vector per sentence, shape (B, D)."""
    if pooler == "cls":
        if pooler_output is None:
            raise ConfigError(
                "pooler 'cls' needs the model's pooler layer, and this model has none "
                "(use cls_before_pooler, or a checkpoint that carries its pooler/MLP)"
            )
        return pooler_output
    if pooler == "cls_before_pooler":
        return last_hidden_state[:, 0]
    if pooler == "avg":
        return masked_mean(last_hidden_state, attention_mask)
    if pooler in _NEED_HIDDEN_STATES:
        if hidden_states is None:
            raise ValueError(f"pooler '{pooler}' needs hidden_states (run with output_hidden_states=True)")
        first = hidden_states[first_layer_index] if pooler == "avg_first_last" else hidden_states[-2]
        return masked_mean((first + hidden_states[-1]) / 2.0, attention_mask)
    from sentemb.config import suggest

    raise ConfigError(f"unknown pooler '{pooler}'" + suggest(pooler, POOLERS))
