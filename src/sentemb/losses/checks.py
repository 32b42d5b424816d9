"""Argument and batch checks shared by the losses (one-line messages naming the parameter)."""

from __future__ import annotations

import math

from sentemb.losses.base import EmbeddingBatch


def is_real(x: object) -> bool:
    """A finite int or float; bool is rejected (``margin: true`` in params.yaml is a mistake)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_positive(name: str, value: object, allow_zero: bool = False) -> float:
    """``value`` as a float, or ValueError naming ``name`` unless it is finite and > 0 (>= 0)."""
    ok = is_real(value) and (value >= 0 if allow_zero else value > 0)  # type: ignore[operator]
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_real(name: str, value: object) -> float:
    if not is_real(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_pairs(batch: EmbeddingBatch, loss: str) -> None:
    """In-batch negatives need at least two pairs."""
    if batch.anchor.shape[0] < 2:
        raise ValueError(f"{loss} needs a batch of at least 2 pairs (in-batch negatives), got {batch.anchor.shape[0]}")


def check_flag(name: str, value: object) -> bool:
    """``value`` if it is a bool; ValueError otherwise (1 or "yes" are not switches)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value
