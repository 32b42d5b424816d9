"""The job files: what each stage reads (``metrics/config/<kind>/<run>.json``).

The ``check_params`` stage writes them from ``params.yaml`` (``config/resolve.py``); each other
stage loads its own with ``load_job`` and depends on that file only, so this module is kept free
of everything the resolution needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sentemb.config.load import from_dict
from sentemb.config.schema import (
    AnalyzeConfig,
    FirstLayer,
    MethodConfig,
    PairMethodConfig,
    PairTaskConfig,
    Pooler,
    ShuffleConfig,
    TaskFamily,
    TrainConfig,
)
from sentemb.errors import ConfigError

J = TypeVar("J")


@dataclass(frozen=True)
class ModelRef:
    """Where a model comes from (a hub id, a local directory or the offline MiniLM) and its label."""

    model: str
    label: str
    revision: str | None = None


@dataclass(frozen=True)
class DevConfig:
    """How the dev evaluation during training encodes: exactly as ``sentemb evaluate --mode dev``
    would, so the score that selects a checkpoint is the one evaluation reproduces."""

    batch_size: int
    max_length: int | None
    first_layer_index: FirstLayer


@dataclass(frozen=True)
class TrainJob:
    run: str
    method: str
    backbone: ModelRef
    recipe: MethodConfig
    train: TrainConfig
    analyze: AnalyzeConfig
    dev: DevConfig


@dataclass(frozen=True)
class EvalJob:
    """One evaluation: ``model`` is None for a trained run (the stage is given its exported model)."""

    run: str
    model: ModelRef | None
    pooler: Pooler
    first_layer_index: FirstLayer
    tasks: TaskFamily
    mode: str
    batch_size: int
    max_length: int | None
    seed: int
    precision: str
    cache_dir: str
    verified_data_required: bool = True
    share_poolers: list[str] = field(default_factory=list)  # sibling baselines read off the same pass


@dataclass(frozen=True)
class AnalyzeJob:
    run: str
    model: ModelRef | None
    pooler: Pooler
    first_layer_index: FirstLayer
    analyze: AnalyzeConfig


@dataclass(frozen=True)
class PairJob:
    run: str
    task_name: str
    method_name: str
    backbone: ModelRef
    pooler: Pooler
    trials: int
    cache_dir: str
    task: PairTaskConfig
    method: PairMethodConfig
    loss_args: dict[str, Any]
    train: TrainConfig
    shuffle: ShuffleConfig
    eval_batch_size: int
    applicable: bool = True
    reason: str = ""


@dataclass(frozen=True)
class RowSpec:
    """One table row: an untrained baseline or a method, on one backbone, over its seeds."""

    id: str  # "<method>.<backbone>" or "<baseline>.<backbone>"
    label: str  # what tables and figures show
    kind: str  # "baseline" | "method"
    name: str  # the method or baseline key
    backbone: str
    table: str | None  # the method's table; None for a baseline (shown where a table needs it)
    tasks: TaskFamily
    runs: list[str]  # eval/analysis (and train) file stems, one per seed
    reference: str | None = None  # row id this row is compared with
    loss: str | None = None
    loss_args: dict[str, Any] = field(default_factory=dict)
    loss_family: str | None = None  # the loss's ``family`` (contrastive | non_contrastive | pair)
    loss_fields: dict[str, Any] = field(default_factory=dict)  # its hyperparameters, defaults filled in


@dataclass(frozen=True)
class PairColumnSpec:
    task: str
    label: str
    metric: str
    table_metrics: list[str]


@dataclass(frozen=True)
class PairRowSpec:
    method: str
    label: str
    loss: str | None
    shuffle: str
    reference: str | None
    runs: dict[str, str]  # task -> pair run name
    applicable: dict[str, bool]  # task -> whether the cell exists (triplets need labelled negatives)


@dataclass(frozen=True)
class AggregateJob:
    mode: str
    sts_title: str
    transfer_title: str
    paradigm_title: str
    pairs_title: str
    rows: list[RowSpec]
    paradigm_reference: dict[str, str]  # backbone -> the untrained row the paradigm table starts from
    pair_columns: list[PairColumnSpec]
    pair_rows: list[PairRowSpec]
    seeds: list[int]
    bootstrap_resamples: int
    bootstrap_seed: int
    verified_data: bool  # false: every caption says "unverified data"


def load_job(path: str | Path, cls: type[J]) -> J:
    """A job file as its dataclass, checked as strictly as params.yaml."""
    from sentemb.utils.io import read_json

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: job file not found; run the check_params stage (`dvc repro check_params`)")
    try:
        return from_dict(cls, read_json(path))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
