"""The pair fine-tuning loop (methods.md §4.5): epochs over shuffled batches, best epoch on dev.

Per epoch the visiting order comes from the variant's shuffle strategy (``batching``; the kNN and
cluster strategies embed the training texts with the *current* model, §4.4), and consecutive
slices of ``batch_size`` pairs form the batches; a last slice of one pair is dropped (in-batch
negatives need two). Per step: LR from the warm-up/linear-decay schedule, both sides encoded in
train mode (dropout on, as SBERT's fit), loss, backward, clip, AdamW step. After each epoch the
dev headline metric is computed and the model is exported when it beats every earlier epoch of
every trial, so the exported model is the best (trial, epoch) on dev (§4.5 seed search). A NaN
or infinite loss raises before the update, leaving the last exported model intact.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sentemb.config import PairTrainConfig
from sentemb.losses.base import EmbeddingBatch
from sentemb.models.encoder import SentenceEncoder
from sentemb.pairs.batching import epoch_order
from sentemb.pairs.records import Pair
from sentemb.training.loop import TrainingError
from sentemb.training.optim import lr_at, param_groups

log = logging.getLogger(__name__)


@dataclass
class Best:
    """The best (trial, epoch) on dev so far and its dev metrics."""

    score: float = -math.inf
    trial: int = -1
    epoch: int = -1
    dev: dict[str, float] = field(default_factory=dict)


def build_optimizer(encoder: nn.Module, loss: nn.Module, cfg: PairTrainConfig) -> torch.optim.AdamW:
    """AdamW with SBERT's fit defaults; a trainable temperature gets ``tau_lr`` and no decay (§4.2)."""
    named = [(n, p) for n, p in encoder.named_parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = [g | {"lr": cfg.lr} for g in param_groups(named, cfg.weight_decay)]
    extra = [p for p in loss.parameters() if p.requires_grad]
    if extra:
        groups.append({"params": extra, "weight_decay": 0.0, "lr": cfg.tau_lr})
    for g in groups:
        g["base_lr"] = g["lr"]
    return torch.optim.AdamW(groups, lr=cfg.lr, eps=cfg.adam_eps)


def _embed_train(encoder: SentenceEncoder, texts: list[str], max_length: int) -> torch.Tensor:
    enc = encoder.tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    device = next(encoder.parameters()).device
    return encoder(**{k: v.to(device) for k, v in enc.items()})  # (B, D)


def batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive slices of ``order``; a final slice of a single pair is dropped."""
    out = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [b for b in out if len(b) >= 2]


class PairTrainer:
    """One trial: ``run`` trains ``epochs`` epochs and reports dev after each."""

    def __init__(self, encoder: SentenceEncoder, loss: nn.Module, pairs: list[Pair], cfg: PairTrainConfig,
                 shuffle: str, steps_log: Path, trial: int) -> None:
        self.encoder, self.loss, self.pairs, self.cfg, self.shuffle = encoder, loss, pairs, cfg, shuffle
        self.steps_log, self.trial, self.seed = steps_log, trial, cfg.seed + trial
        self.optimizer = build_optimizer(encoder, loss, cfg)
        self.per_epoch = len(batches(np.arange(len(pairs)), cfg.batch_size))
        self.total = self.per_epoch * cfg.epochs
        self.warmup = math.ceil(cfg.warmup_ratio * self.total)
        self.step = 0

    def _order(self, epoch: int) -> np.ndarray:
        def embed(texts: list[str]) -> np.ndarray:
            return self.encoder.encode(texts, self.cfg.eval_batch_size, self.cfg.max_seq_length)

        c = self.cfg
        return epoch_order(self.shuffle, self.pairs, epoch, self.seed, embed=embed, group_size=c.group_size,
                           knn_candidates=c.knn_candidates, filter_identical=c.filter_identical,
                           shingle_size=c.shingle_size, n_clusters=c.n_clusters)

    def _train_step(self, idx: np.ndarray, epoch: int) -> dict[str, Any]:
        factor = lr_at(self.step, self.total, 1.0, self.warmup)  # SBERT WarmupLinear, every group alike
        for g in self.optimizer.param_groups:
            g["lr"] = g["base_lr"] * factor
        chosen = [self.pairs[i] for i in idx]
        q = _embed_train(self.encoder, [p.text_a for p in chosen], self.cfg.max_seq_length)
        a = _embed_train(self.encoder, [p.text_b for p in chosen], self.cfg.max_seq_length)
        labels = torch.tensor([p.label for p in chosen], dtype=q.dtype, device=q.device)
        out = self.loss(batch=EmbeddingBatch(q, a, labels=labels))
        if not torch.isfinite(out.total):
            raise TrainingError(f"trial {self.trial} step {self.step + 1}: loss is {out.total.item()}; stopped "
                                "before the update, the last exported model is kept")
        out.total.backward()
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, self.cfg.max_grad_norm))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return {"trial": self.trial, "epoch": epoch, "step": self.step, "lr": self.cfg.lr * factor,
                **{k: float(v) for k, v in out.stats.items()}, "grad_norm": grad_norm}

    def run(self, on_epoch_end: Callable[[int, int], None]) -> None:
        self.encoder.train()
        for epoch in range(self.cfg.epochs):
            started = time.perf_counter()
            order = self._order(epoch)
            shuffle_s = time.perf_counter() - started
            for idx in batches(order, self.cfg.batch_size):
                row = self._train_step(idx, epoch)
                append_row(self.steps_log, row | {"shuffle_s": shuffle_s})
            on_epoch_end(self.trial, epoch)
            self.encoder.train()


def append_row(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, allow_nan=False) + "\n")
