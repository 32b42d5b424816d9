"""Tokenisation and padding of training batches (docs/methods.md §1.6).

Training truncates at ``max_seq_length`` (32 in SimCSE, DiffCSE and ESimCSE) and pads
dynamically to the longest row of the batch; evaluation does not truncate (§0.2) and goes
through ``SentenceEncoder.encode`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def tokenize(tokenizer: Any, texts: Sequence[str], max_length: int | None) -> dict[str, torch.Tensor]:
    """Tokenise ``texts`` into one padded batch: ``input_ids``, ``attention_mask`` (and
    ``token_type_ids`` when the tokenizer makes them), each (B, T) with T the longest row
    after truncation at ``max_length`` (None: no truncation)."""
    enc = tokenizer(
        list(texts),
        padding=True,  # dynamic: to the longest row, not to max_length (pad_to_max_length=False)
        truncation=max_length is not None,
        max_length=max_length,
        return_tensors="pt",
    )
    return {key: value for key, value in enc.items() if isinstance(value, torch.Tensor)}


def token_ids(tokenizer: Any, texts: Sequence[str], max_length: int | None) -> list[list[int]]:
    """Unpadded id lists (with [CLS]/[SEP]) truncated at ``max_length``: the input of the
    views that edit token sequences (ESimCSE word repetition, docs/methods.md §3.2)."""
    enc = tokenizer(list(texts), truncation=max_length is not None, max_length=max_length)
    return [list(ids) for ids in enc["input_ids"]]


def pad_ids(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists to the longest row: ``(input_ids, attention_mask)``, both (B, T) long."""
    if not rows:
        raise ValueError("pad_ids needs at least one row")
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.as_tensor(list(row), dtype=torch.long)
        attention_mask[i, : len(row)] = 1
    return input_ids, attention_mask
