"""DiffCSE: SimCSE plus a conditional replaced-token-detection (RTD) term (docs/methods.md §2).

One step, in the reference code's order (§2.3):

1. the N sentences are duplicated into 2N rows (unsupervised SimCSE, §1.2) and go through the
   encoder in ONE forward with dropout on; h = projector([CLS]) for all 2N rows, so the
   projector's BatchNorm statistics cover both views at once (§2.2);
2. every row is masked independently (``masking_ratio``; special and pad tokens never; 80/10/10)
   with the objective's own seeded ``torch.Generator``, checkpointed as extra state;
3. the generator proposes x'' (§2.2 "Generator G"; see ``generators.py``); position 0 is forced
   back to [CLS] and pads are written as id 0, as the reference does (``x'' * attention_mask``);
4. RTD labels y_t = 1[x''_t != x_t], 0 on pads;
5. a separate copy of the pretrained backbone (the discriminator D) embeds x'' and the
   embedding-layer output at position 0 is replaced by h (post-projector; pre-projector [CLS]
   with ``before_mlp``) through a forward hook on D's ``embeddings``; h keeps its graph, so the
   RTD loss trains the encoder through h; no LayerNorm or position embedding is added to it;
6. L = L_contrast(u = h[:N], v = h[N:]) + λ·L_RTD (§2.3 step 7).

``rtd_reduction``: ``mean_all_positions`` (reference: 2-way cross-entropy averaged over all
2N×T positions, pads and position 0 included, no ignore index), ``mean_non_pad``, or ``sum``
(over non-pad tokens of all rows: the paper's formula; λ = 0.005 only makes sense under the
code's mean convention).

Evaluation and export: the projector is training-only (``mlp_only_train``), so the encoder is
evaluated with the pooler it trains with. The paper pools the last-layer [CLS]
(``cls_before_pooler``); any pooler is accepted except ``cls``, whose pretrained dense+tanh
layer is not part of DiffCSE (the embedded default pools all-MiniLM-L6-v2 with ``avg``, the
pooling it was trained with).

References: Chuang et al., DiffCSE, NAACL 2022; voidism/DiffCSE at commit f724b2c
(diffcse/models.py, modeling_bert.py ``cls_input``).
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)
from torch import nn

from sentemb.data.collate import tokenize
from sentemb.data.views import mlm_mask, special_tokens_mask
from sentemb.errors import ConfigError
from sentemb.losses.base import EmbeddingBatch, LossOutput
from sentemb.models.heads import build_head
from sentemb.objectives.base import BuildContext, Objective, TextBatch
from sentemb.objectives.generators import Decode, Generator, build_generator
from sentemb.training.distributed import gather_with_grad

RTDReduction = Literal["mean_all_positions", "mean_non_pad", "sum"]
RTD_REDUCTIONS: tuple[str, ...] = ("mean_all_positions", "mean_non_pad", "sum")
EVAL_POOLER = "cls_before_pooler"


class DiffCSEObjective(Objective):
    """The DiffCSE recipe around a contrastive ``loss`` (the SimCSE InfoNCE, τ = 0.05).

    Args:
        encoder: ``SentenceEncoder``; the paper's pooler is ``cls_before_pooler`` (not ``cls``).
        tokenizer: the encoder's tokenizer (the generator must share its vocabulary).
        loss: contrastive loss on ``EmbeddingBatch(anchor=u, positive=v)``.
        generator: a ``Generator`` (``build_generator``); frozen, never in the optimizer.
        discriminator_dir: the encoder's pretrained checkpoint, loaded again as D (§2.2).
        masking_ratio, lambda_weight: §2.4 (BERT STS: 0.30, 0.005).
        projector: head name of ``models.heads`` (``bn_mlp`` = DiffCSE's BN projector, ``mlp``
            = SimCSE's Linear+tanh, i.e. DiffCSE without ``--batchnorm``).
        before_mlp: condition D on the pre-projector [CLS] instead of h.
        gather_negatives: all-gather u and v across processes for the contrastive term (§1.4).
        seed: seeds the masking stream.
        rtd_reduction: see the module docstring.

    Stats: the contrastive loss's own stats under their own names (``pos_cos``, ``neg_cos``,
    ``acc``, ``align``, ``uniform``), except that, as in ``two_view.py`` with an auxiliary term,
    ``loss`` is the total and ``cl/loss`` the contrastive term; ``rtd/loss``, ``rtd/acc`` (token
    accuracy over non-pad), ``rtd/rep_acc`` (recall on replaced), ``rtd/fix_acc`` (accuracy on
    unreplaced), ``rtd/replaced_rate`` (fraction of y = 1 among non-pad tokens; slightly below
    ``masking_ratio``) and the projector's BatchNorm running statistics (``projector/bn<i>_*``).
    ``generator_name`` (a string attribute, not a stat) records which generator ran.
    """

    data_kinds: tuple[str, ...] = ("wiki",)  # unsupervised only (build_objective checks it)
    provides: frozenset[str] = frozenset()

    def __init__(self, encoder: nn.Module, tokenizer: object, loss: nn.Module, *, generator: Generator,
                 discriminator_dir: str, masking_ratio: float = 0.3, lambda_weight: float = 0.005,
                 projector: str = "bn_mlp", before_mlp: bool = False, max_seq_length: int = 32,
                 gather_negatives: bool = True, seed: int = 42,
                 rtd_reduction: RTDReduction = "mean_all_positions") -> None:
        super().__init__()
        _validate(encoder, tokenizer, masking_ratio, lambda_weight, rtd_reduction)
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.loss = loss
        self.generator = generator  # a registered submodule when it is an nn.Module (device, state)
        self.generator_name: str = generator.name
        config = encoder.backbone.config  # type: ignore[union-attr]
        dim = int(config.hidden_size)
        self.projector = build_head(projector, dim, float(getattr(config, "initializer_range", 0.02)))
        self.discriminator = load_discriminator(discriminator_dir, dim)
        self.rtd_head = nn.Linear(dim, 2)  # PyTorch default init, attached after from_pretrained (§2.2)
        self.masking_ratio, self.lambda_weight = float(masking_ratio), float(lambda_weight)
        self.before_mlp, self.max_seq_length = before_mlp, max_seq_length
        self.gather_negatives, self.rtd_reduction = gather_negatives, rtd_reduction
        self._special_ids = [int(i) for i in tokenizer.all_special_ids]  # type: ignore[attr-defined]
        self._mask_id = int(tokenizer.mask_token_id)  # type: ignore[attr-defined]
        self._cls_id = int(tokenizer.cls_token_id)  # type: ignore[attr-defined]
        self._vocab_size = len(tokenizer)  # type: ignore[arg-type]
        self._mask_rng = torch.Generator().manual_seed(seed)

    @classmethod
    def from_recipe(cls, ctx: BuildContext, *, generator: str = "random", masking_ratio: float = 0.3,
                    lambda_weight: float = 0.005, before_mlp: bool = False,
                    rtd_reduction: RTDReduction = "mean_all_positions", generator_decode: Decode = "argmax",
                    generator_train_mode: bool = True) -> DiffCSEObjective:
        """The projector is the method's head; D is loaded again from the encoder's checkpoint."""
        gen = build_generator(generator, ctx.tokenizer, ctx.seed, decode=generator_decode,
                              train_mode=generator_train_mode)
        return cls(ctx.encoder, ctx.tokenizer, ctx.loss, generator=gen, discriminator_dir=str(ctx.model_path),
                   masking_ratio=masking_ratio, lambda_weight=lambda_weight, projector=ctx.head,
                   before_mlp=before_mlp, max_seq_length=ctx.max_seq_length, gather_negatives=ctx.gather_negatives,
                   seed=ctx.seed, rtd_reduction=rtd_reduction)

    @classmethod
    def check_args(cls, *, head: str, train_pooler: str, generator: str = "random", masking_ratio: float = 0.3,
                   lambda_weight: float = 0.005, before_mlp: bool = False,
                   rtd_reduction: RTDReduction = "mean_all_positions", generator_decode: Decode = "argmax",
                   generator_train_mode: bool = True) -> None:
        if train_pooler == "cls":
            raise ValueError(f"DiffCSE's projector replaces the model's pooler layer; train with '{EVAL_POOLER}' "
                             "(the paper) or another pooler that reads token states, not 'cls'")
        _check_values(masking_ratio, lambda_weight, rtd_reduction)
        if generator_decode not in ("argmax", "sample"):
            raise ValueError(f"generator_decode must be argmax or sample, got {generator_decode!r}")

    def forward(self, batch: TextBatch) -> LossOutput:
        if batch.positives is not None or batch.hard_negatives is not None:
            raise ValueError("DiffCSE is unsupervised: the batch must hold sentences only")
        enc = self._tokenize(batch.sentences)
        ids, attn = enc.pop("input_ids"), enc.pop("attention_mask")  # (2N, T) each
        cls = self.encoder(ids, attn, **enc)  # (2N, D): one forward, independent dropout per copy
        h = self.projector(cls)  # (2N, D): BN statistics over all 2N rows
        contrast = self._contrast(h)
        replaced, labels = self.corrupt(ids, attn)
        logits = self.discriminate(replaced, attn, cls if self.before_mlp else h, **enc)  # (2N, T, 2)
        rtd = rtd_loss(logits, labels, attn, self.rtd_reduction)
        total = contrast.total + self.lambda_weight * rtd.total
        # The repo's convention (two_view.py): "loss" is the total, "cl/loss" the contrastive term.
        stats = {**contrast.stats, "cl/loss": contrast.total.detach(), "loss": total.detach()}
        stats.update({f"rtd/{k}": v for k, v in rtd.stats.items()})
        stats.update(self._bn_stats())
        return LossOutput(total, stats)

    def _tokenize(self, sentences: list[str]) -> dict[str, torch.Tensor]:
        """Tokenise once and stack two copies: rows [0, N) are view 1, rows [N, 2N) view 2."""
        enc = tokenize(self.tokenizer, sentences, self.max_seq_length)
        return {k: v.repeat(2, 1).to(self.device) for k, v in enc.items()}

    def _contrast(self, h: torch.Tensor) -> LossOutput:
        n = h.shape[0] // 2
        u, v = h[:n], h[n:]  # (N, D) each
        if self.gather_negatives:  # negatives from every process, as SimCSE (§1.4)
            u, v = gather_with_grad(u), gather_with_grad(v)
        return self.loss(batch=EmbeddingBatch(anchor=u, positive=v))

    @torch.no_grad()
    def corrupt(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Steps 3-5 of §2.3: ``(x'', y)``, both (B, T) long."""
        special = special_tokens_mask(input_ids, self._special_ids)
        masked, _ = mlm_mask(input_ids, attention_mask, special, self._vocab_size, self._mask_id,
                             self.masking_ratio, self._mask_rng)
        replaced = self.generator.generate(masked, attention_mask, input_ids).clone()
        replaced[:, 0] = self._cls_id  # the generator may rewrite [CLS]; D must always see it
        replaced = replaced * attention_mask  # pads -> id 0, the reference's convention
        labels = ((replaced != input_ids) & attention_mask.bool()).long()
        return replaced, labels

    def discriminate(self, replaced: torch.Tensor, attention_mask: torch.Tensor, condition: torch.Tensor,
                     **extra: torch.Tensor) -> torch.Tensor:
        """RTD logits (B, T, 2) of D on x'' with position 0 of its embedding output set to
        ``condition`` (B, D). The hook lives only for this call, so D used elsewhere is plain."""
        hook = partial(_swap_position0, condition=condition)
        handle = self.discriminator.embeddings.register_forward_hook(hook)
        try:
            out = self.discriminator(input_ids=replaced, attention_mask=attention_mask, return_dict=True,
                                     **extra)
        finally:
            handle.remove()
        return self.rtd_head(out.last_hidden_state)  # (B, T, 2)

    def _bn_stats(self) -> dict[str, torch.Tensor]:
        """Mean running mean/variance of each projector BatchNorm (docs/methods.md §2.5: the
        projector's BatchNorm running statistics are logged)."""
        stats: dict[str, torch.Tensor] = {}
        norms = [m for m in self.projector.modules() if isinstance(m, nn.BatchNorm1d)]
        for i, bn in enumerate(norms):
            if bn.running_mean is not None and bn.running_var is not None:
                stats[f"projector/bn{i}_running_mean"] = bn.running_mean.detach().mean()
                stats[f"projector/bn{i}_running_var"] = bn.running_var.detach().mean()
        return stats

    def get_extra_state(self) -> dict[str, torch.Tensor]:
        return {"mask_rng_state": self._mask_rng.get_state()}

    def set_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        self._mask_rng.set_state(state["mask_rng_state"])


def _swap_position0(module: nn.Module, args: object, output: torch.Tensor, *,
                    condition: torch.Tensor) -> torch.Tensor:
    """Forward hook on D's embeddings: position 0 of the (B, T, D) output becomes ``condition``.

    Out of place, so that both the embedding output (rows 1..T-1) and ``condition`` keep their
    graphs; the swap happens after D's embedding LayerNorm and dropout, as the reference's
    ``cls_input`` does (§2.3 step 6)."""
    if not isinstance(output, torch.Tensor) or output.ndim != 3:
        raise TypeError("the discriminator's embeddings must return a (B, T, D) tensor")
    if condition.shape != (output.shape[0], output.shape[2]):
        raise ValueError(f"condition {tuple(condition.shape)} does not match the embeddings "
                         f"{tuple(output.shape)}")
    return torch.cat([condition.to(output.dtype).unsqueeze(1), output[:, 1:]], dim=1)  # (B, T, D)


def rtd_loss(logits: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor,
             reduction: RTDReduction = "mean_all_positions") -> LossOutput:
    """2-way cross-entropy of the RTD logits (B, T, 2) against labels (B, T) (§2.3 step 7).

    Stats (over non-pad tokens): ``loss``, ``acc``, ``rep_acc``, ``fix_acc``, ``replaced_rate``."""
    per_token = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), reduction="none")
    per_token = per_token.view(labels.shape)  # (B, T)
    real = attention_mask.to(per_token.dtype)
    if reduction == "mean_all_positions":
        total = per_token.mean()  # pads and position 0 included: the reference's convention
    elif reduction == "mean_non_pad":
        total = (per_token * real).sum() / real.sum()
    elif reduction == "sum":
        total = (per_token * real).sum()
    else:
        raise ConfigError(f"unknown rtd_reduction '{reduction}'; valid: {', '.join(RTD_REDUCTIONS)}")
    return LossOutput(total, {"loss": total.detach(), **rtd_stats(logits, labels, attention_mask)})


@torch.no_grad()
def rtd_stats(logits: torch.Tensor, labels: torch.Tensor,
              attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """The reference's electra_acc/rep_acc/fix_acc (§2.5) and the replaced rate, over non-pad
    tokens. Empty denominators count as 1, so a batch without replacements gives 0, not NaN
    (the reference divides pads into ``acc`` too; here it is the plain non-pad accuracy)."""
    pred, real = logits.argmax(-1), attention_mask.bool()  # (B, T) each
    rep, fix = (labels == 1) & real, (labels == 0) & real
    n_real = real.sum().clamp_min(1).float()
    return {
        "acc": ((pred == labels) & real).sum() / n_real,
        "rep_acc": ((pred == 1) & rep).sum() / rep.sum().clamp_min(1).float(),
        "fix_acc": ((pred == 0) & fix).sum() / fix.sum().clamp_min(1).float(),
        "replaced_rate": rep.sum() / n_real,
    }


def load_discriminator(path: str, dim: int) -> nn.Module:
    """D: a separate copy of the pretrained backbone, trained, sharing no weights with f (§2.2)."""
    from transformers import AutoModel

    from sentemb.models.encoder import quiet_hf, resolve_model_path

    with quiet_hf():  # its load report lists the checkpoint's unused MLM/NSP heads (expected)
        model = AutoModel.from_pretrained(str(resolve_model_path(path)))
    if not isinstance(getattr(model, "embeddings", None), nn.Module):
        raise ConfigError(f"discriminator '{path}': the model has no 'embeddings' module to condition")
    if int(model.config.hidden_size) != dim:
        raise ConfigError(f"discriminator '{path}' has width {model.config.hidden_size}, the encoder {dim}: "
                          "D must be a copy of the encoder's checkpoint")
    if isinstance(getattr(model, "pooler", None), nn.Module):
        model.pooler = None  # D reads token states only; a pooler would sit in the optimizer ungraded
    return model


def _check_values(masking_ratio: float, lambda_weight: float, rtd_reduction: str) -> None:
    if not 0.0 < masking_ratio < 1.0:
        raise ConfigError(f"masking_ratio must be in (0, 1), got {masking_ratio}")
    if not lambda_weight >= 0.0:
        raise ConfigError(f"lambda_weight must be >= 0, got {lambda_weight}")
    if rtd_reduction not in RTD_REDUCTIONS:
        raise ConfigError(f"unknown rtd_reduction '{rtd_reduction}'; valid: {', '.join(RTD_REDUCTIONS)}")


def _validate(encoder: nn.Module, tokenizer: object, masking_ratio: float, lambda_weight: float,
              rtd_reduction: str) -> None:
    if getattr(encoder, "pooler", None) == "cls":
        raise ConfigError(f"DiffCSE's projector replaces the model's pooler layer; train with '{EVAL_POOLER}' "
                          "(the paper) or another pooler that reads token states, not 'cls'")
    _check_values(masking_ratio, lambda_weight, rtd_reduction)
    for attr in ("mask_token_id", "cls_token_id"):
        if getattr(tokenizer, attr, None) is None:
            raise ConfigError(f"DiffCSE needs a tokenizer with a {attr.removesuffix('_id')}")

