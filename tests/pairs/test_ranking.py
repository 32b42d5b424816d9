"""Ranking metrics (docs/methods.md §4.6): hand-computed examples, the tie rule, the no-relevant
convention, and ``evaluate_ranking`` on a toy embedding whose ranking is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sentemb.pairs.ranking import (
    RankingSet,
    evaluate_ranking,
    has_positive_at_k,
    mean_average_precision,
    mrr,
    ndcg_at_1,
    precision_at_1,
    rank_one,
    ranked_relevances,
    ranking_from_pairs,
)
from sentemb.pairs.records import Pair

# --- ranking_from_pairs ----------------------------------------------------------------------


def test_ranking_from_pairs_groups_by_query_in_pair_order():
    pairs = [
        Pair("q one", "a", 1.0, "q1"),
        Pair("q two", "b", 0.0, "q2"),
        Pair("q one", "c", 1 / 3, "q1"),
    ]
    rset = ranking_from_pairs(pairs)
    assert rset.queries == {"q1": "q one", "q2": "q two"}
    assert rset.candidates == {"q1": ["q1#0", "q1#1"], "q2": ["q2#0"]}
    assert rset.corpus == {"q1#0": "a", "q2#0": "b", "q1#1": "c"}
    assert rset.qrels == {"q1": {"q1#0": 1.0, "q1#1": 1 / 3}, "q2": {"q2#0": 0.0}}


def test_ranking_from_pairs_rejects_missing_group_empty_input_and_two_query_texts():
    with pytest.raises(ValueError, match="pair 1 has no group"):
        ranking_from_pairs([Pair("q", "a", 1.0, "q1"), Pair("q", "b", 0.0, None)])
    with pytest.raises(ValueError, match="no pairs"):
        ranking_from_pairs([])
    with pytest.raises(ValueError, match="two different query texts"):
        ranking_from_pairs([Pair("q", "a", 1.0, "q1"), Pair("other", "b", 0.0, "q1")])


# --- ordering and ties -----------------------------------------------------------------------


def test_rank_one_sorts_by_descending_score_and_keeps_candidate_order_on_ties():
    # scores 0.2, 0.9, 0.2, 0.5 -> order 0.9 (idx 1), 0.5 (idx 3), then the tie 0.2: idx 0 before idx 2
    assert rank_one([0.2, 0.9, 0.2, 0.5], [0.1, 0.2, 0.3, 0.4]) == [0.2, 0.4, 0.1, 0.3]
    # an all-tied list keeps the given order exactly
    assert rank_one([0.0, 0.0, 0.0], [0.0, 1.0, 0.5]) == [0.0, 1.0, 0.5]


def test_rank_one_rejects_nan_and_length_mismatch():
    with pytest.raises(ValueError, match="non-finite"):
        rank_one([0.1, math.nan], [0.0, 1.0])
    with pytest.raises(ValueError, match="2 scores for 3 candidates"):
        rank_one([0.1, 0.2], [0.0, 1.0, 0.0])


def test_ranked_relevances_looks_up_qrels_and_treats_unjudged_as_zero():
    scores = {"q1": [0.1, 0.8, 0.5], "q2": [0.3]}
    candidates = {"q1": ["a", "b", "c"], "q2": ["d"]}
    qrels = {"q1": {"a": 1.0, "c": 2 / 3}}  # b unjudged, q2 has no qrels at all
    # q1 order by score: b (0.8), c (0.5), a (0.1) -> relevances 0, 2/3, 1
    assert ranked_relevances(scores, candidates, qrels) == [[0.0, 2 / 3, 1.0], [0.0]]
    with pytest.raises(ValueError, match="no candidates"):
        ranked_relevances({"q3": [0.1]}, candidates, qrels)


# --- metrics: hand-computed ------------------------------------------------------------------


def test_mrr_hand_computed():
    # first relevant at rank 2 -> 1/2
    assert mrr([[0, 1, 0]]) == pytest.approx(0.5)
    # ranks 1 and 3 -> (1 + 1/3) / 2 = 2/3
    assert mrr([[1, 0], [0, 0, 1]]) == pytest.approx(2 / 3)


def test_map_hand_computed():
    # relevant at ranks 1 and 3: precisions 1/1 and 2/3 -> AP = (1 + 2/3) / 2 = 5/6
    assert mean_average_precision([[1, 0, 1]]) == pytest.approx(5 / 6)
    # second query: relevant at rank 2 only -> AP 1/2; MAP = (5/6 + 1/2) / 2 = 2/3
    assert mean_average_precision([[1, 0, 1], [0, 1]]) == pytest.approx(2 / 3)


def test_precision_at_1_hand_computed():
    # tops: relevant, not, relevant -> 2/3
    assert precision_at_1([[1, 0], [0, 1], [1]]) == pytest.approx(2 / 3)


def test_binary_metrics_use_relevant_at_threshold_on_graded_labels():
    # Antique after (x-1)/3: grades 1..4 -> 0, 1/3, 2/3, 1. At 0.5 only 2/3 and 1 are relevant.
    ranked = [[1 / 3, 2 / 3, 0.0]]
    assert mrr(ranked) == pytest.approx(0.5)  # first value >= 0.5 is at rank 2
    assert mrr(ranked, relevant_at=0.3) == pytest.approx(1.0)  # now 1/3 counts too
    assert precision_at_1(ranked, relevant_at=0.5) == 0.0


def test_ndcg_at_1_graded_linear_gain():
    # relevances 1/3, 1, 2/3: gain(top) / max gain = (1/3) / 1 = 1/3
    assert ndcg_at_1([[1 / 3, 1.0, 2 / 3]]) == pytest.approx(1 / 3)
    # with the raw-grade gain 3r + 1 (grades 2, 4, 3): 2 / 4 = 1/2
    assert ndcg_at_1([[1 / 3, 1.0, 2 / 3]], gain=lambda r: 3 * r + 1) == pytest.approx(0.5)
    # best candidate on top -> 1; all gains zero -> 0 (trec_eval's value when the ideal DCG is 0)
    assert ndcg_at_1([[1.0, 1 / 3]]) == pytest.approx(1.0)
    assert ndcg_at_1([[0.0, 0.0]]) == 0.0


def test_ndcg_at_1_rejects_negative_gain():
    with pytest.raises(ValueError, match="finite, non-negative"):
        ndcg_at_1([[0.5]], gain=lambda r: r - 1.0)


def test_has_positive_at_k():
    ranked = [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    # k=1: only query 2 -> 1/3; k=2: queries 2, 3 -> 2/3; k=3 (and k beyond the list): all -> 1
    assert has_positive_at_k(ranked, 1) == pytest.approx(1 / 3)
    assert has_positive_at_k(ranked, 2) == pytest.approx(2 / 3)
    assert has_positive_at_k(ranked, 3) == pytest.approx(1.0)
    assert has_positive_at_k(ranked, 50) == pytest.approx(1.0)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            has_positive_at_k(ranked, bad)


def test_no_relevant_queries_zero_keeps_them_skip_drops_them():
    # query 1: relevant at rank 1; query 2: no relevant candidate at all
    ranked = [[1, 0], [0, 0]]
    # "zero" (SemEval ev.py default, BSC code): query 2 scores 0 and counts -> (1 + 0) / 2
    assert mrr(ranked) == pytest.approx(0.5)
    assert mean_average_precision(ranked) == pytest.approx(0.5)
    assert precision_at_1(ranked) == pytest.approx(0.5)
    assert has_positive_at_k(ranked, 5) == pytest.approx(0.5)
    assert ndcg_at_1(ranked) == pytest.approx(0.5)
    # "skip" (ev.py --ignore_noanswer): only query 1 is averaged
    for metric in (mrr, mean_average_precision, precision_at_1, ndcg_at_1):
        assert metric(ranked, no_relevant="skip") == pytest.approx(1.0)
    assert has_positive_at_k(ranked, 1, no_relevant="skip") == pytest.approx(1.0)


def test_no_relevant_skip_with_every_query_skipped_raises_instead_of_nan():
    with pytest.raises(ValueError, match="no query has a candidate"):
        mrr([[0, 0], [0]], no_relevant="skip")


def test_metrics_reject_empty_and_invalid_inputs():
    with pytest.raises(ValueError, match="no queries"):
        mrr([])
    with pytest.raises(ValueError, match="query 1 has no candidates"):
        mean_average_precision([[1], []])
    with pytest.raises(ValueError, match="outside"):
        precision_at_1([[1.5]])
    with pytest.raises(ValueError, match="outside"):
        ndcg_at_1([[math.nan]])
    with pytest.raises(ValueError, match="no_relevant must be one of"):
        mrr([[1]], no_relevant="ignore")


# --- evaluate_ranking ------------------------------------------------------------------------

VECTORS = {
    "apple": [1.0, 0.0, 0.0],
    "banana": [0.0, 1.0, 0.0],
    "fig": [0.0, 0.0, 1.0],
    "apple pie": [2.0, 0.0, 0.0],  # cos with apple 1, with banana 0
    "banana split": [0.0, 3.0, 0.0],  # cos with apple 0, with banana 1
    "cherry": [1.0, 1.0, 0.0],  # cos 1/sqrt(2) with both apple and banana
}


class ToyEmbed:
    """Fixed vectors per text; records every call so the test can check texts are embedded once."""

    def __init__(self, vectors=VECTORS):
        self.vectors = vectors
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([self.vectors[t] for t in texts])


def test_evaluate_ranking_whole_corpus_known_ranking():
    rset = RankingSet(
        queries={"q1": "apple", "q2": "banana"},
        corpus={"d1": "apple pie", "d2": "banana split", "d3": "cherry"},
        qrels={"q1": {"d3": 1.0}, "q2": {"d2": 1.0, "d1": 1 / 3}},
    )
    embed = ToyEmbed()
    out = evaluate_ranking(rset, embed)
    # q1 ranks d1 (1), d3 (0.707), d2 (0) -> rels [0, 1, 0]: RR 1/2, AP 1/2, P@1 0, nDCG@1 0/1, HP@1 0, HP@5 1
    # q2 ranks d2 (1), d3 (0.707), d1 (0) -> rels [1, 0, 1/3]: RR 1, AP 1, P@1 1, nDCG@1 1/1, HP@1 1, HP@5 1
    assert out == pytest.approx({"mrr": 0.75, "map": 0.75, "p@1": 0.5, "ndcg@1": 0.5,
                                 "hp@1": 0.5, "hp@5": 1.0, "hp@50": 1.0})
    assert all(type(v) is float for v in out.values())
    assert len(embed.calls) == 1 and sorted(embed.calls[0]) == sorted(set(embed.calls[0]))
    assert set(embed.calls[0]) == {"apple", "banana", "apple pie", "banana split", "cherry"}


def test_evaluate_ranking_candidates_and_tie_rule():
    # "fig" is orthogonal to both candidates: a tie at cosine 0, broken by candidate order
    corpus = {"d1": "apple pie", "d2": "banana split"}
    qrels = {"q": {"d1": 1.0}}
    first = RankingSet({"q": "fig"}, corpus, qrels, candidates={"q": ["d1", "d2"]})
    second = RankingSet({"q": "fig"}, corpus, qrels, candidates={"q": ["d2", "d1"]})
    assert evaluate_ranking(first, ToyEmbed(), ks=(1,))["mrr"] == pytest.approx(1.0)
    assert evaluate_ranking(second, ToyEmbed(), ks=(1,))["mrr"] == pytest.approx(0.5)


def test_evaluate_ranking_embeds_duplicate_texts_once_and_passes_gain():
    # two queries share a text with a candidate; every distinct text goes to embed exactly once
    rset = ranking_from_pairs([
        Pair("apple", "apple pie", 1 / 3, "a"),
        Pair("apple", "cherry", 1.0, "a"),
        Pair("banana", "apple pie", 0.0, "b"),
        Pair("banana", "banana split", 2 / 3, "b"),
    ])
    embed = ToyEmbed()
    out = evaluate_ranking(rset, embed, ks=(1,), gain=lambda r: 3 * r + 1)
    assert embed.calls == [["apple", "banana", "apple pie", "cherry", "banana split"]]
    # a: apple pie (1) above cherry (0.707) -> rels [1/3, 1]: RR 1/2, P@1 0, gains [2, 4] -> nDCG@1 1/2
    # b: banana split (1) above apple pie (0) -> rels [2/3, 0]: RR 1, P@1 1, gains [3, 1] -> nDCG@1 1
    assert out["mrr"] == pytest.approx(0.75)
    assert out["p@1"] == pytest.approx(0.5)
    assert out["ndcg@1"] == pytest.approx(0.75)


def test_evaluate_ranking_validates_the_set():
    corpus = {"d1": "apple pie", "d2": "banana split"}
    with pytest.raises(ValueError, match="not in the corpus"):
        evaluate_ranking(RankingSet({"q": "apple"}, corpus, {"q": {"d9": 1.0}}), ToyEmbed())
    with pytest.raises(ValueError, match="outside its candidates"):
        evaluate_ranking(RankingSet({"q": "apple"}, corpus, {"q": {"d2": 1.0}}, {"q": ["d1"]}), ToyEmbed())
    with pytest.raises(ValueError, match="exactly the queries"):
        evaluate_ranking(RankingSet({"q": "apple"}, corpus, {}, {"other": ["d1"]}), ToyEmbed())
    with pytest.raises(ValueError, match="not in the set"):
        evaluate_ranking(RankingSet({"q": "apple"}, corpus, {"x": {"d1": 1.0}}), ToyEmbed())
    with pytest.raises(ValueError, match="no queries"):
        evaluate_ranking(RankingSet({}, corpus, {}), ToyEmbed())


def test_evaluate_ranking_rejects_bad_embeddings():
    rset = RankingSet({"q": "apple"}, {"d1": "apple pie"}, {"q": {"d1": 1.0}})
    zero = {**VECTORS, "apple pie": [0.0, 0.0, 0.0]}
    with pytest.raises(ValueError, match="zero embedding"):
        evaluate_ranking(rset, ToyEmbed(zero))
    with pytest.raises(ValueError, match="non-finite"):
        evaluate_ranking(rset, ToyEmbed({**VECTORS, "apple": [math.inf, 0.0, 0.0]}))
    with pytest.raises(ValueError, match="expected \\(n, d\\)"):
        evaluate_ranking(rset, lambda texts: np.ones(len(texts)))
