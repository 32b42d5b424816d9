"""Assemble one variant's run from params: backbone, loss, objective, data, dev evaluator, export."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sentemb.config import (
    AnalyzeConfig,
    Params,
    TrainConfig,
    VariantConfig,
    get_variant,
    params_hash,
    variant_train_config,
)
from sentemb.data.records import TaskData
from sentemb.data.senteval import load_task
from sentemb.errors import ConfigError
from sentemb.evaluation.cache import EmbeddingCache, fill
from sentemb.evaluation.sts import headline, score_sts_task
from sentemb.losses import build_loss
from sentemb.losses.paradigm import GradientDiagnostics
from sentemb.models.encoder import SentenceEncoder, load_backbone, resolve_model_path
from sentemb.objectives import build_objective
from sentemb.objectives.base import Objective
from sentemb.training import distributed as ddp
from sentemb.training.data import TrainData
from sentemb.training.export import export_model
from sentemb.training.loop import RunPaths, resolved_precision, train

log = logging.getLogger(__name__)


class HeadedEncoder(SentenceEncoder):
    """A view of a training encoder that applies the head after pooling (eval pooler ``cls``)."""

    def __init__(self, base: SentenceEncoder, head: nn.Module) -> None:
        super().__init__(base.backbone, base.tokenizer, "cls_before_pooler", base.first_layer_index)
        self.head = head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor) -> torch.Tensor:
        return self.head(super().forward(input_ids, attention_mask, **extra))


def check_variant(name: str, v: VariantConfig) -> None:
    """Combinations that cannot export consistently fail before any work is done."""
    if v.eval_pooler == "cls" and (v.head != "mlp" or v.train_pooler != "cls_before_pooler"):
        raise ConfigError(f"variants.{name}: eval_pooler 'cls' keeps the MLP as the model's pooler, which needs "
                          "head: mlp and train_pooler: cls_before_pooler")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _backbone(path: Path, cfg: TrainConfig) -> tuple[nn.Module, Any]:
    backbone, tokenizer = load_backbone(path)
    if cfg.dropout is not None:  # the dropout probability is read at forward time from each module
        for module in backbone.modules():
            if isinstance(module, nn.Dropout):
                module.p = cfg.dropout
    if cfg.freeze_embeddings:
        for p in backbone.embeddings.parameters():
            p.requires_grad_(False)
    return backbone, tokenizer


def _objective_kwargs(v: VariantConfig, cfg: TrainConfig, model_path: Path, tokenizer: Any) -> dict[str, Any]:
    kw: dict[str, Any] = dict(v.objective_args) | {"max_seq_length": cfg.max_seq_length,
                                                  "gather_negatives": cfg.gather_negatives}
    if v.objective == "diffcse":
        from sentemb.objectives.generators import build_generator

        kw |= {"projector": v.head, "discriminator_dir": str(model_path), "seed": kw.get("seed", cfg.seed),
               "generator": build_generator(str(kw.get("generator", "random")), tokenizer, cfg.seed)}
    else:
        kw["head"] = v.head
        if v.objective == "esimcse":
            kw.setdefault("seed", cfg.seed)
        if kw.get("do_mlm"):
            from sentemb.objectives.two_view import load_mlm_head

            kw["mlm_head"] = load_mlm_head(model_path)
    return kw


def eval_encoder(objective: Objective, v: VariantConfig) -> SentenceEncoder:
    """What evaluation sees: the head dropped (mlp_only_train) unless eval_pooler is ``cls``."""
    base: SentenceEncoder = objective.encoder  # type: ignore[assignment]
    if v.eval_pooler == "cls":
        return HeadedEncoder(base, objective.head)  # type: ignore[arg-type]
    return SentenceEncoder(base.backbone, base.tokenizer, v.eval_pooler, base.first_layer_index)


def dev_tasks(prepared_dir: Path) -> dict[str, TaskData]:
    tasks = {}
    for name in ("STSBenchmark", "SICKRelatedness"):
        full = load_task(name, prepared_dir)
        tasks[name] = TaskData(name, "sts", {"dev": full.splits["dev"]})
    return tasks


def dev_scores(encoder: SentenceEncoder, tasks: dict[str, TaskData]) -> dict[str, float]:
    """STS-B and SICK-R dev Spearman x100 with the evaluation stage's STS code (methods.md §0.5)."""
    cache = EmbeddingCache(None, "dev")  # weights change between evaluations: never persist
    fill({encoder.pooler: cache}, [s for t in tasks.values() for s in t.sentences()], encoder, 128, None)
    stsb = headline("STSBenchmark", score_sts_task(tasks["STSBenchmark"], cache.lookup), "dev")
    sick = headline("SICKRelatedness", score_sts_task(tasks["SICKRelatedness"], cache.lookup), "dev")
    return {"stsb_dev": stsb, "sickr_dev": sick, "avg_dev": (stsb + sick) / 2}


def dynamics_probe(encoder: Callable[[], SentenceEncoder], prepared_dir: Path, cfg: AnalyzeConfig
                   ) -> Callable[[], dict[str, Any]] | None:
    """The analysis run at every dev evaluation (None when ``dynamics_sentences`` is 0): §6.1 per
    layer on the first ``dynamics_sentences`` sentences of the analysis set, uniformity on their
    pairs' sentences, alignment on every positive STS-B test pair (as the analysis stage)."""
    if cfg.dynamics_sentences <= 0:
        return None
    from sentemb.analysis.run import analysis_data, analyze_encoder

    sentences, pairs = analysis_data(prepared_dir)
    n = cfg.dynamics_sentences
    return lambda: analyze_encoder(encoder(), sentences[:n], pairs, cfg, data_pairs=n)


def run_variant(params: Params, name: str, prepared_dir: Path, model_dir: Path, metrics_dir: Path,
                seed: int | None = None, run: str | None = None) -> dict[str, Any]:
    """Train variant ``name``; ``seed`` overrides ``train.seed`` (one run of the ``seeds`` matrix)
    and ``run`` names its files in ``metrics_dir`` (default: the variant name)."""
    v, cfg = get_variant(params, name), variant_train_config(params, name)
    if seed is not None:
        cfg = dataclasses.replace(cfg, seed=seed)
    run = run or name
    check_variant(name, v)
    ddp.init_from_env()
    seed_everything(cfg.seed)
    model_path = resolve_model_path(v.model or params.model.name_or_path, params.model.revision)
    backbone, tokenizer = _backbone(model_path, cfg)
    encoder = SentenceEncoder(backbone, tokenizer, v.train_pooler)
    loss = build_loss(v.loss, **v.loss_args)
    if cfg.grad_diagnostics:  # measured GD/W/R of §5.4 in the step log, for every loss
        loss = GradientDiagnostics(loss)
    objective = build_objective(v.objective, data_kind=v.data, encoder=encoder, tokenizer=tokenizer,
                                loss=loss,
                                **_objective_kwargs(v, cfg, model_path, tokenizer))
    objective.to(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    data, tasks = TrainData(v.data, prepared_dir), dev_tasks(prepared_dir)
    meta = {"variant": name, "base_model": str(model_path), "train_pooler": v.train_pooler, "head": v.head,
            "mlp_only_train": v.eval_pooler != "cls", "params_hash": params_hash(asdict(v) | asdict(cfg))}

    def export_best(step: int, score: float) -> None:
        export_model(model_dir / "model", objective.encoder.backbone, tokenizer, eval_pooler=v.eval_pooler,
                     head=getattr(objective, "head", None), meta=meta | {"step": step, "stsb_dev": score})

    paths = RunPaths(model_dir / "checkpoint.pt", metrics_dir / f"{run}.jsonl", metrics_dir / f"{run}.dev.jsonl",
                     metrics_dir / f"{run}.dynamics.jsonl")
    analyze = dynamics_probe(lambda: eval_encoder(objective, v), prepared_dir, params.analyze)
    summary = train(objective, data, cfg, paths, lambda: dev_scores(eval_encoder(objective, v), tasks), export_best,
                    run_id=meta["params_hash"], analyze=analyze)
    if analyze is None:  # dynamics off: an empty log, so the stage's declared output exists
        paths.dynamics_log.touch()  # type: ignore[union-attr]
    summary |= {"variant": name, "seed": cfg.seed, "run": run, "objective": v.objective, "loss": v.loss,
                "eval_pooler": v.eval_pooler,
                "generator": getattr(objective, "generator_name", None), "precision": cfg.precision,
                "resolved_precision": resolved_precision(objective.device, cfg.precision),
                "device": str(objective.device), "params_hash": meta["params_hash"]}
    paths.checkpoint.unlink(missing_ok=True)  # finished: the resumable state is no longer needed
    return summary
