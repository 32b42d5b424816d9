"""Optimizer and learning-rate schedule of the one training loop (docs/methods.md §1.7, §4.5).

* AdamW with two groups as HF's Trainer builds them (no decay on biases and LayerNorm weights),
  plus any group an objective supplies with its own settings (a trainable temperature's lr).
* ``adam_bias_correction: false`` switches to the update of transformers' legacy ``AdamW`` with
  ``correct_bias=False``, which the BSC paper used for its non-CQA tasks: no bias correction, ε
  added to √v, and the decoupled weight decay applied after the Adam step.
* The schedule: linear warm-up over ``ceil(warmup_ratio · total)`` steps (HF's rounding), then
  linear decay to 0, applied to each group's own base rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from sentemb.config import TrainConfig

_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


def param_groups(named: list[tuple[str, nn.Parameter]], weight_decay: float) -> list[dict[str, Any]]:
    """Two groups, as HF's Trainer builds them: no decay on biases and LayerNorm weights."""
    decay = [p for n, p in named if not n.endswith(_NO_DECAY)]
    no_decay = [p for n, p in named if n.endswith(_NO_DECAY)]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class AdamWNoBiasCorrection(torch.optim.Optimizer):
    """transformers' legacy ``AdamW(correct_bias=False)``: m ← β1·m + (1−β1)·g,
    v ← β2·v + (1−β2)·g², p ← p − lr·m/(√v + ε), then p ← p − lr·wd·p."""

    def __init__(self, params: Iterable[Any], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
                p.addcdiv_(m, v.sqrt().add_(group["eps"]), value=-group["lr"])
                if group["weight_decay"] > 0.0:
                    p.add_(p, alpha=-group["lr"] * group["weight_decay"])


def build_optimizer(named: list[tuple[str, nn.Parameter]], extra: list[dict[str, Any]],
                    cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over ``named`` (decay / no-decay groups at ``cfg.lr``) and the ``extra`` groups, which
    carry their own ``lr`` and ``weight_decay``. Every group records its ``base_lr``."""
    taken = {id(p) for g in extra for p in g["params"]}
    groups = [g | {"lr": cfg.lr} for g in param_groups([(n, p) for n, p in named if id(p) not in taken],
                                                        cfg.weight_decay)]
    groups += [dict(g) for g in extra]
    for g in groups:
        g["base_lr"] = g["lr"]
    # betas are HF TrainingArguments' defaults (SimCSE) and SBERT's fit alike
    if cfg.adam_bias_correction:
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=cfg.adam_eps)
    return AdamWNoBiasCorrection(groups, lr=cfg.lr, eps=cfg.adam_eps)


def warmup_steps(total: int, ratio: float) -> int:
    return math.ceil(ratio * total)


def lr_at(step: int, total_steps: int, peak: float, warmup: int = 0) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then linear decay to 0 at ``total_steps``.

    ``step`` counts optimizer steps already taken (0 for the first update), as HF's
    ``get_linear_schedule_with_warmup`` does.
    """
    if warmup > 0 and step < warmup:
        return peak * step / warmup
    return peak * max(total_steps - step, 0) / max(total_steps - warmup, 1)


def set_lr(optimizer: torch.optim.Optimizer, step: int, total_steps: int, warmup: int) -> float:
    """Every group at its own base rate on the schedule; returns the first group's rate (logged)."""
    for group in optimizer.param_groups:
        group["lr"] = lr_at(step, total_steps, group["base_lr"], warmup)
    return float(optimizer.param_groups[0]["lr"])
