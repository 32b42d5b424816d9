"""Optimizer and learning-rate schedule (methods.md §1.7: AdamW, linear decay, optional warm-up)."""

from __future__ import annotations

import torch
from torch import nn

_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


def param_groups(named: list[tuple[str, nn.Parameter]], weight_decay: float) -> list[dict[str, object]]:
    """Two groups, as HF's Trainer builds them: no decay on biases and LayerNorm weights."""
    decay = [p for n, p in named if not n.endswith(_NO_DECAY)]
    no_decay = [p for n, p in named if n.endswith(_NO_DECAY)]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(named: list[tuple[str, nn.Parameter]], lr: float, weight_decay: float) -> torch.optim.AdamW:
    # betas/eps are HF TrainingArguments defaults used by SimCSE (methods.md §1.7).
    return torch.optim.AdamW(param_groups(named, weight_decay), lr=lr, betas=(0.9, 0.999), eps=1e-8)


def lr_at(step: int, total_steps: int, peak: float, warmup_steps: int = 0) -> float:
    """Linear warm-up to ``peak`` over ``warmup_steps``, then linear decay to 0 at ``total_steps``.

    ``step`` counts optimizer steps already taken (0 for the first update), as HF's
    ``get_linear_schedule_with_warmup`` does.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return peak * step / warmup_steps
    remaining = max(total_steps - step, 0)
    return peak * remaining / max(total_steps - warmup_steps, 1)
