"""SimCSE-style objective: two (or three) views per example, one encoder pass, any loss.

Unsupervised (docs/methods.md §1.2): every sentence appears twice; the 2N rows go through the
encoder in ONE forward pass, so the copies get independent dropout masks (the training loop
keeps the objective in train mode; in eval mode both copies are identical). Supervised (§1.3):
premise, entailment and contradiction (u, v, w) are encoded in one pass of 3N rows. The
training head (default: SimCSE's Linear+tanh MLP, §1.1) is applied to every row, each view is
all-gathered across processes (§1.4), and the loss gets ``EmbeddingBatch(u, v, w)``.

Optional MLM auxiliary (``do_mlm``, §1.5): the masked copies of all rows go through a SECOND
backbone pass and an LM head predicts the original tokens; L = L_cl + λ·L_mlm.

References: princeton-nlp/SimCSE @ 49fa580 (simcse/models.py ``cl_forward``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

from sentemb.data.collate import tokenize
from sentemb.data.views import IGNORE_INDEX, mlm_mask, special_tokens_mask
from sentemb.errors import ConfigError
from sentemb.losses.base import EmbeddingBatch, LossOutput
from sentemb.models.heads import build_head
from sentemb.objectives.base import BuildContext, Objective, TextBatch
from sentemb.training.distributed import gather_with_grad

_MLM_HEAD_PREFIXES = ("cls.predictions.", "lm_head.")  # BERT, RoBERTa


def encoder_dim(encoder: nn.Module) -> int:
    """Width D of the sentence vectors: the backbone's hidden size (every pooler keeps it)."""
    return int(encoder.backbone.config.hidden_size)


def head_init_std(encoder: nn.Module) -> float:
    """The backbone's ``initializer_range`` (BERT: 0.02), used for a fresh MLP head (§1.1)."""
    return float(getattr(encoder.backbone.config, "initializer_range", 0.02))


def views_of(batch: TextBatch) -> list[list[str]]:
    """The text views of a batch: [s, s] (unsupervised), [s, p] (pairs) or [s, p, h] (NLI)."""
    n = len(batch.sentences)
    if batch.positives is None:
        if batch.hard_negatives is not None:
            raise ValueError("hard_negatives given without positives")
        return [batch.sentences, batch.sentences]
    views = [batch.sentences, batch.positives]
    if batch.hard_negatives is not None:
        views.append(batch.hard_negatives)
    if any(len(view) != n for view in views):
        raise ValueError(f"views differ in length: {[len(view) for view in views]}")
    return views


class TwoViewObjective(Objective):
    """SimCSE unsup/sup (+ optional MLM) around any registered loss (docs/methods.md §1.2–§1.5).

    Args:
        encoder: ``SentenceEncoder`` (backbone + pooler) being trained.
        tokenizer: its tokenizer.
        loss: a loss module (``forward(*, batch: EmbeddingBatch) -> LossOutput``).
        head: training head, ``none | mlp | bn_mlp`` (models/heads.py).
        max_seq_length: training truncation (32 in SimCSE, §1.6).
        gather_negatives: all-gather each view across processes (identity on one process).
        do_mlm / mlm_weight / mlm_probability / mlm_head: the MLM auxiliary (§1.5; λ=0.1, p=0.15).
    """

    data_kinds: tuple[str, ...] = ("wiki", "nli")
    provides: frozenset[str] = frozenset()  # fields beyond those the data brings

    def __init__(self, encoder: nn.Module, tokenizer: Any, loss: nn.Module, *, head: str = "mlp",
                 max_seq_length: int = 32, gather_negatives: bool = True, do_mlm: bool = False,
                 mlm_weight: float = 0.1, mlm_probability: float = 0.15,
                 mlm_head: nn.Module | None = None) -> None:
        super().__init__()
        if do_mlm and mlm_head is None:
            raise ConfigError("do_mlm needs an MLM head: the checkpoint has none "
                              "(e.g. all-MiniLM-L6-v2 ships no cls.predictions weights)")
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.loss = loss
        self.head_name = head
        self.head = build_head(head, encoder_dim(encoder), head_init_std(encoder))
        self.max_seq_length = max_seq_length
        self.gather_negatives = gather_negatives
        self.do_mlm = do_mlm
        self.mlm_weight = mlm_weight
        self.mlm_probability = mlm_probability
        self.mlm_head = mlm_head if do_mlm else None

    @classmethod
    def from_recipe(cls, ctx: BuildContext, *, do_mlm: bool = False, mlm_weight: float = 0.1,
                    mlm_probability: float = 0.15) -> TwoViewObjective:
        mlm_head = load_mlm_head(ctx.model_path) if do_mlm else None
        return cls(ctx.encoder, ctx.tokenizer, ctx.loss, head=ctx.head, max_seq_length=ctx.max_seq_length,
                   gather_negatives=ctx.gather_negatives, do_mlm=do_mlm, mlm_weight=mlm_weight,
                   mlm_probability=mlm_probability, mlm_head=mlm_head)

    @classmethod
    def check_args(cls, *, head: str, train_pooler: str, do_mlm: bool = False, mlm_weight: float = 0.1,
                   mlm_probability: float = 0.15) -> None:
        if not isinstance(do_mlm, bool):
            raise ValueError(f"do_mlm must be true or false, got {do_mlm!r}")
        if not 0.0 < mlm_probability < 1.0:
            raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
        if mlm_weight < 0:
            raise ValueError(f"mlm_weight must be >= 0, got {mlm_weight}")

    def forward(self, batch: TextBatch) -> LossOutput:
        views = views_of(batch)
        enc = tokenize(self.tokenizer, [text for view in views for text in view], self.max_seq_length)
        enc = {key: value.to(self.device) for key, value in enc.items()}
        z = self.head(self.encoder(**enc))  # (V·N, D): one pass, independent dropout per row
        parts = [self._gather(part) for part in z.split(len(batch))]  # V × (N, D)
        out = self.loss(batch=EmbeddingBatch(
            anchor=parts[0], positive=parts[1], hard_negative=parts[2] if len(parts) > 2 else None,
        ))
        stats = dict(out.stats)
        total = out.total
        if self.mlm_head is not None:
            mlm_loss, mlm_stats = self._mlm(enc)
            stats["cl/loss"] = out.total.detach()
            stats.update(mlm_stats)
            total = total + self.mlm_weight * mlm_loss
        stats["loss"] = total.detach()
        return LossOutput(total, stats)

    def _gather(self, x: torch.Tensor) -> torch.Tensor:
        return gather_with_grad(x) if self.gather_negatives else x

    def _mlm(self, enc: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Second backbone pass on BERT-masked copies of every row (§1.5); the inputs of the
        contrastive pass are left untouched (the pre-a0867f4 in-place bug, §1.9)."""
        ids, mask = enc["input_ids"], enc["attention_mask"]
        special = special_tokens_mask(ids, self.tokenizer.all_special_ids)
        masked, labels = mlm_mask(ids, mask, special, len(self.tokenizer), self.tokenizer.mask_token_id,
                                  self.mlm_probability)
        extra = {k: v for k, v in enc.items() if k not in ("input_ids", "attention_mask")}
        hidden = self.encoder.backbone(input_ids=masked, attention_mask=mask, return_dict=True,
                                       **extra).last_hidden_state  # (R, T, H)
        logits = self.mlm_head(hidden)  # (R, T, V)
        targets = labels != IGNORE_INDEX
        # sum / count instead of mean: a tiny batch with no selected token gives 0, not NaN
        loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX,
                               reduction="sum") / targets.sum().clamp(min=1)
        hits = (logits.argmax(-1)[targets] == labels[targets]).float()
        acc = hits.mean() if targets.any() else loss.new_zeros(())
        return loss, {"mlm/loss": loss.detach(), "mlm/acc": acc.detach()}


def _checkpoint_keys(model_dir: Path) -> list[str]:
    """Parameter names stored in a HF checkpoint directory (safetensors, sharded or .bin)."""
    import json

    if (model_dir / "model.safetensors").exists():
        from safetensors import safe_open

        with safe_open(str(model_dir / "model.safetensors"), framework="pt") as handle:
            return list(handle.keys())
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (model_dir / index).exists():
            return list(json.loads((model_dir / index).read_text())["weight_map"])
    if (model_dir / "pytorch_model.bin").exists():
        return list(torch.load(model_dir / "pytorch_model.bin", map_location="cpu", weights_only=True))
    raise ConfigError(f"{model_dir}: no model weights found")


def load_mlm_head(model_dir: str | Path) -> nn.Module | None:
    """The checkpoint's pretrained LM prediction head, or None when it stores none (§1.5).

    BERT: ``cls.predictions`` (transform + decoder), as SimCSE copies it from
    ``BertForPreTraining``; RoBERTa: ``lm_head``. The decoder weight is an untied copy of the
    word embeddings, as in SimCSE (its ``lm_head`` is not tied to the encoder being trained).
    """
    root = Path(model_dir)
    if not any(key.startswith(_MLM_HEAD_PREFIXES) for key in _checkpoint_keys(root)):
        return None
    import copy

    from transformers import AutoModelForMaskedLM

    from sentemb.models.encoder import quiet_hf

    with quiet_hf():
        mlm = AutoModelForMaskedLM.from_pretrained(str(root))
    head = mlm.cls.predictions if hasattr(mlm, "cls") else getattr(mlm, "lm_head", None)
    if head is None:
        raise ConfigError(f"{root}: unsupported MLM architecture {type(mlm).__name__}")
    return copy.deepcopy(head)  # deepcopy unties the decoder from mlm's own embeddings
