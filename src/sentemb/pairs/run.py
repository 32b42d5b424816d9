"""Assemble one pair run (task x variant) from params: data, loss, trials, export, test metrics.

The stage ``finetune_pairs@<task>-<variant>`` calls ``run_pair``. Dev decides everything (the
epoch, the trial, the classification thresholds); test is scored once, on the exported model
re-loaded from disk, so the reported numbers are those of the artifact DVC tracks.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentemb.config import PairTaskConfig, Params, pair_run_config, params_hash
from sentemb.errors import ConfigError
from sentemb.losses import build_loss
from sentemb.models.encoder import SentenceEncoder, load_backbone, resolve_model_path
from sentemb.pairs.finetune import Best, PairTrainer, append_row
from sentemb.pairs.metrics import check_metrics, evaluate_split
from sentemb.pairs.ranking import evaluate_ranking
from sentemb.pairs.records import PairTask
from sentemb.pairs.sources import NDCG_GAINS, PAIR_SOURCES, ranking_set
from sentemb.pairs.tasks import OFFLINE, ensure_splits, load_offline_task, read_pair_file
from sentemb.training.export import export_model
from sentemb.training.run import seed_everything
from sentemb.utils.io import atomic_dir, write_json

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
        task = source.read(source.fetch(cache_dir / t.source))
    task = ensure_splits(task, seed)
    if t.max_train_pairs is not None and t.max_train_pairs < len(task.splits["train"]):
        keep = np.sort(np.random.default_rng(seed).choice(len(task.splits["train"]), t.max_train_pairs,
                                                          replace=False))  # file order kept: shuffle 'none'
        task = dataclasses.replace(task, splits=task.splits | {"train": [task.splits["train"][i] for i in keep]})
    return task


def _encoder(path: Path, pooler: str) -> SentenceEncoder:
    backbone, tokenizer = load_backbone(path)
    encoder = SentenceEncoder(backbone, tokenizer, pooler)
    return encoder.to(torch.device("cuda" if torch.cuda.is_available() else "cpu"))


def _scores(task: PairTask, split: str, encoder: SentenceEncoder, t: PairTaskConfig, max_len: int,
            batch: int, cache_dir: Path) -> dict[str, float]:
    """Every metric of ``split``; online ranking tasks are scored on their source's RankingSet
    (PFCC-S ranks the whole verified-claim corpus) with the source's nDCG gain."""
    def embed(texts: Sequence[str]) -> np.ndarray:
        return encoder.encode(list(texts), batch, max_len)

    if task.kind == "ranking" and t.source in PAIR_SOURCES:
        rset = ranking_set(t.source, cache_dir / t.source, task, split)
        return evaluate_ranking(rset, embed, relevant_at=t.relevant_at, gain=NDCG_GAINS.get(t.source))
    return evaluate_split(task, split, embed, t.relevant_at)


def run_pair(params: Params, task_name: str, variant: str, data_dir: Path, model_dir: Path,
             metrics_dir: Path) -> dict[str, Any]:
    t, v, cfg, loss_args = pair_run_config(params, task_name, variant)
    if t.metric not in t.table_metrics:
        raise ConfigError(f"pairs.tasks.{task_name}.table_metrics must include its metric '{t.metric}'")
    run = f"{task_name}-{variant}"
    base = resolve_model_path(params.pairs.model or params.model.name_or_path, params.pairs.revision)
    if v.loss is not None:
        build_loss(v.loss, **loss_args)  # a bad loss argument fails before any data is read
    cache = Path(params.pairs.cache_dir)
    task = load_pair_task(t, task_name, data_dir, cache, cfg.seed)
    check_metrics(task.kind, t.table_metrics, f"pairs.tasks.{task_name}.table_metrics")
    steps_log, dev_log = metrics_dir / f"{run}.jsonl", metrics_dir / f"{run}.dev.jsonl"
    for path in (steps_log, dev_log):
        path.unlink(missing_ok=True)
    meta = {"task": task_name, "variant": variant, "base_model": str(base), "loss": v.loss, "loss_args": loss_args,
            "shuffle": v.shuffle, "params_hash": params_hash({"task": dataclasses.asdict(t),
                                                               "variant": dataclasses.asdict(v),
                                                               "train": dataclasses.asdict(cfg)})}
    started, best = time.perf_counter(), Best()
    if v.loss is None:  # the "no fine-tuning" row: the base model as it is, no steps to log
        model_path = base
        with atomic_dir(model_dir) as tmp:
            write_json(tmp / "sentemb.json", meta | {"fine_tuned": False})
        for path in (steps_log, dev_log):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    else:
        best = _train_trials(task, t, v.loss, loss_args, v.shuffle, cfg, base, params.pairs.pooler,
                             model_dir, steps_log, dev_log, meta, cache)
        model_path = model_dir / "model"
    encoder = _encoder(model_path, params.pairs.pooler)
    dev = best.dev or _scores(task, "dev", encoder, t, cfg.max_seq_length, cfg.eval_batch_size, cache)
    test = _scores(task, "test", encoder, t, cfg.max_seq_length, cfg.eval_batch_size, cache)
    return meta | {"kind": task.kind, "metric": t.metric, "split": "test", "test": test, "dev": dev,
                   "best_trial": best.trial, "best_epoch": best.epoch,
                   "sizes": {s: len(p) for s, p in task.splits.items()},
                   "train": dataclasses.asdict(cfg), "wall_s": time.perf_counter() - started}


def _train_trials(task: PairTask, t: PairTaskConfig, loss_name: str, loss_args: dict[str, Any], shuffle: str,
                  cfg: Any, base: Path, pooler: str, model_dir: Path, steps_log: Path, dev_log: Path,
                  meta: dict[str, Any], cache: Path) -> Best:
    """``n_seed_trials`` runs from the base model; the best (trial, epoch) on dev is exported."""
    best = Best()
    for trial in range(cfg.n_seed_trials):
        seed_everything(cfg.seed + trial)
        encoder = _encoder(base, pooler)
        loss = build_loss(loss_name, **loss_args).to(next(encoder.parameters()).device)
        trainer = PairTrainer(encoder, loss, task.split("train"), cfg, shuffle, steps_log, trial)

        def on_epoch_end(trial: int, epoch: int, encoder: SentenceEncoder = encoder) -> None:
            dev = _scores(task, "dev", encoder, t, cfg.max_seq_length, cfg.eval_batch_size, cache)
            score = dev[t.metric]
            improved = score > best.score
            if improved:
                best.score, best.trial, best.epoch, best.dev = score, trial, epoch, dev
                export_model(model_dir / "model", encoder.backbone, encoder.tokenizer, eval_pooler=pooler, head=None,
                             meta=meta | {"trial": trial, "epoch": epoch, f"dev_{t.metric}": score})
            append_row(dev_log, {"trial": trial, "epoch": epoch, "step": trainer.step, t.metric: score,
                              "best": best.score})
            log.info("trial %d epoch %d dev %s %.4f%s", trial, epoch, t.metric, score, " (best)" if improved else "")

        trainer.run(on_epoch_end)
    return best
