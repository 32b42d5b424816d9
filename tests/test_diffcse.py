"""DiffCSE objective and generators (docs/methods.md §2) on tiny random BERTs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from sentemb.data.collate import tokenize
from sentemb.errors import ConfigError
from sentemb.losses.base import EmbeddingBatch, LossOutput
from sentemb.losses.infonce import InfoNCELoss
from sentemb.models.encoder import SentenceEncoder
from sentemb.objectives.base import TextBatch
from sentemb.objectives.diffcse import DiffCSEObjective, rtd_loss
from sentemb.objectives.generators import (
    Generator,
    MLMGenerator,
    RandomReplacementGenerator,
    build_generator,
)

SENTENCES = [
    "a man is playing guitar", "the dog is running in the park", "a woman is eating food",
    "the child is riding a bike", "a big red ball", "the cat is on the street with a dog",
    "what a great movie", "music",
]
CONTRAST_KEYS = {"cl/loss", "pos_cos", "neg_cos", "acc", "align", "uniform"}
RTD_KEYS = {"rtd/loss", "rtd/acc", "rtd/rep_acc", "rtd/fix_acc", "rtd/replaced_rate"}


class ZeroLoss(nn.Module):
    """A contrastive term of weight zero that keeps the graph (isolates L_RTD's gradient)."""

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        return LossOutput((batch.anchor.sum() + batch.positive.sum()) * 0.0, {})


def make_objective(model_dir: Path, backbone_tok: tuple[object, object],
                   **kwargs: object) -> DiffCSEObjective:
    backbone, tokenizer = backbone_tok
    encoder = SentenceEncoder(backbone, tokenizer, "cls_before_pooler")
    generator = kwargs.pop("generator", None) or build_generator("random", tokenizer, seed=0)
    loss = kwargs.pop("loss", None) or InfoNCELoss(temperature=0.05)
    return DiffCSEObjective(encoder, tokenizer, loss, generator=generator,  # type: ignore[arg-type]
                            discriminator_dir=str(model_dir), **kwargs)  # type: ignore[arg-type]


def batch_ids(obj: DiffCSEObjective, sentences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tokenize(obj.tokenizer, sentences, 32)
    return enc["input_ids"], enc["attention_mask"]


def test_one_step_is_finite_and_reports_every_stat(tiny_model_dir: Path, tiny_backbone: tuple) -> None:
    torch.manual_seed(0)
    obj = make_objective(tiny_model_dir, tiny_backbone)
    obj.train()
    params = obj.trainable_parameters()
    before = [p.detach().clone() for p in params]
    out = obj(TextBatch(SENTENCES))
    assert CONTRAST_KEYS | RTD_KEYS | {"loss", "projector/bn1_running_var"} <= set(out.stats)
    assert all(torch.isfinite(v) for v in out.stats.values())
    assert out.total.ndim == 0 and torch.isfinite(out.total)
    expected = out.stats["cl/loss"] + 0.005 * out.stats["rtd/loss"]
    assert torch.allclose(out.total.detach(), expected) and out.stats["loss"] == out.total.detach()
    out.total.backward()
    torch.optim.AdamW(params, lr=1e-3).step()
    assert all(torch.isfinite(p).all() for p in params)
    assert sum(not torch.equal(a, p) for a, p in zip(before, params)) > 0
    assert obj.generator_name == "random_replacement"


def test_trainable_parameters_cover_encoder_projector_discriminator_head(
    tiny_model_dir: Path, tiny_backbone: tuple
) -> None:
    obj = make_objective(tiny_model_dir, tiny_backbone)
    trainable = {id(p) for p in obj.trainable_parameters()}
    for part in (obj.encoder, obj.projector, obj.discriminator, obj.rtd_head):
        assert all(id(p) in trainable for p in part.parameters())
    assert obj.discriminator is not obj.encoder.backbone
    shared = {id(p) for p in obj.encoder.parameters()} & {id(p) for p in obj.discriminator.parameters()}
    assert not shared


def test_hook_replaces_position_zero_only(tiny_model_dir: Path, tiny_backbone: tuple) -> None:
    for before_mlp in (False, True):
        obj = make_objective(tiny_model_dir, tiny_backbone, before_mlp=before_mlp)
        seen: dict[str, torch.Tensor] = {}
        obj.projector.register_forward_hook(lambda m, a, o: seen.__setitem__("h", o.detach()))
        obj.encoder.register_forward_hook(lambda m, a, o: seen.__setitem__("cls", o.detach()))
        # registered before the objective's own hook, so it sees the raw embedding output
        embeddings = obj.discriminator.embeddings
        embeddings.register_forward_hook(lambda m, a, o: seen.__setitem__("raw", o.detach()))

        def grab_encoder_input(module: nn.Module, args: tuple, kwargs: dict) -> None:
            seen["fed"] = (args[0] if args else kwargs["hidden_states"]).detach()

        obj.discriminator.encoder.register_forward_pre_hook(grab_encoder_input, with_kwargs=True)
        obj.train()
        obj(TextBatch(SENTENCES[:4]))
        condition = seen["cls"] if before_mlp else seen["h"]
        assert torch.equal(seen["fed"][:, 0], condition)
        assert torch.equal(seen["fed"][:, 1:], seen["raw"][:, 1:])
        assert not torch.allclose(seen["raw"][:, 0], condition)
        # the hook is gone after the step: D used on its own is a plain model
        assert len(obj.discriminator.embeddings._forward_hooks) == 1  # only this test's own hook


def _encoder_grads(obj: DiffCSEObjective) -> list[torch.Tensor | None]:
    obj.zero_grad(set_to_none=True)
    obj.train()
    obj(TextBatch(SENTENCES[:4])).total.backward()
    return [p.grad for p in obj.encoder.parameters()]


def test_rtd_gradient_reaches_encoder_through_h_only(tiny_model_dir: Path, tiny_backbone: tuple) -> None:
    obj = make_objective(tiny_model_dir, tiny_backbone, loss=ZeroLoss(), lambda_weight=1.0)
    grads = _encoder_grads(obj)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert obj.rtd_head.weight.grad is not None and obj.rtd_head.weight.grad.abs().sum() > 0
    handle = obj.projector.register_forward_hook(lambda m, a, o: o.detach())
    grads = _encoder_grads(obj)
    handle.remove()
    assert all(g is None or g.abs().sum() == 0 for g in grads)


def test_corrupt_labels_zero_on_pads_and_cls_kept(tiny_model_dir: Path, tiny_backbone: tuple) -> None:
    obj = make_objective(tiny_model_dir, tiny_backbone, masking_ratio=0.5)
    ids, attn = batch_ids(obj, SENTENCES)
    assert (attn == 0).any()  # the batch has padding
    replaced, labels = obj.corrupt(ids, attn)
    cls_id = obj.tokenizer.cls_token_id
    assert (replaced[:, 0] == cls_id).all() and (labels[:, 0] == 0).all()
    assert (labels[attn == 0] == 0).all() and (replaced[attn == 0] == 0).all()
    assert torch.equal(labels.bool(), (replaced != ids) & attn.bool())
    assert labels.sum() > 0


def test_random_generator_changes_only_masked_positions_and_never_emits_specials() -> None:
    specials = [0, 1, 2, 3, 4]
    gen = RandomReplacementGenerator(vocab_size=12, special_ids=specials, seed=3)
    assert isinstance(gen, Generator) and gen.name == "random_replacement"
    g = torch.Generator().manual_seed(0)
    original = torch.randint(5, 12, (64, 20), generator=g)
    attn = torch.ones_like(original)
    attn[:, 15:] = 0
    masked = original.clone()
    changed = torch.rand(original.shape, generator=g) < 0.5
    masked[changed] = 4  # [MASK]
    out = gen.generate(masked, attn, original)
    assert torch.equal(out[~changed], original[~changed])
    assert torch.equal(out[attn == 0], original[attn == 0])
    assert not torch.isin(out, torch.tensor(specials)).any()
    assert len(out[changed & attn.bool()].unique()) == 7  # every non-special id is reachable
    assert not list(gen.parameters())


def _save_tiny_mlm(root: Path, tokenizer: object) -> Path:
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,  # type: ignore[arg-type]
                        num_attention_heads=2, intermediate_size=37)
    torch.manual_seed(1)
    BertForMaskedLM(config).save_pretrained(root)
    return root


def test_mlm_generator_is_frozen_and_runs_in_train_mode(tiny_model_dir: Path, tiny_backbone: tuple,
                                                        tmp_path: Path) -> None:
    _, tokenizer = tiny_backbone
    gen = build_generator(str(_save_tiny_mlm(tmp_path / "mlm", tokenizer)), tokenizer, seed=0)
    assert isinstance(gen, MLMGenerator) and gen.name == f"mlm:{tmp_path / 'mlm'}"
    modes: list[bool] = []
    gen.model.register_forward_hook(lambda m, a, o: modes.append(m.training))
    obj = make_objective(tiny_model_dir, tiny_backbone, generator=gen)
    assert obj.generator_name == gen.name
    gen_params = {id(p) for p in gen.parameters()}
    assert gen_params and not gen_params & {id(p) for p in obj.trainable_parameters()}
    obj.train()
    obj(TextBatch(SENTENCES[:4])).total.backward()
    obj.eval()  # train mode while generating is forced, whatever the objective's mode
    ids, attn = batch_ids(obj, SENTENCES[:4])
    replaced, _ = obj.corrupt(ids, attn)
    assert modes == [True, True] and not gen.model.training
    assert all(p.grad is None and not p.requires_grad for p in gen.parameters())
    assert not replaced.requires_grad and replaced.shape == ids.shape


def test_mlm_generator_rejects_other_vocabulary(tiny_backbone: tuple, tmp_path: Path) -> None:
    from transformers import BertConfig, BertForMaskedLM

    _, tokenizer = tiny_backbone
    BertForMaskedLM(BertConfig(vocab_size=len(tokenizer) + 3, hidden_size=32, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=37)).save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="vocabulary"):
        build_generator(str(tmp_path), tokenizer, seed=0)


def test_replaced_rate_is_between_zero_and_masking_ratio(tiny_model_dir: Path, tiny_backbone: tuple) -> None:
    obj = make_objective(tiny_model_dir, tiny_backbone, masking_ratio=0.3)
    obj.train()
    rate = float(obj(TextBatch(SENTENCES * 4)).stats["rtd/replaced_rate"])
    assert 0.0 < rate < 0.3


def test_rtd_loss_matches_hand_computation() -> None:
    logits = torch.tensor([[[1.0, -1.0], [0.5, 2.0], [0.0, 0.3]], [[2.0, 0.0], [-1.0, 1.0], [3.0, 3.0]]])
    labels = torch.tensor([[0, 1, 0], [0, 0, 0]])
    attn = torch.tensor([[1, 1, 1], [1, 1, 0]])

    def ce(row: list[float], y: int) -> float:
        return -(row[y] - math.log(math.exp(row[0]) + math.exp(row[1])))

    per = [[ce(logits[b, t].tolist(), int(labels[b, t])) for t in range(3)] for b in range(2)]
    flat = [x for row in per for x in row]
    non_pad = [per[b][t] for b in range(2) for t in range(3) if attn[b, t]]
    out = rtd_loss(logits, labels, attn, "mean_all_positions")
    assert out.total.item() == pytest.approx(sum(flat) / 6, rel=1e-6)
    non_pad_mean = rtd_loss(logits, labels, attn, "mean_non_pad").total.item()
    assert non_pad_mean == pytest.approx(sum(non_pad) / 5, rel=1e-6)
    assert rtd_loss(logits, labels, attn, "sum").total.item() == pytest.approx(sum(non_pad), rel=1e-6)
    # predictions: [0, 1, 1], [0, 1, (pad)]; non-pad labels: 0 1 0 / 0 0
    assert out.stats["acc"].item() == pytest.approx(3 / 5)
    assert out.stats["rep_acc"].item() == pytest.approx(1.0)
    assert out.stats["fix_acc"].item() == pytest.approx(2 / 4)
    assert out.stats["replaced_rate"].item() == pytest.approx(1 / 5)


def test_extra_state_round_trip_reproduces_next_masks(tiny_model_dir: Path, tiny_backbone: tuple) -> None:
    first = make_objective(tiny_model_dir, tiny_backbone, seed=7)
    ids, attn = batch_ids(first, SENTENCES)
    first.corrupt(ids, attn)  # advance the streams past their seeds
    state = first.state_dict()
    other = make_objective(tiny_model_dir, tiny_backbone, seed=99)
    other.generator = build_generator("random", other.tokenizer, seed=99)
    assert not torch.equal(other.corrupt(ids, attn)[0], first.corrupt(ids, attn)[0])  # different streams
    first.load_state_dict(state)  # rewind the reference too
    other.load_state_dict(state)
    for a, b in zip(first.corrupt(ids, attn), other.corrupt(ids, attn)):
        assert torch.equal(a, b)


def test_rejects_wrong_pooler_and_supervised_batches(tiny_model_dir: Path, tiny_backbone: tuple) -> None:
    backbone, tokenizer = tiny_backbone
    encoder = SentenceEncoder(backbone, tokenizer, "cls")
    with pytest.raises(ConfigError, match="not 'cls'"):
        DiffCSEObjective(encoder, tokenizer, InfoNCELoss(), generator=build_generator("random", tokenizer, 0),
                         discriminator_dir=str(tiny_model_dir))
    obj = make_objective(tiny_model_dir, tiny_backbone)
    with pytest.raises(ValueError, match="unsupervised"):
        obj(TextBatch(SENTENCES[:2], positives=SENTENCES[2:4]))
