"""Objective registry (style.md §3.2–§3.4): the names ``params.yaml`` uses, mapped explicitly.

``build_objective(name, data_kind=..., **kwargs)`` passes ``kwargs`` to the class, so a
misspelt hyperparameter fails with a suggestion, and checks at build time (not at step 10,000)
that the data and the objective together give the loss every field it ``requires``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from sentemb.config import suggest
from sentemb.errors import ConfigError
from sentemb.objectives.base import Objective, TextBatch
from sentemb.objectives.diffcse import DiffCSEObjective
from sentemb.objectives.esimcse import ESimCSEObjective
from sentemb.objectives.two_view import TwoViewObjective

OBJECTIVES: dict[str, type[Objective]] = {
    "two_view": TwoViewObjective,
    "esimcse": ESimCSEObjective,
    "diffcse": DiffCSEObjective,
}

# EmbeddingBatch fields each training-data kind fills beyond anchor/positive (training/data.py):
# wiki = single sentences (dropout or edited views), nli = SimCSE triplets (§1.3).
DATA_FIELDS: Mapping[str, frozenset[str]] = {
    "wiki": frozenset(),
    "nli": frozenset({"hard_negative"}),
}

__all__ = ["DATA_FIELDS", "OBJECTIVES", "Objective", "TextBatch", "build_objective",
           "check_requirements", "objective_names"]


def objective_names() -> list[str]:
    return sorted(OBJECTIVES)


def _lookup(name: str) -> type[Objective]:
    if name in OBJECTIVES:
        return OBJECTIVES[name]
    names = objective_names()
    raise ConfigError(f"unknown objective '{name}'; valid: {', '.join(names)}" + suggest(name, names))


def _check_kwargs(name: str, cls: type[Objective], kwargs: Mapping[str, Any]) -> None:
    signature = inspect.signature(cls)
    params = signature.parameters
    valid = [p for p in params if params[p].kind is not inspect.Parameter.VAR_KEYWORD]
    for key in kwargs:
        if key not in valid:
            raise ConfigError(f"objective '{name}': unknown argument '{key}'; valid: {', '.join(valid)}"
                              + suggest(key, valid))
    try:
        signature.bind(**kwargs)
    except TypeError as err:  # a required argument is missing
        raise ConfigError(f"objective '{name}': {err}") from err


def check_requirements(name: str, cls: type[Objective], loss: Any, data_kind: str | None) -> None:
    """Raise if ``data_kind`` is not one the objective trains on, or if the loss ``requires``
    a field (``hard_negative``, ``labels``, ...) that neither the data nor the objective gives.

    ``data_kind=None`` (the caller does not say): the loss is checked against what the objective
    gives with any data kind it accepts, i.e. the most permissive case.
    """
    kinds = getattr(cls, "data_kinds", tuple(DATA_FIELDS))
    if data_kind is None:
        given_any = frozenset().union(*(DATA_FIELDS[k] for k in kinds if k in DATA_FIELDS))
        _check_fields(name, loss, given_any | getattr(cls, "provides", frozenset()), "any")
        return
    if data_kind not in DATA_FIELDS:
        raise ConfigError(f"unknown data kind '{data_kind}'; valid: {', '.join(DATA_FIELDS)}"
                          + suggest(data_kind, DATA_FIELDS))
    if data_kind not in kinds:
        raise ConfigError(f"objective '{name}' trains on {', '.join(kinds)} data, not '{data_kind}'")
    _check_fields(name, loss, DATA_FIELDS[data_kind] | getattr(cls, "provides", frozenset()), data_kind)


def _check_fields(name: str, loss: Any, given: frozenset[str], data_kind: str) -> None:
    missing = set(getattr(loss, "requires", ())) - set(given)
    if missing:
        raise ConfigError(f"loss {type(loss).__name__} requires {', '.join(sorted(missing))}, which "
                          f"objective '{name}' on '{data_kind}' data does not provide")


def build_objective(name: str, *, data_kind: str | None = None, **kwargs: Any) -> Objective:
    """Build ``OBJECTIVES[name](**kwargs)`` (``encoder``, ``tokenizer``, ``loss`` and the
    objective's hyperparameters) after checking the names and the loss's requirements.

    ``data_kind`` is the variant's ``data`` (``wiki`` | ``nli``); pass it: without it only the
    objective-side half of the check can run (see ``check_requirements``).
    """
    cls = _lookup(name)
    _check_kwargs(name, cls, kwargs)
    check_requirements(name, cls, kwargs.get("loss"), data_kind)
    try:
        return cls(**kwargs)
    except ValueError as err:  # a value the constructor rejects
        raise ConfigError(f"objective '{name}': {err}") from err
