"""Assemble one pair run (task x method) from its job: data, loss, seed trials through the one
training loop, export, test metrics (docs/methods.md §4.5).

The stage ``finetune_pairs@<task>-<method>`` calls ``run_pair``. Dev decides everything (the
epoch, the trial, the classification thresholds); test is scored once, on the exported model
re-loaded from disk, so the reported numbers are those of the artifact DVC tracks. Each trial
trains in its own directory with its own checkpoint, so a killed run resumes inside the trial
it was in; a finished trial leaves a summary and is not trained again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentemb.config import PairTaskConfig, params_hash
from sentemb.config.jobs import PairJob
from sentemb.errors import ConfigError
from sentemb.layout import ModelDir, RunFiles
from sentemb.losses import build_loss
from sentemb.losses.paradigm import GradientDiagnostics
from sentemb.models.encoder import SentenceEncoder, is_standin, load_backbone, resolve_model_path
from sentemb.pairs.metrics import evaluate_split
from sentemb.pairs.objective import PairData, PairObjective, TripletData, pair_order
from sentemb.pairs.ranking import evaluate_ranking
from sentemb.pairs.records import PairTask
from sentemb.pairs.sources import NDCG_GAINS, PAIR_SOURCES, ranking_set
from sentemb.pairs.tasks import OFFLINE, ensure_splits, load_offline_task, read_pair_file
from sentemb.training.export import export_model
from sentemb.training.loop import Hooks, train
from sentemb.training.run import load_for_training, seed_everything
from sentemb.utils.device import pick_device
from sentemb.utils.io import atomic_dir, read_json, read_jsonl, write_items, write_json

log = logging.getLogger(__name__)


def load_pair_task(t: PairTaskConfig, name: str, data_dir: Path, cache_dir: Path, seed: int) -> PairTask:
    """The task's pairs: offline SentEval files, a user's TSV files, or an online loader."""
    if t.source in OFFLINE:
        task = load_offline_task(t.source, data_dir, seed)
    elif t.source == "file":
        if t.path is None or t.kind is None:
            raise ConfigError(f"pairs.tasks.{name}: source 'file' needs path (a directory with train/dev/test.tsv) "
                              "and kind (regression | classification | ranking)")
        task = PairTask(name, t.kind, {s: read_pair_file(Path(t.path) / f"{s}.tsv") for s in ("train", "dev", "test")})
    else:  # online: download (or reuse the cache), then parse (pairs/sources/)
        source = PAIR_SOURCES[t.source]
        task = source.read(source.fetch(cache_dir), **t.source_args)  # fetched into cache_dir/<its folder>
    task = ensure_splits(task, seed)
    if t.max_train_pairs is not None and t.max_train_pairs < len(task.splits["train"]):
        keep = np.sort(np.random.default_rng(seed).choice(len(task.splits["train"]), t.max_train_pairs,
                                                          replace=False))  # file order kept: shuffle 'none'
        task = dataclasses.replace(task, splits=task.splits | {"train": [task.splits["train"][i] for i in keep]})
    return task


def scores(task: PairTask, split: str, encoder: SentenceEncoder, t: PairTaskConfig, max_len: int, batch: int,
           cache_dir: Path, items: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Every metric of ``split`` (and, into ``items``, its per-item outputs); online ranking tasks
    are scored on their source's RankingSet (PFCC-S ranks the whole verified-claim corpus) with
    the source's nDCG gain."""
    def embed(texts: Sequence[str]) -> np.ndarray:
        return encoder.encode(list(texts), batch, max_len)

    if task.kind == "ranking" and t.source in PAIR_SOURCES:
        rset = ranking_set(t.source, cache_dir / t.source, task, split)  # = fetch(cache_dir) for pfcc_s
        return evaluate_ranking(rset, embed, relevant_at=t.relevant_at, gain=NDCG_GAINS.get(t.source), items=items)
    return evaluate_split(task, split, embed, t.relevant_at, items)


def _encoder(path: Path, pooler: str) -> SentenceEncoder:
    backbone, tokenizer = load_backbone(path)
    return SentenceEncoder(backbone, tokenizer, pooler).to(pick_device())


def _dataset(job: PairJob, task: PairTask, loss: Any) -> PairData | TripletData:
    train = task.split("train")
    if job.method.data == "pairs":
        return PairData(train)
    return TripletData(train, lambda y: bool(loss.is_positive(y)))


def _trial(job: PairJob, task: PairTask, base: Path, k: int, model_dir: ModelDir, meta: dict[str, Any],
           cache: Path) -> dict[str, Any]:
    """Train seed trial ``k`` (or resume it) in its own directory; returns its summary."""
    tdir = model_dir.trial(k)
    done = tdir.root / "summary.json"
    if done.exists():
        return read_json(done)
    cfg = dataclasses.replace(job.train, seed=job.train.seed + k)
    seed_everything(cfg.seed)
    backbone, tokenizer = load_for_training(base, cfg)
    encoder = SentenceEncoder(backbone, tokenizer, job.pooler)
    loss = build_loss(job.method.loss, **job.loss_args)  # type: ignore[arg-type]
    data = _dataset(job, task, loss)
    objective = PairObjective(encoder, tokenizer, GradientDiagnostics(loss) if cfg.grad_diagnostics else loss,
                              max_seq_length=cfg.max_seq_length, gather_negatives=cfg.gather_negatives)
    objective.to(pick_device())

    def embed(texts: list[str]) -> np.ndarray:
        return encoder.encode(texts, job.eval_batch_size, cfg.max_seq_length)

    def dev() -> dict[str, float]:
        return scores(task, "dev", encoder, job.task, cfg.max_seq_length, job.eval_batch_size, cache)

    def export_best(step: int, score: float) -> None:
        export_model(tdir.exported, encoder.backbone, tokenizer, eval_pooler=job.pooler, head=None,
                     meta=meta | {"trial": k, "step": step, f"dev_{job.task.metric}": score})

    files = RunFiles(tdir.root / "summary.json", tdir.root / "details.json", steps=tdir.root / "steps.jsonl",
                     dev=tdir.root / "dev.jsonl")
    hooks = Hooks(dev, export_best, select=job.task.metric, log_extra={"trial": k},
                  order=pair_order(job.method.shuffle, data.pairs, job.shuffle, cfg.seed, embed))
    summary = train(objective, data, cfg, files, tdir.checkpoint, hooks, run_id=params_hash(meta | {"trial": k}))
    tdir.checkpoint.unlink(missing_ok=True)
    write_json(done, summary | {"trial": k})
    return summary | {"trial": k}


def _merge_logs(model_dir: ModelDir, trials: int, files: RunFiles) -> None:
    for name, dst in (("steps.jsonl", files.steps), ("dev.jsonl", files.dev)):
        assert dst is not None
        rows = [row for k in range(trials) for row in read_jsonl(model_dir.trial(k).root / name)]
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(dst, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, allow_nan=False) + "\n" for r in rows)


def run_pair(job: PairJob, data_dir: Path, model_dir: ModelDir, files: RunFiles) -> dict[str, Any]:
    """Fine-tune (best of ``trials`` on dev) and score test once; returns the result document."""
    started = time.perf_counter()
    base = resolve_model_path(job.backbone.model, job.backbone.revision)
    meta = {"run": job.run, "task": job.task_name, "method": job.method_name, "base_model": job.backbone.model,
            "standin": is_standin(base),
            "loss": job.method.loss, "loss_args": job.loss_args, "shuffle": job.method.shuffle,
            "run_id": params_hash(dataclasses.asdict(job))}
    doc = meta | {"split": "test", "applicable": job.applicable}
    if not job.applicable:  # a cell that cannot exist (e.g. triplets without labelled negatives)
        _untrained_outputs(job, model_dir, files)
        write_items(files.items, {})  # type: ignore[arg-type]
        return doc | {"reason": job.reason}
    task = load_pair_task(job.task, job.task_name, data_dir, Path(job.cache_dir), job.train.seed)
    best: dict[str, Any] = {"trial": -1, "best_dev": None, "best_step": None}
    if job.method.loss is None:  # the "no fine-tuning" row: the base model as it is
        model_path = base
        _untrained_outputs(job, model_dir, files)
    else:
        summaries = [_trial(job, task, base, k, model_dir, meta, Path(job.cache_dir)) for k in range(job.trials)]
        best = max(summaries, key=lambda s: (s["best_dev"], -s["trial"]))  # the first of equal trials
        _merge_logs(model_dir, job.trials, files)
        if model_dir.exported.exists():
            shutil.rmtree(model_dir.exported)
        shutil.copytree(model_dir.trial(best["trial"]).exported, model_dir.exported)
        model_path = model_dir.exported
    encoder = _encoder(model_path, job.pooler)
    cache, n, b = Path(job.cache_dir), job.train.max_seq_length, job.eval_batch_size
    dev = scores(task, "dev", encoder, job.task, n, b, cache)
    items: dict[str, np.ndarray] = {}
    test = scores(task, "test", encoder, job.task, n, b, cache, items)
    write_items(files.items, items)  # type: ignore[arg-type]
    return doc | {"kind": task.kind, "metric": job.task.metric, "test": test, "dev": dev,
                  "best_trial": best["trial"], "best_step": best["best_step"],
                  "sizes": {s: len(p) for s, p in task.splits.items()}, "wall_s": time.perf_counter() - started}


def _untrained_outputs(job: PairJob, model_dir: ModelDir, files: RunFiles) -> None:
    """The declared outputs of a run that trains nothing: a marker model dir and empty logs."""
    with atomic_dir(model_dir.root) as tmp:
        write_json(tmp / "sentemb.json", {"run": job.run, "fine_tuned": False, "applicable": job.applicable,
                                          "reason": job.reason})
    for path in (files.steps, files.dev):
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
