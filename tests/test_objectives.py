"""Objectives on the tiny random BERT: one step each, view/queue/EMA semantics, registry checks."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import pytest
import torch
from torch import nn

from sentemb.data.collate import pad_ids, tokenize
from sentemb.errors import ConfigError
from sentemb.losses import build_loss
from sentemb.losses.base import EmbeddingBatch, LossOutput
from sentemb.models.encoder import SentenceEncoder
from sentemb.models.heads import BNProjector, MLPHead, MomentumEncoder, build_head
from sentemb.objectives import OBJECTIVES, build_objective, check_objective, objective_names
from sentemb.objectives.base import BuildContext, TextBatch
from sentemb.objectives.esimcse import ESimCSEObjective
from sentemb.objectives.two_view import TwoViewObjective, load_mlm_head

Tiny = tuple[nn.Module, object]
CONTRASTIVE_STATS = {"loss", "pos_cos", "neg_cos", "acc", "align", "uniform"}
SENTS = ["a man is playing guitar", "the dog is running in the park", "a woman is eating food",
         "the cat was riding a bike", "a child is playing with a ball", "the sky is blue and big"]
MORE = ["the plane is in the sky", "a dog is eating", "the movie was great fun", "who is the man ?",
        "a red ball on the street", "the green water is very cold", "what a boring film",
        "a small cat and a big dog"]
NLI = TextBatch(sentences=SENTS[:4],
                positives=["a man plays music", "a dog runs", "a woman eats", "a cat rides"],
                hard_negatives=["a woman sleeps", "a cat sits", "a man is not eating", "the dog is big"])


class Recorder(nn.Module):
    """Wraps a loss and keeps the last EmbeddingBatch it was given."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.inner = loss
        self.requires = getattr(loss, "requires", frozenset())
        self.last: EmbeddingBatch | None = None

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        self.last = batch
        return self.inner(batch=batch)


def _encoder(backbone: nn.Module, tokenizer: object) -> SentenceEncoder:
    return SentenceEncoder(backbone, tokenizer, "cls_before_pooler")


@pytest.fixture()
def no_dropout_backbone(tiny_model_dir: Path) -> nn.Module:
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(tiny_model_dir), hidden_dropout_prob=0.0,
                                     attention_probs_dropout_prob=0.0)


def _step(objective: nn.Module, batch: TextBatch) -> LossOutput:
    """One forward + backward + AdamW step; returns the output."""
    optimizer = torch.optim.AdamW(objective.trainable_parameters(), lr=1e-3)
    objective.train()
    out = objective(batch)
    out.total.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return out


# -- heads ---------------------------------------------------------------------------------
def test_build_head_and_inits() -> None:
    assert isinstance(build_head("none", 8), nn.Identity)
    mlp = build_head("mlp", 512, init_std=0.02)
    assert isinstance(mlp, MLPHead)
    assert abs(mlp.dense.weight.std().item() - 0.02) < 0.001 and (mlp.dense.bias == 0).all()
    linear = build_head("linear", 512, init_std=0.02)  # Li et al.: its own N(0, 0.006²), bias too
    assert abs(linear.dense.weight.std().item() - 0.006) < 0.0003
    assert abs(linear.dense.bias.std().item() - 0.006) < 0.001
    x = torch.randn(3, 512)
    assert torch.allclose(linear(x), x @ linear.dense.weight.T + linear.dense.bias)  # no activation
    proj = build_head("bn_mlp", 8)
    assert isinstance(proj, BNProjector)
    assert proj(torch.randn(5, 8)).shape == (5, 8)
    assert proj.net[-1].weight is None and proj.net[0].bias is None  # affine=False, no biases
    with pytest.raises(ConfigError, match="did you mean 'mlp'"):
        build_head("mpl", 8)


# -- two_view: SimCSE ------------------------------------------------------------------------
@pytest.mark.parametrize("head", ["mlp", "none", "linear", "bn_mlp"])
def test_unsup_step(tiny_backbone: Tiny, head: str) -> None:
    backbone, tok = tiny_backbone
    obj = TwoViewObjective(_encoder(backbone, tok), tok, build_loss("infonce"), head=head)
    before = [p.detach().clone() for p in obj.encoder.parameters()]
    out = _step(obj, TextBatch(SENTS))
    assert torch.isfinite(out.total) and CONTRASTIVE_STATS <= set(out.stats)
    assert any(not torch.equal(a, b) for a, b in zip(before, obj.encoder.parameters()))


def test_unsup_dropout_views(tiny_backbone: Tiny, no_dropout_backbone: nn.Module) -> None:
    backbone, tok = tiny_backbone
    rec = Recorder(build_loss("infonce"))
    obj = TwoViewObjective(_encoder(backbone, tok), tok, rec).train()
    obj(TextBatch(SENTS))
    assert not torch.allclose(rec.last.anchor, rec.last.positive)  # independent dropout masks
    rec0 = Recorder(build_loss("infonce"))
    obj0 = TwoViewObjective(_encoder(no_dropout_backbone, tok), tok, rec0).train()
    out = obj0(TextBatch(SENTS))
    torch.testing.assert_close(rec0.last.anchor, rec0.last.positive)
    assert out.stats["pos_cos"].item() == pytest.approx(1.0, abs=1e-5)


def test_sup_equals_hand_built_loss(tiny_backbone: Tiny, no_dropout_backbone: nn.Module) -> None:
    _, tok = tiny_backbone
    loss = build_loss("infonce", hard_negative_weight=0.0)
    obj = TwoViewObjective(_encoder(no_dropout_backbone, tok), tok, loss).train()
    out = obj(NLI)
    assert CONTRASTIVE_STATS <= set(out.stats) and "hard_neg_cos" in out.stats
    # each view encoded in its OWN pass (own padding): the single 3N-row pass must agree
    u, v, w = (obj.head(obj.encoder(**tokenize(tok, texts, 32)))
               for texts in (NLI.sentences, NLI.positives, NLI.hard_negatives))
    expected = loss(batch=EmbeddingBatch(anchor=u, positive=v, hard_negative=w))
    torch.testing.assert_close(out.total, expected.total, rtol=1e-5, atol=1e-5)
    _step(obj, NLI)  # and it trains


def test_mlm_head_loading(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import BertConfig, BertForMaskedLM

    assert load_mlm_head(tiny_model_dir) is None  # a plain BertModel checkpoint has no head
    BertForMaskedLM(BertConfig.from_pretrained(str(tiny_model_dir))).save_pretrained(tmp_path)
    head = load_mlm_head(tmp_path)
    assert head is not None
    assert head(torch.randn(2, 3, 32)).shape[-1] == BertConfig.from_pretrained(str(tiny_model_dir)).vocab_size


def test_two_view_with_mlm(tiny_backbone: Tiny, tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import BertConfig, BertForMaskedLM

    backbone, tok = tiny_backbone
    with pytest.raises(ConfigError, match="do_mlm needs an MLM head"):
        TwoViewObjective(_encoder(backbone, tok), tok, build_loss("infonce"), do_mlm=True)
    BertForMaskedLM(BertConfig.from_pretrained(str(tiny_model_dir))).save_pretrained(tmp_path)
    head = load_mlm_head(tmp_path)
    obj = TwoViewObjective(_encoder(backbone, tok), tok, build_loss("infonce"), do_mlm=True, mlm_head=head,
                           mlm_probability=0.3)
    head_before = [p.detach().clone() for p in head.parameters()]
    torch.manual_seed(0)
    out = _step(obj, TextBatch(SENTS))
    assert torch.isfinite(out.total) and {"mlm/loss", "cl/loss"} | CONTRASTIVE_STATS <= set(out.stats)
    expected = out.stats["cl/loss"] + 0.1 * out.stats["mlm/loss"]
    torch.testing.assert_close(out.stats["loss"], expected)
    assert out.stats["mlm/loss"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(head_before, head.parameters()))  # the head trains


# -- esimcse ---------------------------------------------------------------------------------
def _esimcse(backbone: nn.Module, tok: object, loss: nn.Module | None = None,
             **kw: object) -> ESimCSEObjective:
    return ESimCSEObjective(_encoder(backbone, tok), tok, loss or build_loss("infonce"), **kw)


def test_esimcse_step(tiny_backbone: Tiny) -> None:
    backbone, tok = tiny_backbone
    obj = _esimcse(backbone, tok, queue_size=8)
    first = _step(obj, TextBatch(SENTS))
    assert torch.isfinite(first.total)
    assert CONTRASTIVE_STATS | {"queue_fill", "dup_added", "len_diff"} <= set(first.stats)
    assert first.stats["queue_fill"] == 0 and "queue_cos" not in first.stats
    second = _step(obj, TextBatch(MORE))
    assert second.stats["queue_fill"] == 6 and "queue_cos" in second.stats
    assert all(p.grad is None and not p.requires_grad for p in obj.momentum_encoder.parameters())
    ids = {id(p) for p in obj.trainable_parameters()}
    assert not ids & {id(p) for p in obj.momentum_encoder.parameters()}


def test_esimcse_word_mode(tiny_backbone: Tiny) -> None:
    backbone, tok = tiny_backbone
    out = _step(_esimcse(backbone, tok, dup_type="word", dup_rate=0.3), TextBatch(SENTS))
    assert torch.isfinite(out.total)


def test_esimcse_first_step_is_plain_in_batch(tiny_backbone: Tiny,
                                              no_dropout_backbone: nn.Module) -> None:
    _, tok = tiny_backbone
    loss = build_loss("infonce")
    obj = _esimcse(no_dropout_backbone, tok, loss, queue_size=16).train()

    def expected(sentences: list[str], queue: torch.Tensor | None) -> torch.Tensor:
        anchors, positives, _ = obj.make_views(sentences)
        ids, mask = pad_ids(anchors + positives, tok.pad_token_id)
        u, v = obj.head(obj.encoder(ids, mask)).split(len(sentences))
        return loss(batch=EmbeddingBatch(anchor=u, positive=v, extra_negatives=queue)).total

    state = obj._rng.getstate()
    out = obj(TextBatch(SENTS))
    obj._rng.setstate(state)
    torch.testing.assert_close(out.total, expected(SENTS, None))
    assert out.stats["dup_added"] == out.stats["len_diff"]  # bpe: added tokens = length gap
    queue = obj.queue[: int(obj.queue_fill)].clone()
    state = obj._rng.getstate()
    out2 = obj(TextBatch(MORE[:6]))
    obj._rng.setstate(state)
    torch.testing.assert_close(out2.total, expected(MORE[:6], queue))


def test_queue_is_fifo(tiny_backbone: Tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    backbone, tok = tiny_backbone
    obj = _esimcse(backbone, tok, queue_size=10).train()
    pushed: list[torch.Tensor] = []
    real = obj._enqueue
    monkeypatch.setattr(obj, "_enqueue", lambda new: (pushed.append(new.clone()), real(new))[1])
    batches = [SENTS[:4], MORE[:4], MORE[4:8], SENTS[2:6]]
    for k, sentences in enumerate(batches, start=1):
        out = obj(TextBatch(sentences))
        assert out.stats["queue_fill"] == min((k - 1) * 4, 10)  # rows used at this step
        assert int(obj.queue_fill) == min(k * 4, 10)
        torch.testing.assert_close(obj.queue[: int(obj.queue_fill)], torch.cat(pushed)[-10:])
    with torch.no_grad():
        obj.eval()
        obj(TextBatch(SENTS[:4]))  # eval mode: no EMA, no enqueue
    assert len(pushed) == 4


def test_momentum_update_formula(tiny_backbone: Tiny) -> None:
    backbone, tok = tiny_backbone
    online = _encoder(backbone, tok)
    copied = MomentumEncoder(online, "copy_pretrained")
    assert all(torch.equal(a, b) for a, b in zip(copied.parameters(), online.backbone.parameters()))
    momentum = MomentumEncoder(online, "random_reference")
    assert momentum.init == "random_reference" and not momentum.training
    theta_m0 = [p.detach().clone() for p in momentum.encoder.backbone.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(theta_m0, online.backbone.parameters()))
    momentum.update(online, 0.9)
    for p_m, p_m0, p in zip(momentum.encoder.backbone.parameters(), theta_m0, online.backbone.parameters()):
        torch.testing.assert_close(p_m, 0.9 * p_m0 + 0.1 * p.detach())


def test_esimcse_ema_inside_forward(tiny_backbone: Tiny) -> None:
    backbone, tok = tiny_backbone
    obj = _esimcse(backbone, tok, momentum=0.8, momentum_init="random_reference").train()
    theta_m0 = [p.detach().clone() for p in obj.momentum_encoder.parameters()]
    theta = [p.detach().clone() for p in obj.encoder.backbone.parameters()]
    obj(TextBatch(SENTS)).total.backward()  # forward applies the EMA; backward leaves it alone
    for p_m, p_m0, p in zip(obj.momentum_encoder.parameters(), theta_m0, theta):
        torch.testing.assert_close(p_m, 0.8 * p_m0 + 0.2 * p)
        assert p_m.grad is None


def test_esimcse_state_dict_round_trip(tiny_backbone: Tiny) -> None:
    backbone, tok = tiny_backbone
    fresh = copy.deepcopy(backbone)
    a = _esimcse(backbone, tok, queue_size=10, seed=1)
    _step(a, TextBatch(SENTS))
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    b = _esimcse(fresh, tok, queue_size=10, seed=999)
    buffer.seek(0)
    b.load_state_dict(torch.load(buffer, weights_only=True))
    b.train()  # from_pretrained leaves the backbone in eval mode; the loop calls train()
    assert torch.equal(a.queue, b.queue) and int(b.queue_fill) == 6
    assert a._rng.getstate() == b._rng.getstate()
    torch.manual_seed(7)
    out_a = a(TextBatch(MORE))
    torch.manual_seed(7)
    out_b = b(TextBatch(MORE))
    torch.testing.assert_close(out_a.total, out_b.total, rtol=0, atol=0)
    assert torch.equal(a.queue, b.queue) and out_a.stats["dup_added"] == out_b.stats["dup_added"]


# -- registry ------------------------------------------------------------------------------
def _ctx(enc: SentenceEncoder, tok: object, loss: nn.Module, tmp: Path = Path(".")) -> BuildContext:
    return BuildContext(enc, tok, loss, head="mlp", max_seq_length=16, gather_negatives=True, seed=0,
                        model_path=tmp)


def test_build_objective_checks(tiny_backbone: Tiny) -> None:
    backbone, tok = tiny_backbone
    enc = _encoder(backbone, tok)
    assert set(OBJECTIVES) >= {"two_view", "esimcse"}
    hard = build_loss("infonce", hard_negative_weight=1.0)
    obj = build_objective("two_view", _ctx(enc, tok, hard), data_kind="nli", train_pooler="cls_before_pooler")
    assert isinstance(obj, TwoViewObjective)
    plain = _ctx(enc, tok, build_loss("infonce"))
    with pytest.raises(ConfigError, match="did you mean 'esimcse'"):
        build_objective("esimcs", plain, data_kind="wiki", train_pooler="avg")
    with pytest.raises(ConfigError, match="did you mean 'queue_size'"):
        build_objective("esimcse", plain, data_kind="wiki", train_pooler="avg", queue_sise=4)
    with pytest.raises(ConfigError, match="requires hard_negative"):
        build_objective("two_view", _ctx(enc, tok, hard), data_kind="wiki", train_pooler="avg")
    with pytest.raises(ConfigError, match="trains on wiki"):
        build_objective("esimcse", plain, data_kind="nli", train_pooler="avg")
    with pytest.raises(ConfigError, match="did you mean 'wiki'"):
        build_objective("two_view", plain, data_kind="wikii", train_pooler="avg")
    with pytest.raises(ConfigError, match="dup_rate must be in"):
        build_objective("esimcse", plain, data_kind="wiki", train_pooler="avg", dup_rate=1.5)


def test_check_objective_needs_no_model() -> None:
    """The check_params stage validates a recipe without building anything."""
    infonce = build_loss("infonce")
    check_objective("diffcse", {"masking_ratio": 0.3}, loss=infonce, data_kind="wiki", head="bn_mlp",
                    train_pooler="cls_before_pooler")
    with pytest.raises(ConfigError, match="masking_ratio must be in"):
        check_objective("diffcse", {"masking_ratio": 1.3}, loss=infonce, data_kind="wiki", head="bn_mlp",
                        train_pooler="cls_before_pooler")
    with pytest.raises(ConfigError, match="replaces the model's pooler layer"):
        check_objective("diffcse", {}, loss=infonce, data_kind="wiki", head="bn_mlp", train_pooler="cls")
    with pytest.raises(ConfigError, match="momentum_init must be one of"):
        check_objective("esimcse", {"momentum_init": "copy"}, loss=infonce, data_kind="wiki", head="mlp",
                        train_pooler="avg")
    assert "diffcse" in objective_names()
