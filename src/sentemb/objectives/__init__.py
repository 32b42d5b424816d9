"""Objective registry: the names ``params.yaml`` uses, mapped explicitly.

``build_objective(name, ctx, data_kind=..., **objective_args)`` checks the names and the
loss's requirements, then lets the class build itself from the shared ``BuildContext``
(``Objective.from_recipe``), so no caller branches on the objective's name.
``check_objective`` runs the same checks without building anything (the ``check_params`` stage).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from sentemb.config.load import suggest
from sentemb.errors import ConfigError
from sentemb.objectives.base import BuildContext, Objective, TextBatch
from sentemb.objectives.diffcse import DiffCSEObjective
from sentemb.objectives.esimcse import ESimCSEObjective
from sentemb.objectives.two_view import TwoViewObjective

OBJECTIVES: dict[str, type[Objective]] = {
    "two_view": TwoViewObjective,
    "esimcse": ESimCSEObjective,
    "diffcse": DiffCSEObjective,
}

# EmbeddingBatch fields each training-data kind fills beyond anchor/positive (training/data.py):
# wiki = single sentences (dropout or edited views), nli = SimCSE triplets (docs/methods.md §1.3).
DATA_FIELDS: Mapping[str, frozenset[str]] = {
    "wiki": frozenset(),
    "nli": frozenset({"hard_negative"}),
}

__all__ = ["DATA_FIELDS", "OBJECTIVES", "BuildContext", "Objective", "TextBatch", "build_objective",
           "check_objective", "check_requirements", "objective_names"]


def objective_names() -> list[str]:
    return sorted(OBJECTIVES)


def _lookup(name: str) -> type[Objective]:
    if name in OBJECTIVES:
        return OBJECTIVES[name]
    names = objective_names()
    raise ConfigError(f"unknown objective '{name}'; valid: {', '.join(names)}" + suggest(name, names))


def _check_kwargs(name: str, cls: type[Objective], kwargs: Mapping[str, Any]) -> None:
    """``kwargs`` against the keyword-only arguments of ``cls.from_recipe``."""
    params = inspect.signature(cls.from_recipe).parameters
    valid = [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]
    for key in kwargs:
        if key not in valid:
            raise ConfigError(f"objective '{name}': unknown argument '{key}'; valid: {', '.join(valid) or 'none'}"
                              + suggest(key, valid))


def check_requirements(name: str, cls: type[Objective], loss: Any, data_kind: str) -> None:
    """Raise if ``data_kind`` is not one the objective trains on, or if the loss ``requires``
    a field (``hard_negative``, ``labels``, ...) that neither the data nor the objective gives."""
    if data_kind not in DATA_FIELDS:
        raise ConfigError(f"unknown data kind '{data_kind}'; valid: {', '.join(DATA_FIELDS)}"
                          + suggest(data_kind, DATA_FIELDS))
    if data_kind not in cls.data_kinds:
        raise ConfigError(f"objective '{name}' trains on {', '.join(cls.data_kinds)} data, not '{data_kind}'")
    missing = set(getattr(loss, "requires", ())) - set(DATA_FIELDS[data_kind] | cls.provides)
    if missing:
        raise ConfigError(f"loss {type(loss).__name__} requires {', '.join(sorted(missing))}, which "
                          f"objective '{name}' on '{data_kind}' data does not provide")


def check_objective(name: str, objective_args: Mapping[str, Any], *, loss: Any, data_kind: str, head: str,
                    train_pooler: str) -> None:
    """Every check ``build_objective`` makes, without building (no weights are loaded)."""
    cls = _lookup(name)
    _check_kwargs(name, cls, objective_args)
    check_requirements(name, cls, loss, data_kind)
    try:
        cls.check_args(head=head, train_pooler=train_pooler, **objective_args)
    except ValueError as err:
        raise ConfigError(f"objective '{name}': {err}") from err


def build_objective(name: str, ctx: BuildContext, *, data_kind: str, train_pooler: str,
                    **objective_args: Any) -> Objective:
    """``OBJECTIVES[name].from_recipe(ctx, **objective_args)`` after ``check_objective``."""
    check_objective(name, objective_args, loss=ctx.loss, data_kind=data_kind, head=ctx.head,
                    train_pooler=train_pooler)
    try:
        return _lookup(name).from_recipe(ctx, **objective_args)
    except ValueError as err:  # a value the constructor rejects
        raise ConfigError(f"objective '{name}': {err}") from err
