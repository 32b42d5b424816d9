"""The evaluation runner: rows that differ only in the pooler share one backbone pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import MIRROR
from sentemb.config import Params, from_dict
from sentemb.config.resolve import baseline_eval_job, baseline_runs
from sentemb.evaluation.runner import EvalRequest, evaluate
from sentemb.models.encoder import SentenceEncoder

DOWNSTREAM = MIRROR / "senteval" / "downstream"


def _request(model_dir: Path, pooler: str, cache_dir: Path) -> EvalRequest:
    return EvalRequest(model=str(model_dir), pooler=pooler, tasks="sts", data_dir=str(DOWNSTREAM),
                       batch_size=4, cache_dir=str(cache_dir), allow_unverified=True)  # the fixture mirror


def test_encode_many_equals_one_pass_per_pooler(tiny_backbone) -> None:
    model, tokenizer = tiny_backbone
    sents = ["a dog", "the big red dog is running in the park", "a cat is eating", "water"]
    poolers = ("avg", "cls_before_pooler", "avg_first_last")
    many = SentenceEncoder(model, tokenizer, "avg").encode_many(sents, poolers, batch_size=3)
    assert set(many) == set(poolers)
    for p in poolers:
        np.testing.assert_array_equal(many[p], SentenceEncoder(model, tokenizer, p).encode(sents, batch_size=3))
    assert not np.allclose(many["avg"], many["cls_before_pooler"])


def test_iter_encode_follows_one_plan_and_a_skipped_batch_changes_no_other(tiny_backbone) -> None:
    encoder = SentenceEncoder(*tiny_backbone, "avg")
    sents = ["a dog", "the big red dog is running in the park", "a cat is eating", "water", "the man is playing"]
    full = list(encoder.iter_encode(sents, ("avg",), batch_size=2))
    words = [len(sents[i].split()) for idx, _ in full for i in idx]  # the tiny tokenizer is word level
    assert words == sorted(words, reverse=True) and sorted(i for idx, _ in full for i in idx) == list(range(5))
    first = [sents[i] for i in full[0][0]]
    rest = list(encoder.iter_encode(sents, ("avg",), batch_size=2, skip=lambda batch: batch == first))
    assert len(rest) == len(full) - 1
    for (idx, vecs), (idx_again, vecs_again) in zip(full[1:], rest):
        assert np.array_equal(idx, idx_again) and np.array_equal(vecs["avg"], vecs_again["avg"])


def test_shared_pass_fills_the_sibling_cache_without_changing_scores(tiny_model_dir: Path, tmp_path: Path) -> None:
    first = evaluate(_request(tiny_model_dir, "avg", tmp_path / "shared"), share_poolers=("cls_before_pooler",))
    sibling = evaluate(_request(tiny_model_dir, "cls_before_pooler", tmp_path / "shared"))
    alone = evaluate(_request(tiny_model_dir, "cls_before_pooler", tmp_path / "alone"))
    unshared_first = evaluate(_request(tiny_model_dir, "avg", tmp_path / "alone"))

    assert first["provenance"]["sentences_encoded"] > 0
    assert sibling["provenance"]["sentences_encoded"] == 0  # the sibling only read the cache
    assert alone["provenance"]["sentences_encoded"] == first["provenance"]["sentences_encoded"]
    assert sibling["scores"] == alone["scores"]
    assert first["scores"] == unshared_first["scores"]
    assert first["scores"] != sibling["scores"]


def test_sibling_poolers_are_the_backbones_other_untrained_rows_read_the_same_way() -> None:
    params = from_dict(Params, {
        "backbones": {"m": {"model": "m", "label": "M"}, "n": {"model": "n", "label": "N"}},
        "baselines": {"a_avg": {"pooler": "avg", "label": "mean"},
                      "a_cls": {"pooler": "cls_before_pooler", "label": "cls"},
                      "a_fl0": {"pooler": "avg_first_last", "first_layer_index": 0, "label": "first-last"}}})
    shared = {run.name: baseline_eval_job(params, run).share_poolers for run in baseline_runs(params)}
    assert shared["a_avg.m"] == ["cls_before_pooler"] and shared["a_cls.n"] == ["avg"]
    assert shared["a_fl0.m"] == []  # another first-layer index: not the same pass
