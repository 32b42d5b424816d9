"""Training-time heads and the momentum (EMA) encoder.

* ``MLPHead``: SimCSE's Linear(d→d) + tanh over the pooled vector, randomly initialised
  (docs/methods.md §1.1), used in training only for unsupervised runs (``mlp_only_train``);
* ``LinearHead``: Li et al.'s Linear(d→d) without activation, N(0, 0.006²) weight and bias
  (docs/methods.md §5.2), also training-only;
* ``BNProjector``: DiffCSE's batch-normalised projector (docs/methods.md §2.2);
* ``MomentumEncoder``: ESimCSE's EMA copy of the encoder body (docs/methods.md §3.3).
"""

from __future__ import annotations

import copy
import logging
from typing import Literal

import torch
from torch import nn

from sentemb.errors import ConfigError

log = logging.getLogger(__name__)

HEADS: tuple[str, ...] = ("none", "mlp", "linear", "bn_mlp")
MomentumInit = Literal["copy_pretrained", "random_reference"]
MOMENTUM_INITS: tuple[str, ...] = ("copy_pretrained", "random_reference")


class MLPHead(nn.Module):
    """Linear(d→d) + tanh (docs/methods.md §1.1).

    Initialised as BERT's ``_init_weights`` initialises a fresh Linear (weights ~ N(0, std²),
    bias 0, std = ``config.initializer_range``): SimCSE builds this head new, and does not reuse
    the NSP-pretrained pooler.
    """

    def __init__(self, dim: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        nn.init.normal_(self.dense.weight, mean=0.0, std=init_std)
        nn.init.zeros_(self.dense.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(x))  # (B, D)


class LinearHead(nn.Module):
    """Linear(d→d) with no activation, weight and bias ~ N(0, 0.006²) (docs/methods.md §5.2: the
    ``custom_param_init`` of Li et al.'s code). ``init_std`` overrides 0.006."""

    def __init__(self, dim: int, init_std: float = 0.006) -> None:
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        nn.init.normal_(self.dense.weight, mean=0.0, std=init_std)
        nn.init.normal_(self.dense.bias, mean=0.0, std=init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(x)  # (B, D)


class BNProjector(nn.Module):
    """DiffCSE's projector (docs/methods.md §2.2): Linear(d→2d, no bias) → BatchNorm1d(2d) → ReLU →
    Linear(2d→d, no bias) → BatchNorm1d(d, affine=False).

    The batch statistics are taken over every row given at once (both views together, as the
    official code does). Both Linear layers are drawn from N(0, ``init_std``²) (BERT's
    ``initializer_range``, 0.02): DiffCSE builds the projector inside the model before
    ``init_weights()`` runs, so BERT's initialiser reaches it; the BatchNorm layers keep PyTorch's
    defaults (weight 1, bias 0), which that initialiser does not touch (docs/methods.md §2.2).
    """

    def __init__(self, dim: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, 2 * dim, bias=False),
            nn.BatchNorm1d(2 * dim),
            nn.ReLU(),
            nn.Linear(2 * dim, dim, bias=False),
            nn.BatchNorm1d(dim, affine=False),
        )
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, mean=0.0, std=init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, D)


def build_head(name: str, dim: int, init_std: float = 0.02) -> nn.Module:
    """``none`` (identity), ``mlp`` (:class:`MLPHead`, std = ``init_std``), ``linear``
    (:class:`LinearHead`, its own 0.006) or ``bn_mlp`` (:class:`BNProjector`, std = ``init_std``)."""
    if name == "none":
        return nn.Identity()
    if name == "mlp":
        return MLPHead(dim, init_std)
    if name == "linear":
        return LinearHead(dim)
    if name == "bn_mlp":
        return BNProjector(dim, init_std)
    from sentemb.config import suggest

    raise ConfigError(f"unknown head '{name}'; valid: {', '.join(HEADS)}" + suggest(name, HEADS))


class MomentumEncoder(nn.Module):
    """An EMA copy of a ``SentenceEncoder``'s body, never trained by gradient (docs/methods.md §3.3).

    ``encoder`` is a ``SentenceEncoder`` (backbone + the same pooler) around a deep copy of the
    online backbone; every parameter has ``requires_grad=False``. Only the body is copied and
    averaged: heads are shared with the online model, as in ESimCSE.

    ``init``:
      * ``copy_pretrained`` (an option): the copy starts equal to the online encoder;
      * ``random_reference`` (the default of the ESimCSE recipe): the copy is re-initialised with the backbone's own
        ``_init_weights``, which is what the released ESimCSE code ends up doing (the copy is
        made before the pretrained weights are loaded; its log lists every ``momentum_model.*``
        weight as newly initialised).
    """

    def __init__(self, online: nn.Module, init: str = "random_reference") -> None:
        super().__init__()
        if init not in MOMENTUM_INITS:
            from sentemb.config import suggest

            raise ConfigError(f"unknown momentum_init '{init}'; valid: {', '.join(MOMENTUM_INITS)}"
                              + suggest(init, MOMENTUM_INITS))
        from sentemb.models.encoder import SentenceEncoder

        body = copy.deepcopy(online.backbone)
        if init == "random_reference":
            _reinitialise(body)
        body.requires_grad_(False)
        # tokenizer None: the momentum encoder only ever sees ids prepared by the objective
        self.encoder = SentenceEncoder(body, None, online.pooler, online.first_layer_index)
        self.init = init
        self.eval()
        log.info("momentum encoder initialised with %s", init)

    def train(self, mode: bool = True) -> MomentumEncoder:
        """Always eval mode: the momentum encoder encodes without dropout (docs/methods.md §3.3), even
        when the objective around it is put in train mode."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                **extra: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids, attention_mask, **extra)  # (B, D), no graph

    @torch.no_grad()
    def update(self, online: nn.Module, m: float) -> None:
        """θ_m ← m·θ_m + (1−m)·θ over the body parameters, matched by name."""
        if not 0.0 <= m <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {m}")
        online_params = dict(online.backbone.named_parameters())
        for name, p_m in self.encoder.backbone.named_parameters():
            p = online_params.get(name)
            if p is None or p.shape != p_m.shape:
                raise ValueError(f"momentum parameter '{name}' has no matching online parameter")
            p_m.mul_(m).add_(p.detach(), alpha=1.0 - m)


def _reinitialise(model: nn.Module) -> None:
    """Re-draw every weight with the HF model's own initialiser (BERT: N(0, 0.02²), zero bias)."""
    init_fn = getattr(model, "_init_weights", None)
    if init_fn is None:
        raise ConfigError("momentum_init 'random_reference' needs a Hugging Face backbone (_init_weights)")
    for module in model.modules():
        init_fn(module)
