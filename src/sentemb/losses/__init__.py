"""Loss registry (docs/design.md §4.1): the names ``params.yaml`` uses, mapped to loss classes.

An explicit dict, not decorators: the registry is complete as soon as this module is imported
and can be read in one place. Adding a loss is one line here; tests/losses/test_contract.py then
covers it automatically.
"""

from __future__ import annotations

import inspect
from typing import Any

from sentemb.config.load import suggest
from sentemb.errors import ConfigError
from sentemb.losses.arccon import ArcConLoss
from sentemb.losses.barlow_twins import BarlowTwinsLoss
from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.bsc import BatchSoftmaxContrastiveLoss
from sentemb.losses.combo import ComboLoss
from sentemb.losses.cosine_mse import CosineMSELoss
from sentemb.losses.infonce import InfoNCELoss
from sentemb.losses.mat import MATLoss
from sentemb.losses.met import METLoss
from sentemb.losses.mhe import MHELoss
from sentemb.losses.mhs import MHSLoss
from sentemb.losses.mpt import MPTLoss
from sentemb.losses.sg import SimulatedGradientLoss
from sentemb.losses.triplet import TripletLoss
from sentemb.losses.triplet_batch_hard import TripletBatchHardLoss
from sentemb.losses.vicreg import VICRegLoss

LOSSES: dict[str, type[Loss]] = {
    "infonce": InfoNCELoss,
    "arccon": ArcConLoss,
    "mpt": MPTLoss,
    "met": METLoss,
    "mat": MATLoss,
    "sg": SimulatedGradientLoss,
    "mhe": MHELoss,
    "mhs": MHSLoss,
    "vicreg": VICRegLoss,
    "barlow_twins": BarlowTwinsLoss,
    # pair scoring (docs/methods.md §4): text_a/text_b/labels as anchor/positive/labels
    "bsc": BatchSoftmaxContrastiveLoss,
    "combo": ComboLoss,
    "cosine_mse": CosineMSELoss,
    "triplet": TripletLoss,
    "triplet_batch_hard": TripletBatchHardLoss,
}

__all__ = ["LOSSES", "EmbeddingBatch", "InfoNCELoss", "Loss", "LossOutput", "build_loss"]


def build_loss(name: str, **kwargs: Any) -> Loss:
    """Build the loss registered as ``name`` with hyperparameters ``kwargs``.

    Raises ConfigError (one line) for an unknown name, an unknown or misspelt argument (both with
    the closest valid name) and for a value the constructor rejects.
    """
    if name not in LOSSES:
        raise ConfigError(f"unknown loss '{name}'; known: {', '.join(sorted(LOSSES))}"
                          + suggest(name, LOSSES))
    cls = LOSSES[name]
    _check_arguments(name, cls, kwargs)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"loss '{name}': {err}") from err


def _check_arguments(name: str, cls: type[Loss], kwargs: dict[str, Any]) -> None:
    signature = inspect.signature(cls)
    params = signature.parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in kwargs:
        if key not in params and not takes_any:
            raise ConfigError(f"loss '{name}': unknown argument '{key}'; valid: {', '.join(params)}"
                              + suggest(key, params))
    try:
        signature.bind(**kwargs)
    except TypeError as err:  # e.g. a required hyperparameter is missing
        raise ConfigError(f"loss '{name}': {err}") from err
