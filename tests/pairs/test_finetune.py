"""The pair fine-tuning loop on a tiny random BERT: batching, optimizer groups, schedule, the
per-epoch shuffle with the current model, and a NaN loss stopping before any update."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sentemb.config import PairTrainConfig
from sentemb.losses import build_loss
from sentemb.losses.base import LossOutput
from sentemb.models.encoder import SentenceEncoder
from sentemb.pairs.finetune import PairTrainer, batches, build_optimizer
from sentemb.pairs.records import Pair
from sentemb.training.loop import TrainingError

TEXTS = ["a man is playing a guitar", "a woman is riding a horse", "a dog is eating food", "the cat is running",
         "a child is playing with a ball", "a man is riding a bike", "the plane is in the sky", "a dog is running"]
PAIRS = [Pair(a, b, float(i % 3 != 0)) for i, (a, b) in enumerate(zip(TEXTS, TEXTS[1:] + TEXTS[:1]))]


def _encoder(tiny_backbone: tuple[object, object]) -> SentenceEncoder:
    model, tokenizer = tiny_backbone
    return SentenceEncoder(model, tokenizer, "avg")  # type: ignore[arg-type]


def _cfg(**kw: object) -> PairTrainConfig:
    return PairTrainConfig(**{"batch_size": 3, "epochs": 2, "max_seq_length": 16, "group_size": 2,
                              "knn_candidates": 4, "n_clusters": 2, "shingle_size": 1} | kw)  # type: ignore[arg-type]


def test_batches_drop_only_a_final_single_pair() -> None:
    assert [len(b) for b in batches(np.arange(7), 3)] == [3, 3]  # the last pair alone cannot contrast
    assert [len(b) for b in batches(np.arange(8), 3)] == [3, 3, 2]


def test_trainable_temperature_gets_its_own_lr_and_no_decay(tiny_backbone: tuple[object, object]) -> None:
    encoder = _encoder(tiny_backbone)
    opt = build_optimizer(encoder, build_loss("bsc", tau_trainable=True), _cfg(lr=2e-5, tau_lr=1e-3))
    tau_group = opt.param_groups[-1]
    assert tau_group["lr"] == 1e-3 and tau_group["weight_decay"] == 0.0 and len(tau_group["params"]) == 1
    assert len(build_optimizer(encoder, build_loss("bsc"), _cfg()).param_groups) == 2  # fixed τ: no extra group


def test_training_logs_every_step_with_warmup_and_reshuffles_with_the_current_model(
        tiny_backbone: tuple[object, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = _encoder(tiny_backbone)
    before = [p.detach().clone() for p in encoder.parameters()]
    calls: list[int] = []
    real_encode = encoder.encode

    def counting_encode(texts: list[str], *args: object) -> np.ndarray:
        calls.append(len(texts))
        return real_encode(texts, *args)

    monkeypatch.setattr(encoder, "encode", counting_encode)
    log = tmp_path / "steps.jsonl"
    trainer = PairTrainer(encoder, build_loss("bsc"), PAIRS, _cfg(), "example_knn", log, trial=0)
    epochs: list[int] = []
    trainer.run(lambda trial, epoch: epochs.append(epoch))
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert epochs == [0, 1] and calls == [8, 8]  # kNN neighbours recomputed once per epoch, all text_a
    assert len(rows) == trainer.total == 6 and rows[0]["lr"] == 0.0  # ceil(10% of 6) = 1 warm-up step
    assert rows[1]["lr"] == pytest.approx(2e-5) and {"neg_cos_max", "labelled_negatives", "tau"} <= rows[0].keys()
    assert any(not torch.equal(a, b) for a, b in zip(before, encoder.parameters()))


class _NaNLoss(nn.Module):
    requires = frozenset()

    def forward(self, *, batch: object) -> LossOutput:
        q = batch.anchor  # type: ignore[attr-defined]
        return LossOutput(q.sum() * float("nan"))


def test_nan_loss_stops_before_the_update(tiny_backbone: tuple[object, object], tmp_path: Path) -> None:
    encoder = _encoder(tiny_backbone)
    before = [p.detach().clone() for p in encoder.parameters()]
    trainer = PairTrainer(encoder, _NaNLoss(), PAIRS, _cfg(), "random", tmp_path / "s.jsonl", trial=0)
    with pytest.raises(TrainingError, match="trial 0 step 1: loss is nan"):
        trainer.run(lambda trial, epoch: None)
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
    assert not (tmp_path / "s.jsonl").exists()
