"""Token-replacement generators for DiffCSE (docs/methods.md §2.2 "Generator G", §2.3 step 4).

A generator turns the masked copy of a batch into the edited sentence x'' that the conditional
discriminator has to tell apart from the original. It never trains: ``generate`` runs under
``no_grad`` and the generator owns no trainable parameter.

* ``MLMGenerator``: the reference generator, a frozen pretrained masked LM
  (``distilbert-base-uncased`` for BERT in the paper profile). The reference keeps it in train
  mode, so its dropout is active while it generates (§2.2), and takes the greedy argmax at every
  position of the masked input (§2.3 step 4; the paper says "sampling", the code does argmax).
* ``RandomReplacementGenerator``: **a deviation, used only because no MLM checkpoint is
  available offline.** Every masked position gets a uniformly random non-special token, i.e.
  tokens are replaced without a language model (the direction of the DiffCSE "replace"
  augmentation ablation, §2.7 Table 4, minus the LM). Replacements are easier to spot than MLM
  ones, so its numbers are not the paper's DiffCSE; ``name`` ("random_replacement" vs
  "mlm:<dir>") records which generator ran, and the training summary writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import torch
from torch import nn

from sentemb.errors import ConfigError

Decode = Literal["argmax", "sample"]
# build_generator offsets the seed so the replacement stream differs from the objective's mask
# stream, which is seeded with the same run seed.
_SEED_OFFSET = 1


@runtime_checkable
class Generator(Protocol):
    """``generate(masked_ids, attention_mask, original_ids) -> replaced_ids``, all (B, T) long,
    under ``no_grad``. ``name`` identifies the generator in metrics."""

    name: str

    def generate(
        self, masked_ids: torch.Tensor, attention_mask: torch.Tensor, original_ids: torch.Tensor
    ) -> torch.Tensor: ...


class MLMGenerator(nn.Module):
    """A frozen pretrained masked LM that proposes a token at every position (§2.3 step 4).

    Args:
        model_dir: local directory or hub id of an ``AutoModelForMaskedLM`` checkpoint that
            shares the encoder's vocabulary.
        decode: ``argmax`` (reference) or ``sample`` (the paper's wording; draws from the
            softmax with the global torch RNG, like the generator's dropout).
        train_mode: run the MLM in train mode (dropout on) while generating: the reference
            behaviour, since G is a submodule of the trained model (§2.2).
    """

    def __init__(self, model_dir: str, *, decode: Decode = "argmax", train_mode: bool = True) -> None:
        super().__init__()
        from transformers import AutoModelForMaskedLM

        from sentemb.models.encoder import quiet_hf, resolve_model_path

        if decode not in ("argmax", "sample"):
            raise ConfigError(f"generator decode '{decode}' is not one of argmax, sample")
        with quiet_hf():
            self.model = AutoModelForMaskedLM.from_pretrained(str(resolve_model_path(model_dir)))
        self.model.requires_grad_(False)  # frozen: never in the optimizer, no grads computed
        self.decode = decode
        self.train_mode = train_mode
        self.name = f"mlm:{model_dir}"
        self.vocab_size = int(self.model.config.vocab_size)

    @torch.no_grad()
    def generate(
        self, masked_ids: torch.Tensor, attention_mask: torch.Tensor, original_ids: torch.Tensor
    ) -> torch.Tensor:
        was_training = self.model.training
        self.model.train(self.train_mode)  # set explicitly: objective.eval() must not change G
        try:
            logits = self.model(input_ids=masked_ids, attention_mask=attention_mask).logits  # (B, T, V)
        finally:
            self.model.train(was_training)
        if self.decode == "argmax":
            return logits.argmax(-1)  # (B, T)
        probs = torch.softmax(logits.float(), dim=-1).flatten(0, 1)  # (B*T, V)
        return torch.multinomial(probs, 1).view(masked_ids.shape)


class RandomReplacementGenerator(nn.Module):
    """Replace each masked position by a uniformly random non-special token (offline default).

    "Masked" means selected by the 80/10/10 masking and actually changed there (``masked_ids !=
    original_ids``): the 80% [MASK] and the 10% random positions. The 10% "keep" positions are
    indistinguishable from unselected ones and keep their token, as do all unmasked positions,
    so the replaced rate is about 0.9 × masking ratio. Its draws come from its own seeded
    ``torch.Generator`` whose state is checkpointed (extra state) so that resume is exact.
    """

    name = "random_replacement"

    def __init__(self, vocab_size: int, special_ids: Sequence[int], seed: int) -> None:
        super().__init__()
        special = set(int(i) for i in special_ids)
        allowed = [i for i in range(vocab_size) if i not in special]
        if not allowed:
            raise ConfigError("random replacement generator: the vocabulary has no non-special token")
        self.vocab_size = vocab_size
        # A plain attribute, not a buffer: it is derived from the arguments, not state.
        self._allowed = torch.tensor(allowed, dtype=torch.long)
        self._rng = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def generate(
        self, masked_ids: torch.Tensor, attention_mask: torch.Tensor, original_ids: torch.Tensor
    ) -> torch.Tensor:
        # Drawn on CPU for every position: same stream whatever the device and the mask.
        pick = torch.randint(len(self._allowed), tuple(masked_ids.shape), generator=self._rng)
        random_ids = self._allowed[pick].to(masked_ids.device)  # (B, T)
        changed = (masked_ids != original_ids) & attention_mask.bool()
        return torch.where(changed, random_ids, original_ids)

    def get_extra_state(self) -> dict[str, torch.Tensor]:
        return {"rng_state": self._rng.get_state()}

    def set_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        self._rng.set_state(state["rng_state"])


def build_generator(spec: str, tokenizer: object, seed: int, *, decode: Decode = "argmax",
                    train_mode: bool = True) -> nn.Module:
    """``"random"`` -> ``RandomReplacementGenerator``; anything else is a model directory or hub
    id for ``MLMGenerator`` (which must share ``tokenizer``'s vocabulary)."""
    if spec == "random":
        return RandomReplacementGenerator(
            len(tokenizer), tokenizer.all_special_ids, seed + _SEED_OFFSET  # type: ignore[arg-type, attr-defined]
        )
    generator = MLMGenerator(spec, decode=decode, train_mode=train_mode)
    if generator.vocab_size != len(tokenizer):  # type: ignore[arg-type]
        raise ConfigError(
            f"generator '{spec}' has {generator.vocab_size} tokens but the tokenizer has "
            f"{len(tokenizer)}: it must share the encoder's vocabulary"  # type: ignore[arg-type]
        )
    return generator
