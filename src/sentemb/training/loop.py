"""The one training loop, for every objective: the SimCSE family, the paradigm rows and pair tasks
(docs/methods.md §0.5, §1.7, §4.4-4.5).

Per step: set each group's learning rate from the schedule, ``out = objective(batch)`` (under
bf16 autocast on CUDA; losses compute in fp32), backward, average gradients across processes,
clip, step, zero the gradients, log ``out.stats``. The data order of each epoch comes from an
``order`` hook (a seeded permutation by default; pair tasks pass their shuffling strategy, which
may embed with the current model) and is stored in the checkpoint, so a resumed epoch visits the
same batches. Dev evaluation runs at every multiple of ``eval_steps`` (HF semantics: no extra
evaluation at the last step) or, with ``eval_steps: null``, at the end of every epoch; the model
is exported when the selection metric improves (only the best checkpoint is kept, as SimCSE and
SBERT do). A resumable checkpoint is written every ``save_steps`` (or every epoch). A NaN or
infinite loss stops the run before the update, leaving the last good checkpoint intact. The loop
knows nothing about which objective, loss or task it runs.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist

from sentemb.config import TrainConfig
from sentemb.errors import SentembError
from sentemb.layout import RunFiles
from sentemb.objectives.base import Objective, TextBatch
from sentemb.training import distributed as ddp
from sentemb.training.checkpoint import LoopState, load_checkpoint, save_checkpoint
from sentemb.training.data import epoch_order, rank_slice, steps_per_epoch
from sentemb.training.optim import build_optimizer, set_lr, warmup_steps
from sentemb.utils.progress import Progress

log = logging.getLogger(__name__)
TIMING_KEYS = ("sentences_per_s", "elapsed_s", "order_s")  # wall-clock fields: the only ones that differ run to run


class TrainingError(SentembError):
    """Training cannot continue (e.g. a non-finite loss)."""


class Dataset(Protocol):
    def __len__(self) -> int: ...

    def batch(self, indices: np.ndarray) -> TextBatch: ...


@dataclass(frozen=True)
class EpochPlan:
    """The visiting order of one epoch, and whether dropout is on while it trains."""

    order: np.ndarray
    dropout: bool = True


@dataclass(frozen=True)
class Hooks:
    """What a run plugs into the loop. ``evaluate_dev`` returns dev scores that include ``select``
    (the selection metric, higher is better); ``export_best(step, score)`` writes the model;
    ``order(epoch)`` plans an epoch; ``analyze`` runs after each evaluation (learning dynamics)."""

    evaluate_dev: Callable[[], dict[str, float]]
    export_best: Callable[[int, float], None]
    select: str = "stsb_dev"
    order: Callable[[int], EpochPlan] | None = None
    analyze: Callable[[], dict[str, Any]] | None = None
    log_extra: dict[str, Any] = field(default_factory=dict)  # constant fields of every logged row


def total_steps(n: int, cfg: TrainConfig, world: int) -> int:
    steps = steps_per_epoch(n, cfg.batch_size, world) * cfg.epochs
    return min(steps, cfg.max_steps) if cfg.max_steps is not None else steps


def local_batch(cfg: TrainConfig, world: int) -> int:
    """``batch_size`` is global: each of ``world`` processes takes an equal share of it."""
    if cfg.batch_size % world:
        raise TrainingError(f"batch_size {cfg.batch_size} is global and must be divisible by the {world} processes")
    return cfg.batch_size // world


def resolved_precision(device: torch.device, precision: str) -> str:
    """``auto`` is bf16 autocast on CUDA and fp32 elsewhere."""
    return "bf16" if precision == "bf16" or (precision == "auto" and device.type == "cuda") else "fp32"


def _autocast(device: torch.device, precision: str) -> Any:
    if resolved_precision(device, precision) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def _average_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Every rank computed the global loss but holds gradients of its local rows only
    (docs/methods.md §1.4): average them as DDP would, before clipping."""
    world = ddp.world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def _truncate_log(path: Path, last_step: int) -> None:
    """Drop rows written after the checkpoint we resume from (they will be re-run identically)."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= last_step]
    path.write_text("".join(r + "\n" for r in rows))


def _append(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, allow_nan=False) + "\n")


class Loop:
    """One run of the loop; ``run()`` trains (or resumes) and returns the summary."""

    def __init__(self, objective: Objective, data: Dataset, cfg: TrainConfig, files: RunFiles, checkpoint: Path,
                 hooks: Hooks, run_id: str = "") -> None:
        self.objective, self.data, self.cfg, self.files, self.hooks = objective, data, cfg, files, hooks
        self.checkpoint, self.run_id = checkpoint, run_id
        self.world, self.rank = ddp.world_size(), ddp.rank()
        self.per_rank = local_batch(cfg, self.world)
        self.params = objective.trainable_parameters()
        named = [(n, p) for n, p in objective.named_parameters() if p.requires_grad]
        self.optimizer = build_optimizer(named, objective.param_groups(), cfg)
        self.total = total_steps(len(data), cfg, self.world)
        self.warmup = warmup_steps(self.total, cfg.warmup_ratio)
        self.epoch_len = min(len(data), steps_per_epoch(len(data), cfg.batch_size, self.world) * cfg.batch_size)
        if cfg.eval_steps is not None and cfg.eval_steps > self.total:
            raise TrainingError(f"eval_steps {cfg.eval_steps} exceeds the run's {self.total} steps: no checkpoint "
                                "would ever be evaluated and selected (lower eval_steps or use null: every epoch)")
        self.state = LoopState()

    # -- set-up ------------------------------------------------------------------------------
    def _resume(self) -> None:
        if not self.checkpoint.exists():
            return
        loaded = load_checkpoint(self.checkpoint, self.objective, self.optimizer, self.run_id)
        if loaded is None:
            log.warning("discarding %s: written under other params", self.checkpoint)
            self.checkpoint.unlink()
        else:
            self.state = loaded
            log.info("resumed from %s at step %d", self.checkpoint, self.state.step)

    def _reset_logs(self) -> None:
        for path in (self.files.steps, self.files.dev, self.files.dynamics):
            if path is not None:
                _truncate_log(path, self.state.step) if self.state.step else path.unlink(missing_ok=True)

    def _plan(self) -> None:
        """Plan the current epoch unless the checkpoint already holds its plan."""
        s = self.state
        if s.order is not None and s.order_epoch == s.epoch:
            return
        started = time.perf_counter()
        plan = (self.hooks.order or (lambda e: EpochPlan(epoch_order(len(self.data), self.cfg.seed, e))))(s.epoch)
        s.order, s.order_epoch, s.dropout = np.asarray(plan.order, dtype=np.int64), s.epoch, plan.dropout
        s.order_s = time.perf_counter() - started

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        self._resume()
        self._reset_logs()
        started, sentences = time.perf_counter(), 0
        progress = Progress(self.total, "train", unit="step", initial=self.state.step)
        while self.state.step < self.total:
            self._plan()
            self.objective.train(self.state.dropout)
            row = self._step()
            sentences += row["batch"]
            progress.update(loss=row.get("loss"))
            self._after_step(started)
        progress.close()
        wall = self.state.elapsed_s + time.perf_counter() - started
        return {"steps": self.state.step, "total_steps": self.total, "epochs": self.cfg.epochs,
                "select": self.hooks.select, "best_dev": self.state.best_score, "best_step": self.state.best_step,
                "wall_s": wall, "sentences_per_s": sentences / max(wall, 1e-9), "world_size": self.world,
                "train_examples": len(self.data)}

    def _step(self) -> dict[str, Any]:
        s, cfg = self.state, self.cfg
        assert s.order is not None  # planned by _plan
        batch = self.data.batch(rank_slice(s.order, s.offset, self.per_rank, self.rank, self.world))
        lr = set_lr(self.optimizer, s.step, self.total, self.warmup)
        t0 = time.perf_counter()
        with _autocast(self.objective.device, cfg.precision):
            out = self.objective(batch)
        if not torch.isfinite(out.total):
            last = self.checkpoint if self.checkpoint.exists() else "none"
            raise TrainingError(f"step {s.step + 1}: loss is {out.total.item()}; stopped before the update, "
                                f"last good checkpoint: {last}")
        out.total.backward()
        if self.world > 1:
            _average_gradients(self.params)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        s.step += 1
        s.offset += cfg.batch_size
        n = len(batch) * self.world
        row: dict[str, Any] = {"step": s.step, "epoch": s.epoch, **self.hooks.log_extra, "lr": lr}
        row |= {k: float(v) for k, v in out.stats.items()}
        row |= {"grad_norm": grad_norm, "sentences_per_s": n / max(time.perf_counter() - t0, 1e-9),
                "elapsed_s": s.elapsed_s + time.perf_counter() - t0, "order_s": s.order_s}
        if self.rank == 0 and self.files.steps is not None:
            _append(self.files.steps, row)
        return row | {"batch": n}

    def _after_step(self, started: float) -> None:
        s, cfg = self.state, self.cfg
        epoch_done = s.offset >= self.epoch_len
        if epoch_done:
            s.epoch, s.offset = s.epoch + 1, 0
        due = s.step % cfg.eval_steps == 0 if cfg.eval_steps is not None else epoch_done
        if due:
            self._evaluate()
        save_due = s.step % cfg.save_steps == 0 if cfg.save_steps is not None else epoch_done
        if save_due and s.step < self.total and self.rank == 0:
            s.elapsed_s += time.perf_counter() - started
            save_checkpoint(self.checkpoint, self.objective, self.optimizer, s,
                            {"run_id": self.run_id, "total_steps": self.total})

    def _evaluate(self) -> None:
        """The dev scores (``select`` decides) and the export when the selection metric improves."""
        if self.rank != 0:
            dist.barrier()  # wait for rank 0's evaluation and export
            return
        s, select = self.state, self.hooks.select
        scores = self.hooks.evaluate_dev()
        if not math.isfinite(scores[select]):
            raise TrainingError(f"step {s.step}: dev {select} is {scores[select]}")
        improved = scores[select] > s.best_score
        if improved:
            s.best_score, s.best_step = scores[select], s.step
            self.hooks.export_best(s.step, scores[select])
        if self.files.dev is not None:
            _append(self.files.dev, {"step": s.step, "epoch": s.epoch, **self.hooks.log_extra, **scores,
                                     "best": s.best_score})
        if self.hooks.analyze is not None and self.files.dynamics is not None:
            _append(self.files.dynamics, {"step": s.step, **self.hooks.analyze()})
        log.info("step %d dev %s%s", s.step, {k: round(v, 4) for k, v in scores.items()},
                 " (best)" if improved else "")
        if self.world > 1:
            dist.barrier()


def train(objective: Objective, data: Dataset, cfg: TrainConfig, files: RunFiles, checkpoint: Path,
          hooks: Hooks, run_id: str = "") -> dict[str, Any]:
    """Run (or resume) one training run; see the module docstring.

    A checkpoint is resumed only when its ``run_id`` (a hash of the run's resolved settings)
    matches: one left by a killed run under other settings is discarded."""
    return Loop(objective, data, cfg, files, checkpoint, hooks, run_id).run()
