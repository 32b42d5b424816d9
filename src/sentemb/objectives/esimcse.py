"""ESimCSE: word-repetition positives + momentum-encoder queue of extra negatives (docs/methods.md §3).

One step (``forward`` in train mode):

1. views (§3.2): anchor u = the original sentence truncated to ``max_seq_length``; positive v =
   the same ids with a few subwords repeated (``dup_type=bpe``, applied AFTER tokenisation and
   truncation, so v may exceed ``max_seq_length``), or with whitespace words repeated before
   tokenisation (``dup_type=word``). Both views go through the online encoder in ONE forward
   pass with dropout on; the training head is applied to both.
2. loss on ``EmbeddingBatch(u, v, extra_negatives=queue)``: the queue holds momentum-encoder
   embeddings of earlier batches, detached (§3.3). At step 1 it is empty, so the first step is
   plain in-batch InfoNCE.
3. EMA update θ_m ← m·θ_m + (1−m)·θ of the momentum body, inside ``forward`` and before the
   optimizer step, as in the official code.
4. the momentum encoder, in eval mode (no dropout), encodes the ORIGINAL sentences; the ONLINE
   head (also in eval mode) is applied; the detached result is enqueued, keeping the newest
   ``queue_size`` rows (FIFO).

Steps 3–4 run only in train mode: scoring a batch in eval mode changes no state.

Behaviours, against the official code (caskcsg/sentemb ESimCSE @ 5eeec55):
  * followed: the repetition rules (bpe and word), one-directional loss with the queue as
    extra columns, EMA inside forward after the online pass, momentum pass without dropout,
    online MLP shared by the momentum branch, only the body averaged.
  * deviation: repetition is re-sampled at every step (``dup_resample = per_step``); the
    official code samples it once inside ``datasets.map`` and re-uses the cached view every
    epoch (and across runs sharing the cache). With one epoch, as in run.sh, each sentence is
    seen once either way, so only the random stream differs.
  * followed (default ``momentum_init: random_reference``): the momentum body starts randomly
    initialised, as the official code's momentum BERT does (its ``init_weights``), and only the
    EMA brings it towards the online encoder (§3.3). ``copy_pretrained`` is the option that
    starts it equal to the pretrained encoder (a deviation; the default profile's MiniLM runs use
    it, since 32 steps of EMA at m = 0.995 leave a random body nearly untouched).
  * choice: under several processes each rank enqueues its own momentum embeddings (the
    official scripts run on one GPU); in-batch views are all-gathered as in SimCSE (§1.4).

State (all in ``state_dict``): the momentum body, the ``queue`` (K, D) and ``queue_fill``
buffers, and, through ``get_extra_state``, the repetition RNG state, so a resumed run
repeats exactly the tokens an uninterrupted run would.
"""

from __future__ import annotations

import random
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

from sentemb.data.collate import pad_ids, token_ids
from sentemb.data.views import word_repetition, word_repetition_text
from sentemb.errors import ConfigError
from sentemb.losses.base import EmbeddingBatch, LossOutput
from sentemb.models.heads import MOMENTUM_INITS, MomentumEncoder, build_head
from sentemb.objectives.base import BuildContext, Objective, TextBatch
from sentemb.objectives.two_view import encoder_dim, head_init_std
from sentemb.training.distributed import gather_with_grad

DUP_TYPES: tuple[str, ...] = ("bpe", "word")


class ESimCSEObjective(Objective):
    """ESimCSE (docs/methods.md §3); see the module docstring for the step and the behaviours.

    Args:
        encoder, tokenizer, loss: as in ``TwoViewObjective`` (the loss must accept
            ``extra_negatives``; InfoNCE does).
        dup_rate: repetition rate (0.32 for BERT-base, §3.4); dup_type: ``bpe`` | ``word``.
        queue_size: K, number of queued negatives (160 = 2.5 × batch 64); 0 disables the queue.
        momentum: EMA coefficient m (0.995); momentum_init: ``copy_pretrained`` |
            ``random_reference``.
        max_seq_length: truncation of the original sentence (32); head: ``none|mlp|bn_mlp``.
        seed: seed of the repetition RNG (``random.Random``, checkpointed).
        gather_negatives: all-gather u and v across processes.
    """

    data_kinds: tuple[str, ...] = ("wiki",)
    provides: frozenset[str] = frozenset({"extra_negatives"})

    def __init__(self, encoder: nn.Module, tokenizer: Any, loss: nn.Module, *, dup_rate: float = 0.32,
                 dup_type: str = "bpe", queue_size: int = 160, momentum: float = 0.995,
                 momentum_init: str = "random_reference", max_seq_length: int = 32, head: str = "mlp",
                 seed: int = 42, gather_negatives: bool = True) -> None:
        super().__init__()
        _validate(dup_rate, dup_type, queue_size, momentum)
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.loss = loss
        self.head_name = head
        self.head = build_head(head, encoder_dim(encoder), head_init_std(encoder))
        self.momentum_encoder = MomentumEncoder(encoder, momentum_init)
        self.dup_rate, self.dup_type = dup_rate, dup_type
        self.momentum, self.momentum_init = momentum, momentum_init
        self.max_seq_length = max_seq_length
        self.gather_negatives = gather_negatives
        self.register_buffer("queue", torch.zeros(queue_size, encoder_dim(encoder)))
        self.register_buffer("queue_fill", torch.zeros((), dtype=torch.long))
        self._rng = random.Random(seed)

    @classmethod
    def from_recipe(cls, ctx: BuildContext, *, dup_rate: float = 0.32, dup_type: str = "bpe",
                    queue_size: int = 160, momentum: float = 0.995,
                    momentum_init: str = "random_reference") -> ESimCSEObjective:
        return cls(ctx.encoder, ctx.tokenizer, ctx.loss, dup_rate=dup_rate, dup_type=dup_type, queue_size=queue_size,
                   momentum=momentum, momentum_init=momentum_init, max_seq_length=ctx.max_seq_length,
                   head=ctx.head, seed=ctx.seed, gather_negatives=ctx.gather_negatives)

    @classmethod
    def check_args(cls, *, head: str, train_pooler: str, dup_rate: float = 0.32, dup_type: str = "bpe",
                   queue_size: int = 160, momentum: float = 0.995,
                   momentum_init: str = "random_reference") -> None:
        _validate(dup_rate, dup_type, queue_size, momentum)
        if momentum_init not in MOMENTUM_INITS:
            raise ValueError(f"momentum_init must be one of {', '.join(MOMENTUM_INITS)}, got {momentum_init!r}")

    # -- views -----------------------------------------------------------------------------
    def make_views(self, sentences: list[str]) -> tuple[list[list[int]], list[list[int]], list[int]]:
        """(anchor ids, positive ids, units added per sentence); advances the repetition RNG."""
        anchors = token_ids(self.tokenizer, sentences, self.max_seq_length)
        if self.dup_type == "bpe":
            positives = [word_repetition(ids, self.dup_rate, self._rng) for ids in anchors]
            return anchors, positives, [len(p) - len(a) for p, a in zip(positives, anchors)]
        edited = [word_repetition_text(text, self.dup_rate, self._rng) for text in sentences]
        positives = token_ids(self.tokenizer, [text for text, _ in edited], self.max_seq_length)
        return anchors, positives, [n for _, n in edited]

    # -- step ------------------------------------------------------------------------------
    def forward(self, batch: TextBatch) -> LossOutput:
        if batch.positives is not None or batch.hard_negatives is not None:
            raise ValueError("ESimCSE builds its own positives: give sentences only (wiki data)")
        n = len(batch)
        anchors, positives, added = self.make_views(batch.sentences)
        ids, mask = pad_ids(anchors + positives, self.tokenizer.pad_token_id)  # (2N, T)
        z = self.head(self.encoder(ids.to(self.device), mask.to(self.device)))  # (2N, D), one pass
        u, v = z.split(n)
        fill = int(self.queue_fill)
        # a copy: the in-place enqueue below must not touch a tensor autograd saved for backward
        queue = self.queue[:fill].detach().clone() if fill else None  # (fill, D)
        out = self.loss(batch=EmbeddingBatch(anchor=self._gather(u), positive=self._gather(v),
                                             extra_negatives=queue))
        stats = {**self._view_stats(anchors, positives, added, u, queue), **out.stats}  # the loss's own win
        if self.training:
            self.momentum_encoder.update(self.encoder, self.momentum)
            self._enqueue(self._momentum_embed(anchors))
        stats["loss"] = out.total.detach()
        return LossOutput(out.total, stats)

    def _gather(self, x: torch.Tensor) -> torch.Tensor:
        return gather_with_grad(x) if self.gather_negatives else x

    @torch.no_grad()
    def _momentum_embed(self, anchors: list[list[int]]) -> torch.Tensor:
        """Momentum body (eval mode, always) + online head in eval mode, detached: (N, D)."""
        ids, mask = pad_ids(anchors, self.tokenizer.pad_token_id)
        pooled = self.momentum_encoder(ids.to(self.device), mask.to(self.device))
        was_training = self.head.training
        self.head.eval()  # official: model.eval() for this pass; matters for a BatchNorm head
        try:
            return self.head(pooled).detach()
        finally:
            self.head.train(was_training)

    @torch.no_grad()
    def _enqueue(self, new: torch.Tensor) -> None:
        """Append rows, keep the newest ``queue_size`` (oldest first in the buffer)."""
        size = self.queue.shape[0]
        if size == 0:
            return
        merged = torch.cat([self.queue[: int(self.queue_fill)], new.to(self.queue.dtype)])[-size:]
        self.queue[: len(merged)] = merged
        self.queue_fill.fill_(len(merged))

    def _view_stats(self, anchors: list[list[int]], positives: list[list[int]], added: list[int],
                    u: torch.Tensor, queue: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """queue_fill (rows used this step), queue_cos (mean anchor–queue cosine; absent while
        the queue is empty: no placeholder value), dup_added, len_diff (tokens, v − u). A loss
        that reports its own ``queue_cos`` (InfoNCE) overrides this one (same quantity)."""
        device = u.device
        stats = {
            "queue_fill": torch.tensor(float(0 if queue is None else len(queue)), device=device),
            "dup_added": torch.tensor(sum(added) / len(added), device=device),
            "len_diff": torch.tensor(sum(len(p) - len(a) for p, a in zip(positives, anchors)) / len(anchors),
                                     device=device),
        }
        if queue is not None:
            cos = F.normalize(u.detach().float(), dim=-1) @ F.normalize(queue.float(), dim=-1).T  # (N, fill)
            stats["queue_cos"] = cos.mean()
        return stats

    # -- checkpoint hooks ------------------------------------------------------------------
    def get_extra_state(self) -> dict[str, Any]:
        return {"rng_state": self._rng.getstate(), "momentum_init": self.momentum_init}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._rng.setstate(_as_rng_state(state["rng_state"]))


def _as_rng_state(state: Any) -> tuple[Any, ...]:
    """``random.Random`` states are nested tuples; a JSON/pickle round trip may give lists."""
    version, internal, gauss = state
    return version, tuple(internal), gauss


def _validate(dup_rate: float, dup_type: str, queue_size: int, momentum: float) -> None:
    if dup_type not in DUP_TYPES:
        from sentemb.config import suggest

        raise ConfigError(f"unknown dup_type '{dup_type}'; valid: {', '.join(DUP_TYPES)}"
                          + suggest(dup_type, DUP_TYPES))
    if not 0.0 <= dup_rate < 1.0:
        raise ConfigError(f"dup_rate must be in [0, 1), got {dup_rate}")
    if queue_size < 0:
        raise ConfigError(f"queue_size must be >= 0, got {queue_size}")
    if not 0.0 <= momentum <= 1.0:
        raise ConfigError(f"momentum must be in [0, 1], got {momentum}")
