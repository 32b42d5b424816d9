"""View builders and collation on hand-made ids (docs/methods.md §1.5, §1.6, §3.2)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch

from sentemb.data.collate import pad_ids, token_ids, tokenize
from sentemb.data.views import (
    IGNORE_INDEX,
    mlm_mask,
    special_tokens_mask,
    word_repetition,
    word_repetition_text,
)

CLS, SEP, PAD, MASK = 101, 102, 0, 103


def _seq(length: int) -> list[int]:
    """[CLS] 1000 1001 … [SEP]: distinct body tokens, so every insertion is traceable."""
    return [CLS, *range(1000, 1000 + length - 2), SEP]


def _inserted_positions(ids: list[int], out: list[int]) -> list[int]:
    """Indices (in ``ids``) of the tokens that ``out`` repeats right after themselves."""
    positions, j = [], 0
    for i, token in enumerate(ids):
        assert out[j] == token
        j += 1
        if j < len(out) and out[j] == token and (i + 1 >= len(ids) or ids[i + 1] != token):
            positions.append(i)
            j += 1
    assert j == len(out)
    return positions


# -- word_repetition (§3.2) -------------------------------------------------------------------
def test_k_zero_leaves_the_sequence_unchanged() -> None:
    ids = _seq(3)  # int(0.32 * 3) == 0
    out = word_repetition(ids, 0.32, random.Random(0))
    assert out == ids and out is not ids
    assert word_repetition(_seq(40), 0.0, random.Random(0)) == _seq(40)


@pytest.mark.parametrize("length", [4, 7, 16, 32])
def test_repetition_structure(length: int) -> None:
    rng = random.Random(1)
    ids = _seq(length)
    k = int(0.32 * length)
    for _ in range(300):
        out = word_repetition(ids, 0.32, rng)
        added = len(out) - len(ids)
        assert 0 <= added <= min(10, k) - 1
        positions = _inserted_positions(ids, out)
        assert len(positions) == added
        assert all(1 <= p <= length - 2 for p in positions)  # never [CLS] nor the last [SEP]
        assert out[0] == CLS and out[-1] == SEP and out[-2] != SEP
        for i in range(1, len(out)):  # every extra token equals its left neighbour
            if out[i] in out[:i]:
                assert out[i - 1] == out[i]


@pytest.mark.parametrize(("length", "n_values"), [(20, 6), (50, 10)])  # min(10, int(.32 L))
def test_added_count_is_uniform(length: int, n_values: int) -> None:
    rng = random.Random(123)
    draws = 12_000
    counts = Counter(len(word_repetition(_seq(length), 0.32, rng)) - length for _ in range(draws))
    assert set(counts) == set(range(n_values))  # upper bound exclusive, lower bound 0
    expected = draws / n_values
    chi2 = sum((counts[n] - expected) ** 2 / expected for n in range(n_values))
    assert chi2 < 30.0  # df <= 9: p < 1e-3 for a uniform draw


def test_repetition_is_reproducible_from_the_rng_state() -> None:
    rng = random.Random(5)
    state = rng.getstate()
    first = [word_repetition(_seq(30), 0.32, rng) for _ in range(5)]
    rng.setstate(state)
    assert [word_repetition(_seq(30), 0.32, rng) for _ in range(5)] == first


def test_dup_rate_out_of_range() -> None:
    with pytest.raises(ValueError, match="dup_rate"):
        word_repetition(_seq(10), 1.0, random.Random(0))


def test_word_mode_rule() -> None:
    rng = random.Random(3)
    text = "a b c d e f g h i j"
    seen = set()
    for _ in range(500):
        out, n = word_repetition_text(text, 0.32, rng)
        words = out.split(" ")
        assert len(words) == 10 + n and words[-1] == "j" and words[-2] != "j"  # last word never repeated
        seen.add(n)
    assert seen == {0, 1, 2}  # min(10, L, max(2, int(.32·10)=3)) = 3 values
    assert word_repetition_text("solo", 0.32, rng) == ("solo", 0)


# -- mlm_mask (§1.5) -------------------------------------------------------------------------
def _mlm_batch(rows: int, width: int, vocab: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(200, vocab, (rows, width), generator=gen)
    lengths = torch.randint(3, width + 1, (rows,), generator=gen)
    mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    ids[:, 0] = CLS
    ids[torch.arange(rows), lengths - 1] = SEP
    ids[mask == 0] = PAD
    return ids, mask, special_tokens_mask(ids, [CLS, SEP, PAD, MASK])


def test_mlm_mask_leaves_specials_pads_and_input_alone() -> None:
    ids, mask, special = _mlm_batch(64, 20, 1000)
    before = ids.clone()
    masked, labels = mlm_mask(ids, mask, special, 1000, MASK, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(ids, before)  # no in-place masking (SimCSE's pre-a0867f4 bug)
    protected = special | (mask == 0)
    assert torch.equal(masked[protected], ids[protected])
    assert (labels[protected] == IGNORE_INDEX).all()
    selected = labels != IGNORE_INDEX
    assert torch.equal(labels[selected], ids[selected])
    assert torch.equal(masked[~selected], ids[~selected])  # outside the selection: untouched


def test_mlm_mask_proportions() -> None:
    vocab = 30_000
    ids, mask, special = _mlm_batch(600, 64, vocab)
    masked, labels = mlm_mask(ids, mask, special, vocab, MASK, 0.15, torch.Generator().manual_seed(2))
    eligible = (mask == 1) & ~special
    selected = labels != IGNORE_INDEX
    assert abs(selected.sum() / eligible.sum() - 0.15) < 0.01
    n = selected.sum()
    to_mask = (masked == MASK) & selected
    kept = (masked == ids) & selected
    randomised = selected & ~to_mask & ~kept
    assert abs(to_mask.sum() / n - 0.8) < 0.02
    assert abs(kept.sum() / n - 0.1) < 0.015
    assert abs(randomised.sum() / n - 0.1) < 0.015


def test_mlm_mask_is_reproducible_with_a_generator() -> None:
    ids, mask, special = _mlm_batch(8, 12, 500)
    a = mlm_mask(ids, mask, special, 500, MASK, 0.3, torch.Generator().manual_seed(9))
    b = mlm_mask(ids, mask, special, 500, MASK, 0.3, torch.Generator().manual_seed(9))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


# -- collate (§1.6) --------------------------------------------------------------------------
def test_pad_ids() -> None:
    ids, mask = pad_ids([[1, 2, 3], [4], [5, 6]], pad_id=0)
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0], [5, 6, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    assert ids.dtype == torch.long and mask.dtype == torch.long
    with pytest.raises(ValueError):
        pad_ids([], 0)


def test_tokenize_truncates_and_pads_dynamically(tiny_backbone: tuple[object, object]) -> None:
    _, tokenizer = tiny_backbone
    long_text = " ".join(["dog"] * 50)
    enc = tokenize(tokenizer, [long_text, "a cat"], max_length=32)
    assert enc["input_ids"].shape == (2, 32)
    assert enc["attention_mask"][1].sum() == 4  # [CLS] a cat [SEP]
    short = tokenize(tokenizer, ["a cat", "the dog is big"], max_length=32)
    assert short["input_ids"].shape == (2, 6)  # padded to the longest row, not to 32
    assert tokenize(tokenizer, [long_text], max_length=None)["input_ids"].shape == (1, 52)
    ids = token_ids(tokenizer, [long_text, "a cat"], 32)
    assert [len(row) for row in ids] == [32, 4] and ids[0][-1] == tokenizer.sep_token_id
