"""The explicit training loop (style.md §3.11; methods.md §0.5, §1.7).

Per step: set the LR from the pure ``lr_at``, ``out = objective(batch)``, backward, (average
gradients across processes), clip, step, zero the gradients, log ``out.stats``. Every
``eval_steps`` the STS-B dev set is scored with the evaluation stage's own STS code and the best
model so far is exported (SimCSE keeps only the best-on-dev checkpoint). Every ``save_steps`` a
resumable checkpoint is written. A NaN or infinite loss stops the run with an error naming the
step, before anything is updated or saved, so the last good checkpoint stays intact. The loop
knows nothing about which objective or loss it runs.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from sentemb.config import TrainConfig
from sentemb.errors import SentembError
from sentemb.objectives.base import Objective
from sentemb.training import distributed as ddp
from sentemb.training.checkpoint import LoopState, load_checkpoint, save_checkpoint
from sentemb.training.data import TrainData, epoch_order, rank_slice, steps_per_epoch
from sentemb.training.optim import build_optimizer, lr_at

log = logging.getLogger(__name__)
TIMING_KEYS = ("sentences_per_s", "elapsed_s")  # wall-clock fields: the only ones that differ run to run


class TrainingError(SentembError):
    """Training cannot continue (e.g. a non-finite loss)."""


@dataclass(frozen=True)
class RunPaths:
    checkpoint: Path  # resumable state, overwritten every save_steps
    steps_log: Path  # metrics/train/<variant>.jsonl (per-step stats)
    dev_log: Path  # metrics/train/<variant>.dev.jsonl (per-evaluation dev scores)
    dynamics_log: Path | None = None  # metrics/train/<variant>.dynamics.jsonl (geometry at each evaluation)


def total_steps(n: int, cfg: TrainConfig, world: int) -> int:
    steps = steps_per_epoch(n, cfg.batch_size, world) * cfg.epochs
    return min(steps, cfg.max_steps) if cfg.max_steps is not None else steps


def _truncate_log(path: Path, last_step: int) -> None:
    """Drop rows written after the checkpoint we resume from (they will be re-run identically)."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= last_step]
    path.write_text("".join(r + "\n" for r in rows))


def resolved_precision(device: torch.device, precision: str) -> str:
    """``auto`` is bf16 autocast on CUDA and fp32 elsewhere (issue 3: fp32 on CPU)."""
    return "bf16" if precision == "bf16" or (precision == "auto" and device.type == "cuda") else "fp32"


def _autocast(device: torch.device, precision: str) -> Any:
    if resolved_precision(device, precision) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def _average_gradients(params: list[torch.nn.Parameter]) -> None:
    """Every rank computed the global loss but holds gradients of its local rows only (§1.4):
    average them as DDP would."""
    world = ddp.world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def _row(step: int, state: LoopState, lr: float, out_stats: dict[str, torch.Tensor], grad_norm: float,
         n_sent: int, step_s: float, started: float) -> dict[str, Any]:
    row: dict[str, Any] = {"step": step, "epoch": state.epoch, "lr": lr}
    row.update({k: float(v) for k, v in out_stats.items()})
    row["grad_norm"] = grad_norm
    row["sentences_per_s"] = n_sent / max(step_s, 1e-9)
    row["elapsed_s"] = state.elapsed_s + time.perf_counter() - started
    return row


def train(objective: Objective, data: TrainData, cfg: TrainConfig, paths: RunPaths,
          evaluate_dev: Callable[[], dict[str, float]], export_best: Callable[[int, float], None],
          run_id: str = "", analyze: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run (or resume) training; returns the summary written to ``metrics/train/<variant>.json``.

    A checkpoint is resumed only when its ``run_id`` (a hash of the variant's resolved params)
    matches: a checkpoint left by a killed run under other params is discarded. ``analyze``, when
    given, runs after every dev evaluation and its result goes to ``paths.dynamics_log`` (the
    learning dynamics of methods.md §6.2 and SimCSE's Figure 2); it never affects training.
    """
    world, rank = ddp.world_size(), ddp.rank()
    params = objective.trainable_parameters()
    named = [(n, p) for n, p in objective.named_parameters() if p.requires_grad]
    optimizer = build_optimizer(named, cfg.lr, cfg.weight_decay)
    total = total_steps(len(data), cfg, world)
    warmup = int(cfg.warmup_ratio * total)
    state = LoopState()
    if paths.checkpoint.exists():
        loaded = load_checkpoint(paths.checkpoint, objective, optimizer, run_id)
        if loaded is None:
            log.warning("discarding %s: written under other params", paths.checkpoint)
            paths.checkpoint.unlink()
        else:
            state = loaded
            log.info("resumed from %s at step %d", paths.checkpoint, state.step)
    for path in (paths.steps_log, paths.dev_log, paths.dynamics_log):
        if path is not None:
            _truncate_log(path, state.step) if state.step else path.unlink(missing_ok=True)
    epoch_len = min(len(data), steps_per_epoch(len(data), cfg.batch_size, world) * cfg.batch_size * world)
    objective.train()
    started, sentences = time.perf_counter(), 0
    while state.step < total:
        order = epoch_order(len(data), cfg.seed, state.epoch)
        batch = data.batch(rank_slice(order, state.offset, cfg.batch_size, rank, world))
        lr = lr_at(state.step, total, cfg.lr, warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        t0 = time.perf_counter()
        with _autocast(objective.device, cfg.precision):
            out = objective(batch)
        if not torch.isfinite(out.total):
            raise TrainingError(f"step {state.step + 1}: loss is {out.total.item()}; stopped before the update, "
                                f"last good checkpoint: {paths.checkpoint if paths.checkpoint.exists() else 'none'}")
        out.total.backward()
        if world > 1:
            _average_gradients(params)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        state.offset += cfg.batch_size * world
        if state.offset >= epoch_len:
            state.epoch, state.offset = state.epoch + 1, 0
        sentences += len(batch) * world
        row = _row(state.step, state, lr, out.stats, grad_norm, len(batch) * world, time.perf_counter() - t0, started)
        if rank == 0:
            _append(paths.steps_log, row)
        if state.step % cfg.eval_steps == 0 or state.step == total:
            _evaluate(state, evaluate_dev, export_best, paths, rank)
            if analyze is not None and paths.dynamics_log is not None and rank == 0:
                _append(paths.dynamics_log, {"step": state.step, **analyze()})
        if state.step % cfg.save_steps == 0 and state.step < total and rank == 0:
            state.elapsed_s += time.perf_counter() - started
            started = time.perf_counter()
            save_checkpoint(paths.checkpoint, objective, optimizer, state, {"run_id": run_id, "total_steps": total})
    wall = state.elapsed_s + time.perf_counter() - started
    return {"steps": state.step, "total_steps": total, "epochs": cfg.epochs, "best_dev_stsb": state.best_score,
            "best_step": state.best_step, "wall_s": wall, "sentences_per_s": sentences / max(wall, 1e-9),
            "world_size": world, "train_examples": len(data)}


def _evaluate(state: LoopState, evaluate_dev: Callable[[], dict[str, float]],
              export_best: Callable[[int, float], None], paths: RunPaths, rank: int) -> None:
    """STS-B dev (x100, the selection metric) and SICK-R dev; export when STS-B dev improves."""
    if rank != 0:
        dist.barrier()  # wait for rank 0's evaluation and export
        return
    scores = evaluate_dev()
    if not math.isfinite(scores["stsb_dev"]):
        raise TrainingError(f"step {state.step}: STS-B dev score is {scores['stsb_dev']}")
    improved = scores["stsb_dev"] > state.best_score
    if improved:
        state.best_score, state.best_step = scores["stsb_dev"], state.step
        export_best(state.step, scores["stsb_dev"])
    _append(paths.dev_log, {"step": state.step, **scores, "best": state.best_score})
    log.info("step %d dev %s%s", state.step, scores, " (best)" if improved else "")
    if ddp.world_size() > 1:
        dist.barrier()


def _append(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, allow_nan=False) + "\n")
