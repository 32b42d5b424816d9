"""Behaviours taken from the official code where it produced the published numbers, each
against a reference written here from that code (docs/methods.md §2.2, §3.3, §4.4-4.5):

* BSC (aschern/BSC-loss): AdamW without bias correction (transformers' legacy
  ``AdamW(correct_bias=False)``); the first epoch in file order, the reshuffle from epoch 2, and
  no dropout after a model-based reshuffle (SBERT's ``encode`` leaves the model in eval mode);
  the combo loss binarising ``labels >= 0.5`` whatever it is given;
* DiffCSE (voidism/DiffCSE): both projector Linears drawn from N(0, 0.02²), no biases;
* ESimCSE (caskcsg/sentemb): the momentum encoder starts from a fresh random initialisation.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sentemb.config import ShuffleConfig, TrainConfig
from sentemb.losses import build_loss
from sentemb.losses.base import EmbeddingBatch, LossOutput
from sentemb.models.encoder import SentenceEncoder
from sentemb.models.heads import BNProjector, MomentumEncoder
from sentemb.objectives.base import Objective, TextBatch
from sentemb.pairs.objective import MODEL_BASED, REORDERING, pair_order
from sentemb.pairs.records import Pair
from sentemb.training.loop import EpochPlan, Hooks
from sentemb.training.loop import train as loop_train
from sentemb.training.optim import AdamWNoBiasCorrection, build_optimizer

# --- AdamW without bias correction ------------------------------------------------------------


def legacy_adamw(p0: np.ndarray, grads: list[np.ndarray], lr: float, eps: float, wd: float,
                 correct_bias: bool, b1: float = 0.9, b2: float = 0.999) -> np.ndarray:
    """transformers 4.x ``optimization.AdamW.step``, line by line, in float64."""
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v) + eps
        step = lr * math.sqrt(1 - b2**t) / (1 - b1**t) if correct_bias else lr
        p = p - step * m / denom
        if wd > 0:
            p = p - lr * wd * p  # decoupled decay, after the Adam step, on the updated weights
    return p


def _run(opt_cls: type, p0: np.ndarray, grads: list[np.ndarray], **kw: float) -> np.ndarray:
    p = nn.Parameter(torch.tensor(p0))
    opt = opt_cls([p], **kw)
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
    return p.detach().numpy()


def test_adamw_without_bias_correction_is_the_legacy_update() -> None:
    rng = np.random.default_rng(0)
    p0, grads = rng.normal(size=7), [rng.normal(size=7) for _ in range(5)]
    got = _run(AdamWNoBiasCorrection, p0, grads, lr=2e-2, eps=1e-6, weight_decay=0.01)
    np.testing.assert_allclose(got, legacy_adamw(p0, grads, 2e-2, 1e-6, 0.01, correct_bias=False), rtol=1e-12)
    # and it is not the corrected update: at step 1 the corrected step is lr·sqrt(1-β2)/(1-β1) = 0.316 lr
    corrected = legacy_adamw(p0, grads[:1], 2e-2, 1e-6, 0.0, correct_bias=True)
    uncorrected = _run(AdamWNoBiasCorrection, p0, grads[:1], lr=2e-2, eps=1e-6)
    np.testing.assert_allclose(np.abs(p0 - corrected) / np.abs(p0 - uncorrected), math.sqrt(1e-3) / 0.1, rtol=1e-3)


def test_adam_bias_correction_chooses_the_optimizer() -> None:
    named = [("w", nn.Parameter(torch.zeros(3)))]
    assert isinstance(build_optimizer(named, [], TrainConfig(adam_bias_correction=False)), AdamWNoBiasCorrection)
    assert type(build_optimizer(named, [], TrainConfig(adam_bias_correction=True))) is torch.optim.AdamW


# --- epoch order and dropout of the pair shufflers ---------------------------------------------

PAIRS = [Pair(f"query {i % 4} text {i}", f"answer {i}", float(i % 2), group=str(i % 4)) for i in range(12)]


def _embed(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in for the model: neighbours are texts of equal length."""
    return np.array([[len(t), (hash(t) % 7) / 7.0 + 1.0] for t in texts], dtype=np.float32)


@pytest.mark.parametrize("strategy", REORDERING)
def test_epoch_one_is_file_order_and_the_reshuffle_starts_at_epoch_two(strategy: str) -> None:
    shuffle = ShuffleConfig(group_size=3, knn_candidates=6, shingle_size=2, n_clusters=2)
    plan = pair_order(strategy, PAIRS, shuffle, seed=1, embed=_embed)
    first, second = plan(0), plan(1)
    assert np.array_equal(first.order, np.arange(len(PAIRS))) and first.dropout
    assert sorted(second.order) == list(range(len(PAIRS))) and not np.array_equal(second.order, first.order)
    assert second.dropout == (strategy not in MODEL_BASED)  # SBERT's encode left the model in eval mode


@pytest.mark.parametrize("strategy", MODEL_BASED)
def test_paper_text_options_reorder_from_epoch_one_and_keep_dropout(strategy: str) -> None:
    shuffle = ShuffleConfig(group_size=3, knn_candidates=6, n_clusters=2, reorder_first_epoch=True,
                            dropout_after_reorder=True)
    plan = pair_order(strategy, PAIRS, shuffle, seed=1, embed=_embed)
    assert not np.array_equal(plan(0).order, np.arange(len(PAIRS))) and plan(0).dropout and plan(1).dropout


class _Recorder(Objective):
    """Records, at every step, whether the loop had put it in training mode."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(2))
        self.loss = nn.Identity()  # no loss parameters: no optimizer groups of its own
        self.modes: list[bool] = []

    def forward(self, batch: TextBatch) -> LossOutput:
        self.modes.append(self.training)
        return LossOutput((self.w**2).sum() * len(batch), {"loss": torch.tensor(0.0)})


class _Data:
    def __len__(self) -> int:
        return 8

    def batch(self, indices: np.ndarray) -> TextBatch:
        return TextBatch(sentences=[str(i) for i in indices])


def test_the_loop_trains_each_epoch_with_its_plans_dropout(tmp_path: Path) -> None:
    from sentemb.layout import RunFiles

    files = RunFiles(tmp_path / "m.json", tmp_path / "d.json")
    objective = _Recorder()
    plans = {0: EpochPlan(np.arange(8), dropout=True), 1: EpochPlan(np.arange(8)[::-1], dropout=False)}
    hooks = Hooks(lambda: {"stsb_dev": 0.0}, lambda step, score: None, select="stsb_dev", order=plans.__getitem__)
    cfg = TrainConfig(batch_size=4, epochs=2, lr=1e-3, eval_steps=None, save_steps=None)
    loop_train(objective, _Data(), cfg, files, tmp_path / "ckpt.pt", hooks)  # type: ignore[arg-type]
    assert objective.modes == [True, True, False, False]


# --- the combo loss binarises as the official ComboBSCLoss ----------------------------------------


def test_combo_counts_a_label_of_exactly_one_half_positive() -> None:
    g = torch.Generator().manual_seed(0)
    q, a = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    labels = torch.tensor([0.5, 0.9, 0.2, 0.49])
    batch = EmbeddingBatch(q, a, labels=labels)
    combo = build_loss("combo", mu=1.0, temperature=0.1)  # mu 1: the BSC half alone
    as_official = build_loss("bsc", temperature=0.1, binarize_threshold=0.5, binarize_op=">=")
    plain = build_loss("bsc", temperature=0.1)  # > 0.5: the 0.5 pair is a negative
    assert combo(batch=batch).total.item() == pytest.approx(as_official(batch=batch).total.item(), rel=1e-6)
    assert combo(batch=batch).total.item() != pytest.approx(plain(batch=batch).total.item(), rel=1e-3)
    assert combo(batch=batch).stats["labelled_negatives"].item() == 2


# --- DiffCSE's projector initialisation ---------------------------------------------------------


def test_diffcse_projector_linears_are_normal_002_without_bias() -> None:
    """DiffCSE builds its ProjectionMLP inside the model before ``init_weights()``, so BERT's
    ``_init_weights`` draws every Linear from N(0, initializer_range²) (0.02)."""
    torch.manual_seed(0)
    proj = BNProjector(384, init_std=0.02)
    linears = [m for m in proj.net if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(768, 384), (384, 768)]
    for m in linears:
        assert m.bias is None
        assert abs(m.weight.mean().item()) < 2e-4 and m.weight.std().item() == pytest.approx(0.02, rel=0.01)
    default_bound = 1 / math.sqrt(384)  # PyTorch's kaiming-uniform default would give std bound/√3
    assert linears[0].weight.abs().max().item() > default_bound  # a normal, not a bounded uniform


# --- ESimCSE's momentum encoder starts random ------------------------------------------------------


def test_esimcse_momentum_encoder_starts_from_the_backbones_own_random_init(tiny_backbone: tuple) -> None:
    """The official momentum BERT is constructed from the config and never loads the pretrained
    weights: every Linear / Embedding ~ N(0, initializer_range²), LayerNorm 1 and 0."""
    backbone, tokenizer = tiny_backbone
    online = SentenceEncoder(backbone, tokenizer, "cls")
    momentum = MomentumEncoder(online, "random_reference")
    std = backbone.config.initializer_range
    body = momentum.encoder.backbone
    weights = torch.cat([m.weight.flatten() for m in body.modules() if isinstance(m, (nn.Linear, nn.Embedding))])
    assert weights.std().item() == pytest.approx(std, rel=0.03) and abs(weights.mean().item()) < std / 20
    for m in body.modules():
        if isinstance(m, nn.LayerNorm):
            assert torch.equal(m.weight, torch.ones_like(m.weight)) and torch.equal(m.bias, torch.zeros_like(m.bias))
    online_weights = dict(online.backbone.named_parameters())
    assert all(not torch.equal(p, online_weights[n]) for n, p in body.named_parameters() if p.dim() > 1)
    assert MomentumEncoder.__init__.__defaults__ == ("random_reference",)  # the recipe's default
