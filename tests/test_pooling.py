"""Each pooler on hand-made hidden states (docs/methods.md §0.4), and through a real tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentemb.errors import ConfigError
from sentemb.models.encoder import SentenceEncoder
from sentemb.models.pooling import POOLERS, needs_hidden_states, pool

MASK = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
# Three "layers" of (B=2, T=4, D=2) states with easy numbers; padded positions hold 100 so that
# any leak of padding into a mean is obvious.
LAYERS = [
    torch.tensor([[[1.0, 0], [3, 0], [5, 0], [100, 100]], [[2, 2], [4, 4], [100, 100], [100, 100]]]) + k
    for k in (0.0, 10.0, 20.0)
]


def test_cls_before_pooler_takes_position_zero() -> None:
    out = pool("cls_before_pooler", attention_mask=MASK, last_hidden_state=LAYERS[-1])
    assert torch.equal(out, torch.tensor([[21.0, 20.0], [22.0, 22.0]]))


def test_cls_uses_pooler_output_and_errors_without_one() -> None:
    po = torch.tensor([[0.5, -0.5], [0.1, 0.2]])
    assert torch.equal(pool("cls", attention_mask=MASK, last_hidden_state=LAYERS[-1], pooler_output=po), po)
    with pytest.raises(ConfigError, match="cls_before_pooler"):
        pool("cls", attention_mask=MASK, last_hidden_state=LAYERS[-1], pooler_output=None)


def test_avg_is_masked_mean_of_last_layer() -> None:
    out = pool("avg", attention_mask=MASK, last_hidden_state=LAYERS[-1])
    # row 0: mean of 21, 23, 25 and of 20, 20, 20; row 1: mean of 22, 24
    assert torch.allclose(out, torch.tensor([[23.0, 20.0], [23.0, 23.0]]))


def test_avg_top2_averages_last_two_layers_before_pooling() -> None:
    out = pool("avg_top2", attention_mask=MASK, last_hidden_state=LAYERS[-1], hidden_states=LAYERS)
    # (layer1 + layer2)/2 = base + 15
    assert torch.allclose(out, torch.tensor([[18.0, 15.0], [18.0, 18.0]]))


@pytest.mark.parametrize(("first", "offset"), [(0, 10.0), (1, 15.0)])
def test_avg_first_last_respects_first_layer_index(first: int, offset: float) -> None:
    out = pool("avg_first_last", attention_mask=MASK, last_hidden_state=LAYERS[-1], hidden_states=LAYERS,
               first_layer_index=first)
    # (layer[first] + layer2)/2 = base + (first*10 + 20)/2
    assert torch.allclose(out, torch.tensor([[3.0, 0.0], [3.0, 3.0]]) + offset)


def test_unknown_pooler_suggests_closest() -> None:
    with pytest.raises(ConfigError, match="did you mean 'avg_top2'"):
        pool("avg_top", attention_mask=MASK, last_hidden_state=LAYERS[-1])


@pytest.mark.parametrize("pooler", POOLERS)
def test_every_pooler_runs_on_a_model_and_ignores_padding(pooler: str, tiny_backbone) -> None:
    model, tokenizer = tiny_backbone
    encoder = SentenceEncoder(model, tokenizer, pooler)
    alone = encoder.encode(["a man is playing guitar ."])
    # Encoded next to a much longer sentence, the short one is padded; its vector must not move.
    padded = encoder.encode(["a man is playing guitar .", "the big red dog is running in the park with a ball ."])
    assert alone.shape == (1, 32)
    assert needs_hidden_states(pooler) == (pooler in {"avg_top2", "avg_first_last"})
    assert torch.allclose(torch.from_numpy(alone[0]), torch.from_numpy(padded[0]), atol=1e-5)


def test_encode_returns_input_order(tiny_backbone) -> None:
    model, tokenizer = tiny_backbone
    assert tokenizer.unk_token_id not in tokenizer("a man is playing guitar .")["input_ids"]  # real tokens
    encoder = SentenceEncoder(model, tokenizer, "avg")
    assert not np.allclose(encoder.encode(["a dog"]), encoder.encode(["a cat"]))
    sents = ["a dog", "the big red dog is running in the park", "a cat is eating", "water"]
    batched = encoder.encode(sents, batch_size=2)
    for i, s in enumerate(sents):
        assert torch.allclose(torch.from_numpy(batched[i]), torch.from_numpy(encoder.encode([s])[0]), atol=1e-5)
