"""Assemble one training run from its job (``metrics/config/train/<run>.json``): backbone, loss,
objective, data, the dev evaluator that selects checkpoints, export."""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sentemb.config import TrainConfig, params_hash
from sentemb.config.jobs import DevConfig, TrainJob
from sentemb.data.records import TaskData
from sentemb.data.senteval import load_task
from sentemb.data.tasks import split_tasks
from sentemb.evaluation.cache import EmbeddingCache, fill
from sentemb.evaluation.sts import headline, score_sts_task
from sentemb.layout import ModelDir, RunFiles
from sentemb.losses import build_loss
from sentemb.losses.paradigm import GradientDiagnostics
from sentemb.models.encoder import SentenceEncoder, is_standin, load_backbone, resolve_model_path
from sentemb.objectives import BuildContext, build_objective
from sentemb.objectives.base import Objective
from sentemb.provenance import device_name, project_commit
from sentemb.training import distributed as ddp
from sentemb.training.data import TrainData
from sentemb.training.export import export_model
from sentemb.training.loop import Hooks, resolved_precision, train
from sentemb.utils.device import pick_device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_for_training(path: Path, cfg: TrainConfig) -> tuple[nn.Module, Any]:
    """The backbone with the run's dropout override and frozen embeddings, and its tokenizer."""
    backbone, tokenizer = load_backbone(path)
    if cfg.dropout is not None:  # the dropout probability is read at forward time from each module
        for module in backbone.modules():
            if isinstance(module, nn.Dropout):
                module.p = cfg.dropout
    if cfg.freeze_embeddings:
        for p in backbone.embeddings.parameters():
            p.requires_grad_(False)
    return backbone, tokenizer


def eval_encoder(objective: Objective, eval_pooler: str, first_layer_index: int) -> SentenceEncoder:
    """The encoder evaluation will load from the export: the head dropped (mlp_only_train), or,
    with ``eval_pooler: cls``, [CLS] through the trained MLP, which export makes the pooler."""
    base: SentenceEncoder = objective.encoder  # type: ignore[assignment]
    if eval_pooler == "cls":
        return SentenceEncoder(base.backbone, base.tokenizer, "cls_before_pooler", first_layer_index,
                               head=objective.head)  # type: ignore[arg-type]
    return SentenceEncoder(base.backbone, base.tokenizer, eval_pooler, first_layer_index)


def dev_tasks(prepared_dir: Path) -> dict[str, TaskData]:
    tasks = {}
    for name in split_tasks():  # STS-B and SICK-R dev: SimCSE's in-training evaluation (docs/methods.md §0.5)
        full = load_task(name, prepared_dir)
        tasks[name] = TaskData(name, "sts", {"dev": full.splits["dev"]})
    return tasks


def dev_scores(encoder: SentenceEncoder, tasks: dict[str, TaskData], dev: DevConfig) -> dict[str, float]:
    """STS-B and SICK-R dev Spearman x100 with the evaluation stage's STS code, encoded as
    ``sentemb evaluate --mode dev --tasks sts`` encodes them (same sentences, order and batches)."""
    cache = EmbeddingCache(None, "dev")  # weights change between evaluations: never persist
    fill({encoder.pooler: cache}, [s for t in tasks.values() for s in t.sentences()], encoder, dev.batch_size,
         dev.max_length)
    stsb = headline("STSBenchmark", score_sts_task(tasks["STSBenchmark"], cache.lookup), "dev")
    sick = headline("SICKRelatedness", score_sts_task(tasks["SICKRelatedness"], cache.lookup), "dev")
    return {"stsb_dev": stsb, "sickr_dev": sick, "avg_dev": (stsb + sick) / 2}


def dynamics_probe(encoder: SentenceEncoder, prepared_dir: Path, job: TrainJob) -> Any:
    """The analysis run at every dev evaluation (None when ``dynamics_sentences`` is 0): §6.1 per
    layer on the first ``dynamics_sentences`` sentences of the analysis set, uniformity on their
    pairs' sentences, alignment on every positive STS-B test pair (as the analysis stage)."""
    cfg = job.analyze
    if cfg.dynamics_sentences <= 0:
        return None
    from sentemb.analysis.run import analysis_data, analyze_encoder

    sentences, pairs = analysis_data(prepared_dir)
    n = cfg.dynamics_sentences
    return lambda: analyze_encoder(encoder, sentences[:n], pairs, cfg, data_pairs=n)


def build_training(job: TrainJob) -> tuple[Objective, Any, Path]:
    """The objective (on the run's device) around the backbone, and the tokenizer."""
    m, cfg = job.recipe, job.train
    model_path = resolve_model_path(job.backbone.model, job.backbone.revision)
    backbone, tokenizer = load_for_training(model_path, cfg)
    encoder = SentenceEncoder(backbone, tokenizer, m.train_pooler)
    loss = build_loss(m.loss, **m.loss_args)
    if cfg.grad_diagnostics:  # measured GD/W/R in the step log, for every loss
        loss = GradientDiagnostics(loss)
    ctx = BuildContext(encoder, tokenizer, loss, m.head, cfg.max_seq_length, cfg.gather_negatives, cfg.seed,
                       model_path)
    objective = build_objective(m.objective, ctx, data_kind=m.data, train_pooler=m.train_pooler,
                                **m.objective_args)
    return objective.to(pick_device()), tokenizer, model_path


def run_training(job: TrainJob, prepared_dir: Path, model_dir: ModelDir, files: RunFiles) -> dict[str, Any]:
    """Train (or resume) one run; returns the summary the train stage writes."""
    ddp.init_from_env()
    seed_everything(job.train.seed)
    objective, tokenizer, model_path = build_training(job)
    m = job.recipe
    data, tasks = TrainData(m.data, prepared_dir), dev_tasks(prepared_dir)
    run_id = params_hash(asdict(job))
    meta = {"run": job.run, "method": job.method, "base_model": job.backbone.model,
            "base_standin": is_standin(model_path), "train_pooler": m.train_pooler,
            "head": m.head, "mlp_only_train": m.eval_pooler != "cls", "run_id": run_id}
    dev_encoder = eval_encoder(objective, m.eval_pooler, job.dev.first_layer_index)

    def export_best(step: int, score: float) -> None:
        export_model(model_dir.exported, objective.encoder.backbone, tokenizer, eval_pooler=m.eval_pooler,
                     head=getattr(objective, "head", None), meta=meta | {"step": step, "stsb_dev": score})

    hooks = Hooks(lambda: dev_scores(dev_encoder, tasks, job.dev), export_best, select="stsb_dev",
                  analyze=dynamics_probe(dev_encoder, prepared_dir, job))
    summary = train(objective, data, job.train, files, model_dir.checkpoint, hooks, run_id=run_id)
    if hooks.analyze is None and files.dynamics is not None:  # dynamics off: the declared output exists
        files.dynamics.touch()
    model_dir.checkpoint.unlink(missing_ok=True)  # finished: the resumable state is no longer needed
    return summary | {"run": job.run, "method": job.method, "seed": job.train.seed, "objective": m.objective,
                      "loss": m.loss, "eval_pooler": m.eval_pooler,
                      "generator": getattr(objective, "generator_name", None), "precision": job.train.precision,
                      "resolved_precision": resolved_precision(objective.device, job.train.precision),
                      "device": str(objective.device), "device_name": device_name(objective.device),
                      "git_commit": project_commit(), "run_id": run_id}
