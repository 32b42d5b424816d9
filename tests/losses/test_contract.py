"""The registry-wide loss contract (docs/design.md §2.1, §4.1, §2.7): every entry of LOSSES is covered."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
from torch import nn

from sentemb.errors import ConfigError
from sentemb.losses import LOSSES, build_loss
from sentemb.losses.base import EmbeddingBatch, LossOutput

B, D = 8, 16
STANDARD_STATS = {"loss", "pos_cos", "neg_cos", "acc"}
BATCH_FIELDS = {f.name for f in dataclasses.fields(EmbeddingBatch)}
OPTIONAL_FIELDS = BATCH_FIELDS - {"anchor", "positive"}


def _random_batch(fields: set[str], seed: int = 0) -> EmbeddingBatch:
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g).requires_grad_()

    return EmbeddingBatch(
        anchor=rand(B, D),
        positive=rand(B, D),
        hard_negative=rand(B, D) if "hard_negative" in fields else None,
        # a queue is detached by the objective, so it carries no grad here either
        extra_negatives=rand(5, D).detach() if "extra_negatives" in fields else None,
        labels=torch.randint(0, 2, (B,), generator=g).float() if "labels" in fields else None,
    )


def _field_sets(loss: nn.Module) -> list[set[str]]:
    """The required fields alone, with all the optional fields the loss accepts, and with each."""
    required = set(loss.requires)
    accepted = set(getattr(loss, "accepts", frozenset()))
    sets = [required]
    if accepted - required:
        sets.append(required | accepted)
    sets += [required | {f} for f in sorted(accepted - required) if len(accepted - required) > 1]
    return sets


CASES = [
    pytest.param(name, fields, id=f"{name}-{'+'.join(sorted(fields)) or 'pairs'}")
    for name in LOSSES
    for fields in _field_sets(build_loss(name))  # the instance: its needs may follow its arguments
]


@pytest.mark.parametrize("name,fields", CASES)
def test_forward_backward_and_stats(name: str, fields: set[str]) -> None:
    loss = build_loss(name)
    batch = _random_batch(fields)
    out = loss(batch=batch)
    assert isinstance(out, LossOutput)
    assert out.total.ndim == 0 and torch.isfinite(out.total) and out.total.requires_grad
    out.total.backward()
    for grad in (batch.anchor.grad, batch.positive.grad):
        assert grad is not None and torch.isfinite(grad).all()
    assert STANDARD_STATS <= out.stats.keys(), f"{name} lacks {STANDARD_STATS - out.stats.keys()}"
    for key, value in out.stats.items():
        assert isinstance(value, torch.Tensor) and value.ndim == 0, key
        assert not value.requires_grad and value.grad_fn is None, f"{key} is not detached"
        assert torch.isfinite(value), key
    assert out.stats["loss"].item() == pytest.approx(out.total.item())


@pytest.mark.parametrize("name,fields", CASES)
def test_forward_is_pure(name: str, fields: set[str]) -> None:
    """No state changes in forward (docs/design.md §2.2): same input, same output, same state_dict."""
    loss = build_loss(name)
    before = {k: v.clone() for k, v in loss.state_dict().items()}
    batch = _random_batch(fields)
    first, second = loss(batch=batch), loss(batch=batch)
    assert torch.equal(first.total, second.total)
    after = loss.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("name,cls", LOSSES.items())
def test_declares_requirements_and_documents_itself(name: str, cls: type[nn.Module]) -> None:
    assert isinstance(cls.requires, frozenset) and cls.requires <= OPTIONAL_FIELDS, name
    assert set(getattr(cls, "accepts", frozenset())) <= OPTIONAL_FIELDS, name
    doc = cls.__doc__ or ""
    for section in ("References", "Relations"):  # docs/design.md §2.5
        assert section in doc, f"{cls.__name__} docstring lacks {section}"


def test_registry_names() -> None:
    names = list(LOSSES)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names), names
    assert len({n.replace("_", "") for n in names}) == len(names), "names differ only by underscores"
    assert len(set(LOSSES.values())) == len(names), "a class is registered under two names"


def test_unknown_name_suggests() -> None:
    with pytest.raises(ConfigError, match=r"unknown loss 'infonse'.*did you mean 'infonce'"):
        build_loss("infonse")


def test_misspelt_argument_names_loss_and_argument() -> None:
    with pytest.raises(ConfigError, match=r"loss 'infonce'.*'temprature'.*did you mean 'temperature'"):
        build_loss("infonce", temprature=0.05)


def test_bad_value_becomes_config_error() -> None:
    with pytest.raises(ConfigError, match=r"loss 'infonce'.*temperature"):
        build_loss("infonce", temperature=-1.0)


def test_build_passes_kwargs() -> None:
    loss = build_loss("infonce", temperature=0.1, hard_negative_weight=0.5)
    assert (loss.temperature, loss.hard_negative_weight) == (0.1, 0.5)


# --- precision: every loss computes in fp32 under bf16 autocast (docs/methods.md §1.7) -------------


def _bf16_views(batch: EmbeddingBatch) -> tuple[EmbeddingBatch, EmbeddingBatch]:
    """The same embeddings as a bf16 encoder under autocast hands them over, and as fp32 leaves
    holding exactly those values (the fp32 reference)."""
    def pair(t: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if t is None or not t.is_floating_point():
            return t, t
        low = t.detach().to(torch.bfloat16).requires_grad_(t.requires_grad)
        return low, low.detach().float().requires_grad_(t.requires_grad)

    fields = {f.name: pair(getattr(batch, f.name)) for f in dataclasses.fields(EmbeddingBatch)}
    return (EmbeddingBatch(**{k: v[0] for k, v in fields.items()}),
            EmbeddingBatch(**{k: v[1] for k, v in fields.items()}))


def _total_and_grads(loss: nn.Module, batch: EmbeddingBatch, autocast: bool) -> tuple[float, list[torch.Tensor]]:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = loss(batch=batch)
    out.total.backward()
    grads = [batch.anchor.grad, batch.positive.grad]
    return out.total.item(), [g.float() for g in grads if g is not None]


@pytest.mark.parametrize("name,fields", CASES)
def test_bf16_autocast_matches_fp32(name: str, fields: set[str]) -> None:
    """A bf16 matmul of the cosine matrix gave a 4.6% error in the InfoNCE gradient at tau 0.05;
    computed in fp32, the loss of bf16 embeddings is the fp32 loss of the same values."""
    low, ref = _bf16_views(_random_batch(fields, seed=3))
    loss = build_loss(name)
    got, got_grads = _total_and_grads(loss, low, autocast=True)
    want, want_grads = _total_and_grads(loss, ref, autocast=False)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6), name
    for g, w in zip(got_grads, want_grads, strict=True):
        # the gradient reaches the bf16 leaf rounded to bf16: 2^-8 relative
        assert torch.allclose(g, w, rtol=1e-2, atol=1e-2 * w.abs().max().item()), name


@pytest.mark.parametrize("name", ["arccon", "mat"])
def test_angular_losses_stay_finite_for_identical_views_under_bf16(name: str) -> None:
    """cos = 1 would reach arccos'(1) = inf; the clamp to 1 - 1e-7 only exists in fp32."""
    x = torch.randn(B, D)
    anchor = x.to(torch.bfloat16).requires_grad_()
    positive = x.to(torch.bfloat16).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = build_loss(name)(batch=EmbeddingBatch(anchor=anchor, positive=positive))
    out.total.backward()
    assert torch.isfinite(out.total)
    assert torch.isfinite(anchor.grad.float()).all() and torch.isfinite(positive.grad.float()).all()
