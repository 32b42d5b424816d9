"""View builders: pure functions that turn one token sequence into a training view.

* dropout views (SimCSE, docs/methods.md §1.2) need no builder: the same ids go through the encoder
  twice and dropout does the rest;
* ``word_repetition``: ESimCSE's positive view (docs/methods.md §3.2);
* ``mlm_mask``: BERT-style masking for SimCSE's MLM auxiliary (§1.5) and DiffCSE's corrupted
  copies (§2.3, step 3).

Nothing here holds state: every random draw comes from the generator the caller passes, so an
objective that owns the generator can checkpoint it and resume exactly.
"""

from __future__ import annotations

import random
from typing import TypeVar

import torch

T = TypeVar("T")

IGNORE_INDEX = -100  # cross-entropy's ignore_index: positions that are not MLM targets


def word_repetition(ids: list[int], dup_rate: float, rng: random.Random, cap: int = 10) -> list[int]:
    """Return ESimCSE's positive view of ``ids``: a few tokens repeated (docs/methods.md §3.2).

    The official rule, followed exactly (``dup_type=bpe``):

    * L = ``len(ids)``, counting [CLS] and [SEP]; K = int(dup_rate·L);
    * K == 0: the sequence is returned unchanged (a copy);
    * else n ~ uniform{0, …, min(cap, K) − 1} (upper bound exclusive, no lower bound of 2: the
      paper's "[0, max(2, …)]" differs from the code, §3.2);
    * n distinct positions are drawn uniformly from 1..L−2 (never the first or last token), and
      each chosen token is inserted a second time right after itself.

    ``dup_rate`` must lie in [0, 1): from 1 on, n could exceed the L−2 eligible positions.
    """
    if not 0.0 <= dup_rate < 1.0:
        raise ValueError(f"dup_rate must be in [0, 1), got {dup_rate}")
    length = len(ids)
    k = int(dup_rate * length)
    if k == 0:
        return list(ids)
    n = rng.randrange(min(cap, k))  # uniform over 0..min(cap, K)-1
    return _repeat_at(list(ids), set(rng.sample(range(1, length - 1), n)))


def _bernoulli(shape: torch.Size, p: float, generator: torch.Generator | None,
               device: torch.device) -> torch.Tensor:
    """Boolean Bernoulli(p) draws, sampled on the generator's device (a CPU generator cannot
    drive CUDA sampling) and moved to ``device``."""
    gen_device = generator.device if generator is not None else device
    probs = torch.full(shape, p, device=gen_device)
    return torch.bernoulli(probs, generator=generator).bool().to(device)


def mlm_mask(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    special_mask: torch.Tensor,
    tokenizer_vocab_size: int,
    mask_token_id: int,
    prob: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking of a padded batch (docs/methods.md §1.5; for DiffCSE §2.3 step 3).

    Each real, non-special token is selected with probability ``prob``; special tokens
    (``special_mask`` True) and padding (``attention_mask`` 0) never are. Of the selected
    tokens 80% become ``mask_token_id``, 10% a uniformly random id in [0, tokenizer_vocab_size)
    and 10% stay unchanged (HF's DataCollatorForLanguageModeling scheme, which SimCSE uses).

    Returns ``(masked_ids, labels)``, both (B, T): labels hold the original id at selected
    positions and −100 elsewhere. The input is never modified: SimCSE before commit a0867f4
    masked ``input_ids`` in place, so its contrastive views were masked too (§1.5, §1.9).
    """
    device = input_ids.device
    eligible = attention_mask.bool() & ~special_mask.bool()
    selected = _bernoulli(input_ids.shape, prob, generator, device) & eligible
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    to_mask = _bernoulli(input_ids.shape, 0.8, generator, device) & selected
    # half of the remaining 20% -> random token, the other half keeps its id
    to_random = _bernoulli(input_ids.shape, 0.5, generator, device) & selected & ~to_mask
    gen_device = generator.device if generator is not None else device
    random_ids = torch.randint(tokenizer_vocab_size, input_ids.shape, generator=generator, device=gen_device)
    masked = input_ids.clone()
    masked[to_mask] = mask_token_id
    masked[to_random] = random_ids.to(device=device, dtype=input_ids.dtype)[to_random]
    return masked, labels


def special_tokens_mask(input_ids: torch.Tensor, special_ids: list[int]) -> torch.Tensor:
    """(B, T) bool: True where the id is one of the tokenizer's special ids ([CLS], [SEP], [PAD], …)."""
    specials = torch.tensor(sorted(set(special_ids)), dtype=input_ids.dtype, device=input_ids.device)
    return torch.isin(input_ids, specials)


def word_repetition_text(text: str, dup_rate: float, rng: random.Random, cap: int = 10) -> tuple[str, int]:
    """ESimCSE's ``dup_type=word`` view: repeat whitespace words before tokenisation (§3.2).

    The official rule for this mode differs from the subword one and is followed as written
    (caskcsg/sentemb ESimCSE/train.py ``prepare_features``): with L = number of ``' '``-split
    words, n ~ uniform{0, …, min(cap, L, max(2, int(dup_rate·L))) − 1}, drawn from positions
    0..L−2 (the first word may repeat, the last never does). Returns ``(text, n)``.
    """
    words = text.split(" ")
    length = len(words)
    n = rng.randrange(min(cap, length, max(2, int(dup_rate * length))))
    return " ".join(_repeat_at(words, set(rng.sample(range(0, length - 1), n)))), n


def _repeat_at(items: list[T], chosen: set[int]) -> list[T]:
    """Each item whose position is in ``chosen`` is inserted a second time right after itself."""
    out: list[T] = []
    for pos, item in enumerate(items):
        out.append(item)
        if pos in chosen:
            out.append(item)
    return out
