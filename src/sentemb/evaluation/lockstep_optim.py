"""Adam and RMSprop for the stacked classifiers of ``classifier.py`` (docs/methods.md §0.3).

Written out with torch's single-tensor update formulas (coupled weight decay, per-group step
counts and bias correction), so that each of the G stacked problems follows the trajectory
``torch.optim`` would give it alone, up to float32 rounding. ``update`` works on the parameter
stack ``w`` (G, R*C, D) in place; ``mask`` (G, 1, 1) leaves a group without rows in this
minibatch untouched, optimizer state included; ``keep`` drops groups that have finished.
"""

from __future__ import annotations

import numpy as np
import torch

ADAM_LR, ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 1e-3, 0.9, 0.999, 1e-8  # torch.optim.Adam defaults
RMSPROP_LR, RMSPROP_ALPHA, RMSPROP_EPS = 1e-2, 0.99, 1e-8  # torch.optim.RMSprop defaults


class LockstepAdam:
    """torch.optim.Adam's single-tensor update, one step count per group."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.m = torch.zeros(shape)
        self.v = torch.zeros(shape)
        self.steps = np.zeros(shape[0], dtype=np.int64)

    def begin_pass(self, has_rows: np.ndarray) -> None:
        """Precompute this pass's bias corrections; a group steps only when it has rows."""
        steps = self.steps[None, :] + np.cumsum(has_rows, axis=0)
        self.steps = steps[-1].copy()
        t = np.maximum(steps, 1).astype(np.float64)
        # torch: step_size = lr / (1 - beta1**t); denom = sqrt(v) / sqrt(1 - beta2**t) + eps
        neg_step = -(ADAM_LR / (1.0 - ADAM_BETA1**t))
        bc2_sqrt = (1.0 - ADAM_BETA2**t) ** 0.5
        shape = (*steps.shape, 1, 1)
        self.neg_step = torch.from_numpy(neg_step.astype(np.float32)).view(shape)
        self.bc2_sqrt = torch.from_numpy(bc2_sqrt.astype(np.float32)).view(shape)

    def update(self, w: torch.Tensor, grad: torch.Tensor, wd: torch.Tensor, s: int,
               mask: torch.Tensor | None) -> None:
        g = grad.addcmul_(w, wd)  # coupled L2: grad + weight_decay * param
        m = torch.lerp(self.m, g, 1 - ADAM_BETA1)
        v = self.v.mul(ADAM_BETA2).addcmul_(g, g, value=1 - ADAM_BETA2)
        denom = v.sqrt().div_(self.bc2_sqrt[s]).add_(ADAM_EPS)
        delta = m.mul(self.neg_step[s]).div_(denom)  # addcdiv: param + (value * m) / denom
        if mask is None:
            self.m, self.v = m, v
            w.add_(delta)
        else:
            self.m = torch.where(mask, m, self.m)
            self.v = torch.where(mask, v, self.v)
            w.copy_(torch.where(mask, w + delta, w))

    def keep(self, rows: torch.Tensor) -> None:
        self.m, self.v = self.m[rows], self.v[rows]
        self.steps = self.steps[rows.numpy()]


class LockstepRMSprop:
    """torch.optim.RMSprop's single-tensor update (no momentum, not centred)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.v = torch.zeros(shape)

    def begin_pass(self, has_rows: np.ndarray) -> None:
        """RMSprop has no step-dependent term."""

    def update(self, w: torch.Tensor, grad: torch.Tensor, wd: torch.Tensor, s: int,
               mask: torch.Tensor | None) -> None:
        g = grad.addcmul_(w, wd)
        v = self.v.mul(RMSPROP_ALPHA).addcmul_(g, g, value=1 - RMSPROP_ALPHA)
        delta = g.mul_(-RMSPROP_LR).div_(v.sqrt().add_(RMSPROP_EPS))
        if mask is None:
            self.v = v
            w.add_(delta)
        else:
            self.v = torch.where(mask, v, self.v)
            w.copy_(torch.where(mask, w + delta, w))

    def keep(self, rows: torch.Tensor) -> None:
        self.v = self.v[rows]
