"""Typed, strict configuration: the schema of ``params.yaml`` (``schema``), the strict loader
(``load``), the resolution of each stage's settings (``resolve``), whole-file validation
(``check``) and profile overlays (``profile``)."""

from __future__ import annotations

from pathlib import Path

from sentemb.config.load import check_value, from_dict, merge_patch, params_hash, read_yaml, suggest
from sentemb.config.schema import (
    AggregateConfig,
    AnalyzeConfig,
    BackboneConfig,
    BaselineConfig,
    DataConfig,
    EvaluateConfig,
    FirstLayer,
    MethodConfig,
    Mode,
    PairMethodConfig,
    PairsConfig,
    PairTaskConfig,
    Params,
    Pooler,
    ShuffleConfig,
    TaskFamily,
    TrainConfig,
)
from sentemb.errors import ConfigError

__all__ = [
    "AggregateConfig", "AnalyzeConfig", "BackboneConfig", "BaselineConfig", "DataConfig", "EvaluateConfig",
    "FirstLayer", "MethodConfig", "Mode", "PairMethodConfig", "PairTaskConfig", "PairsConfig", "Params", "Pooler",
    "ShuffleConfig", "TaskFamily", "TrainConfig", "check_value", "from_dict", "load_params", "merge_patch",
    "params_hash", "read_yaml", "suggest",
]


def load_params(path: str | Path = "params.yaml") -> Params:
    """Load and validate ``params.yaml``; any problem raises ConfigError naming the file and key."""
    try:
        return from_dict(Params, read_yaml(path))
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith(str(path)) else f"{path}: {message}") from None
