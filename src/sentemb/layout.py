"""Every name and path of a run, in one place (docs/pipeline.md "Run layout").

``dvc.yaml`` passes each stage its directories; this module turns a run's identity into its file
names there, and back. ``tests/test_layout.py`` checks that the outputs ``dvc.yaml`` declares for
every stage are exactly the files this module names, so the two cannot drift apart.

Names (stable across commits, so ``dvc metrics diff`` compares like with like):

* trained run ``<method>.<backbone>.s<seed>``; its table row ``<method>.<backbone>``;
* untrained row ``<baseline>.<backbone>``;
* pair run ``<task>-<method>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sentemb.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # no '.', '-' or '@': they separate the parts of run and stage names


def check_name(kind: str, name: str) -> str:
    """A method, backbone, baseline or task name must be one token of letters, digits and '_'."""
    if not _NAME.match(name):
        raise ConfigError(f"{kind} '{name}': names may hold only letters, digits and '_' (they become file and "
                          "DVC stage names)")
    return name


@dataclass(frozen=True, order=True)
class TrainRun:
    """One trained run: a method on a backbone with a seed."""

    method: str
    backbone: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.method}.{self.backbone}.s{self.seed}"

    @property
    def row(self) -> str:
        """The table row this run belongs to (all seeds of a method on a backbone)."""
        return f"{self.method}.{self.backbone}"

    def stage(self, kind: str) -> str:
        """DVC stage name, e.g. ``train@simcse_unsup-minilm-42``."""
        return f"{kind}@{self.method}-{self.backbone}-{self.seed}"

    @classmethod
    def parse(cls, name: str) -> TrainRun:
        match = re.fullmatch(r"([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\.s(\d+)", name)
        if match is None:
            raise ConfigError(f"'{name}' is not a run name of the form <method>.<backbone>.s<seed>")
        return cls(match[1], match[2], int(match[3]))


@dataclass(frozen=True, order=True)
class BaselineRun:
    """An untrained row: a baseline (pooler) on a backbone."""

    baseline: str
    backbone: str

    @property
    def name(self) -> str:
        return f"{self.baseline}.{self.backbone}"

    row = name

    def stage(self, kind: str) -> str:
        return f"{kind}@{self.baseline}-{self.backbone}"


@dataclass(frozen=True, order=True)
class PairRun:
    """One pair fine-tuning run: a pair method on a pair task."""

    task: str
    method: str

    @property
    def name(self) -> str:
        return f"{self.task}-{self.method}"

    def stage(self) -> str:
        return f"finetune_pairs@{self.task}-{self.method}"


@dataclass(frozen=True)
class ModelDir:
    """A trained run's directory: resumable checkpoint and the exported model."""

    root: Path

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.pt"

    @property
    def exported(self) -> Path:
        return self.root / "model"

    @property
    def meta(self) -> Path:
        """``sentemb.json``: the eval pooler, the train-time head and the selection step/score."""
        return self.exported / "sentemb.json"

    def trial(self, k: int) -> ModelDir:
        """Pair runs with several seed trials keep each trial's state apart."""
        return ModelDir(self.root / f"trial{k}")


@dataclass(frozen=True)
class RunFiles:
    """The files one run writes under a metrics directory."""

    metrics: Path  # small, flat: headline numbers only
    details: Path  # everything else: per-subset results, settings, provenance
    steps: Path | None = None  # per-step training log (JSON lines)
    dev: Path | None = None  # per-evaluation dev scores (JSON lines)
    dynamics: Path | None = None  # geometry at every dev evaluation (JSON lines)
    items: Path | None = None  # per-item outputs for the bootstrap (npz)
    # Whether ``metrics`` is declared a DVC metric: the results (scores) are; the training and
    # geometry headlines are plain outputs, so that `dvc metrics show` stays a screen or two
    # (one row per run, the union of every file's keys as columns) and `dvc metrics diff` shows
    # scores. `dvc metrics show metrics/train/<run>.json` still reads one of them.
    dvc_metric: bool = True


PLOT_FAMILIES = ("steps", "dev", "grad", "paradigm", "pairs", "analysis", "dynamics")


@dataclass(frozen=True)
class MetricsRoot:
    """``metrics/``: every git-tracked output of the pipeline, by kind."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def eval(self) -> Path:
        return self.root / "eval"

    @property
    def train(self) -> Path:
        return self.root / "train"

    @property
    def analysis(self) -> Path:
        return self.root / "analysis"

    @property
    def pairs(self) -> Path:
        return self.root / "pairs"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    def plot_dirs(self) -> list[Path]:
        """One directory of TSVs per plot family (each an output of the aggregate stage)."""
        return [self.plots / family for family in PLOT_FAMILIES]

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    def job(self, kind: str, name: str) -> Path:
        """The resolved settings of one stage (written by ``check_params``)."""
        return self.config / kind / f"{name}.json"


def train_files(train_dir: Path, run: str) -> RunFiles:
    d = Path(train_dir)
    return RunFiles(d / f"{run}.json", d / f"{run}.details.json", steps=d / f"{run}.jsonl",
                    dev=d / f"{run}.dev.jsonl", dynamics=d / f"{run}.dynamics.jsonl", dvc_metric=False)


def eval_files(eval_dir: Path, run: str) -> RunFiles:
    d = Path(eval_dir)
    return RunFiles(d / f"{run}.json", d / f"{run}.details.json", items=d / f"{run}.items.npz")


def analysis_files(analysis_dir: Path, run: str) -> RunFiles:
    d = Path(analysis_dir)
    return RunFiles(d / f"{run}.json", d / f"{run}.details.json", dvc_metric=False)


def pair_files(pairs_dir: Path, run: str) -> RunFiles:
    d = Path(pairs_dir)
    return RunFiles(d / f"{run}.json", d / f"{run}.details.json", steps=d / f"{run}.jsonl",
                    dev=d / f"{run}.dev.jsonl", items=d / f"{run}.items.npz")
