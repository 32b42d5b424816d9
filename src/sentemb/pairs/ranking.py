"""Ranking metrics for the pair tasks: MRR, MAP, P@1, nDCG@1 and HasPositive@k (docs/methods.md §4.6).

A ranking task is a set of queries, each with candidate documents scored by the cosine of the
two embeddings (§4.1). The metric functions take, per query, the relevance values of its
candidates in ranked order (``ranked_relevances``) and average a per-query score over queries.

Conventions, chosen to match the scorers the paper's numbers come from:

- **Binary relevance** (MRR, MAP, P@1, HP@k) is ``rel >= relevant_at``. Relevance is the
  normalised label in [0, 1]; Antique's relevant grades 3 and 4 of 1..4 are >= 2/3 after
  (x-1)/3, so the default 0.5 separates them from grades 1 and 2 (the BSC code binarises
  Antique with ``> 0.5``, the same split on these four values).
- **Ties** are broken by candidate order (a stable sort on descending score): of two candidates
  with the same score, the one listed first ranks higher. This is what the SemEval-2016/2017
  Task 3 scorer (``MAP_scripts/ev.py``, Python's stable ``sorted`` over the gold-file order) and
  the BSC code's ``calculate_metrics`` do.
- **Queries with no relevant candidate** score 0 on every binary metric and stay in the mean
  (``no_relevant="zero"``, the default): the SemEval scorer does this unless run with
  ``--ignore_noanswer``, and so does the BSC code (its MRR and AP return 0 for them).
  ``no_relevant="skip"`` drops them from every metric instead, as ``--ignore_noanswer`` does.
- **AP** divides by the number of relevant candidates in the ranked list (trec_eval's
  ``num_rel`` when the list holds all judged documents). The SemEval scorer's MAP is cut at
  rank 10 and divides by the hits within it; every CQA query has exactly 10 candidates, so the
  two coincide there.
- **nDCG@1** uses trec_eval's gain convention: the gain of a document is its relevance value
  itself (linear, ``m_ndcg.c``: "gain values are the relevance values in the qrels file"), and
  the ideal DCG is built from the query's judged candidates. At rank 1 no discount applies, so
  nDCG@1 = gain(top) / max gain, and 0 when no candidate has a positive gain. ``gain`` maps the
  stored relevance to that gain: for Antique, ``3r + 1`` recovers the raw grade 1..4 that
  trec_eval (and the BSC code, which passes ``labels * 3 + 1``) uses; see
  ``sources.NDCG_GAINS``.

No metric returns NaN: an empty input, a query without candidates, a non-finite score or
relevance, or a mean over zero queries raises ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sentemb.pairs.records import Pair

NO_RELEVANT = ("zero", "skip")
Ranked = Sequence[Sequence[float]]
Gain = Callable[[float], float]


@dataclass(frozen=True)
class RankingSet:
    """The queries, documents and judgements of one ranking split (docs/methods.md §4.6).

    ``qrels[qid][doc_id]`` is the graded relevance in [0, 1]; a document absent from a query's
    qrels has relevance 0. ``candidates[qid]`` lists the documents to rank for ``qid`` (the
    judged answers of Antique, the 10 comments or related questions of CQA); ``None`` ranks the
    whole corpus for every query, as PFCC-S ranks all verified claims.
    """

    queries: dict[str, str]
    corpus: dict[str, str]
    qrels: dict[str, dict[str, float]]
    candidates: dict[str, list[str]] | None = None


def ranking_from_pairs(pairs: list[Pair]) -> RankingSet:
    """Group pairs by ``Pair.group`` (the query): candidates are its ``text_b``'s, relevance its labels.

    Document ids are ``"<group>#<i>"`` with ``i`` the candidate's position within its group, so
    the candidate order (and with it the tie rule) is the order of the pairs.
    """
    if not pairs:
        raise ValueError("no pairs to build a ranking from")
    queries: dict[str, str] = {}
    corpus: dict[str, str] = {}
    qrels: dict[str, dict[str, float]] = {}
    candidates: dict[str, list[str]] = {}
    for index, pair in enumerate(pairs):
        if pair.group is None:
            raise ValueError(f"pair {index} has no group (query id); ranking needs one per pair")
        qid = pair.group
        if queries.setdefault(qid, pair.text_a) != pair.text_a:
            raise ValueError(f"group {qid!r} has two different query texts (pair {index})")
        doc_id = f"{qid}#{len(candidates.setdefault(qid, []))}"
        corpus[doc_id] = pair.text_b
        candidates[qid].append(doc_id)
        qrels.setdefault(qid, {})[doc_id] = pair.label
    return RankingSet(queries=queries, corpus=corpus, qrels=qrels, candidates=candidates)


def rank_one(scores: Sequence[float], relevances: Sequence[float]) -> list[float]:
    """The relevances of one query's candidates in descending score order.

    Tie rule: a stable sort, so equal scores keep the candidates' given order (the first listed
    ranks higher), as the SemEval scorer and the BSC code do.
    """
    if len(scores) != len(relevances):
        raise ValueError(f"{len(scores)} scores for {len(relevances)} candidates")
    values = [float(s) for s in scores]
    if not all(math.isfinite(s) for s in values):
        raise ValueError("non-finite score; cannot rank")
    order = sorted(range(len(values)), key=lambda i: -values[i])
    return [float(relevances[i]) for i in order]


def ranked_relevances(scores: Mapping[str, Sequence[float]], candidates: Mapping[str, Sequence[str]],
                      qrels: Mapping[str, Mapping[str, float]]) -> list[list[float]]:
    """Per query (in the order of ``scores``), the relevances of its candidates in ranked order.

    ``scores[qid][i]`` scores ``candidates[qid][i]``; unjudged candidates have relevance 0. Ties
    follow ``rank_one``: candidate order decides.
    """
    out: list[list[float]] = []
    for qid, query_scores in scores.items():
        if qid not in candidates:
            raise ValueError(f"query {qid!r} has scores but no candidates")
        judged = qrels.get(qid, {})
        relevances = [float(judged.get(doc_id, 0.0)) for doc_id in candidates[qid]]
        out.append(rank_one(query_scores, relevances))
    return out


# --- metrics ---------------------------------------------------------------------------------


def _check(ranked: Ranked, no_relevant: str) -> None:
    if no_relevant not in NO_RELEVANT:
        raise ValueError(f"no_relevant must be one of {NO_RELEVANT}, got {no_relevant!r}")
    if not ranked:
        raise ValueError("no queries to evaluate")
    for index, rels in enumerate(ranked):
        if not rels:
            raise ValueError(f"query {index} has no candidates")
        if not all(math.isfinite(r) and 0.0 <= r <= 1.0 for r in rels):
            raise ValueError(f"query {index} has a relevance outside [0, 1] or not finite")


def _kept(ranked: Ranked, relevant_at: float, no_relevant: str) -> list[Sequence[float]]:
    """The queries every metric averages over, after the no-relevant-candidate convention."""
    _check(ranked, no_relevant)
    kept = [rels for rels in ranked if no_relevant == "zero" or any(r >= relevant_at for r in rels)]
    if not kept:
        raise ValueError(f"no query has a candidate with relevance >= {relevant_at} (no_relevant='skip')")
    return kept


def _mean(ranked: Ranked, per_query: Callable[[Sequence[float]], float], relevant_at: float,
          no_relevant: str) -> float:
    """Average ``per_query`` over the kept queries."""
    kept = _kept(ranked, relevant_at, no_relevant)
    value = sum(per_query(rels) for rels in kept) / len(kept)
    if not math.isfinite(value):  # cannot happen for validated inputs; never let NaN look like a score
        raise ValueError("metric is not finite")
    return float(value)


def reciprocal_rank(rels: Sequence[float], relevant_at: float) -> float:
    for rank, rel in enumerate(rels, 1):
        if rel >= relevant_at:
            return 1.0 / rank
    return 0.0


def average_precision(rels: Sequence[float], relevant_at: float) -> float:
    hits, total = 0, 0.0
    for rank, rel in enumerate(rels, 1):
        if rel >= relevant_at:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def ndcg_one(rels: Sequence[float], gain: Gain | None = None) -> float:
    to_gain = gain or (lambda r: r)
    gains = [float(to_gain(r)) for r in rels]
    if not all(math.isfinite(g) and g >= 0.0 for g in gains):
        raise ValueError("gain must map relevance to a finite, non-negative number")
    ideal = max(gains)
    return gains[0] / ideal if ideal > 0.0 else 0.0


def mrr(ranked: Ranked, relevant_at: float = 0.5, no_relevant: str = "zero") -> float:
    """Mean reciprocal rank of the first relevant candidate (0 for a query without one)."""
    return _mean(ranked, lambda rels: reciprocal_rank(rels, relevant_at), relevant_at, no_relevant)


def mean_average_precision(ranked: Ranked, relevant_at: float = 0.5, no_relevant: str = "zero") -> float:
    """MAP: per query, the mean of precision@rank over the relevant candidates' ranks."""
    return _mean(ranked, lambda rels: average_precision(rels, relevant_at), relevant_at, no_relevant)


def precision_at_1(ranked: Ranked, relevant_at: float = 0.5, no_relevant: str = "zero") -> float:
    """Fraction of queries whose top-ranked candidate is relevant."""
    return _mean(ranked, lambda rels: float(rels[0] >= relevant_at), relevant_at, no_relevant)


def has_positive_at_k(ranked: Ranked, k: int, relevant_at: float = 0.5, no_relevant: str = "zero") -> float:
    """HasPositive@k (Shaar et al. 2020): fraction of queries with a relevant candidate in the top k."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return _mean(ranked, lambda rels: float(any(r >= relevant_at for r in rels[:k])), relevant_at, no_relevant)


def ndcg_at_1(ranked: Ranked, relevant_at: float = 0.5, no_relevant: str = "zero",
              gain: Gain | None = None) -> float:
    """nDCG@1 with trec_eval's linear gain: gain(top) / max gain over the query's candidates.

    ``gain`` maps a stored relevance to its gain (default: the relevance itself). A query whose
    candidates all have gain 0 scores 0, as in trec_eval; ``relevant_at`` only decides which
    queries ``no_relevant="skip"`` drops, so every metric averages over the same queries.
    """
    return _mean(ranked, lambda rels: ndcg_one(rels, gain), relevant_at, no_relevant)


def per_query(ranked: Ranked, ks: Sequence[int] = (1, 5, 50), relevant_at: float = 0.5, no_relevant: str = "zero",
              gain: Gain | None = None) -> dict[str, np.ndarray]:
    """Each metric's value for every kept query (the per-item outputs a paired bootstrap
    resamples); their means are the metrics of ``evaluate_ranking``."""
    kept = _kept(ranked, relevant_at, no_relevant)
    out = {"mrr": [reciprocal_rank(r, relevant_at) for r in kept],
           "map": [average_precision(r, relevant_at) for r in kept],
           "p@1": [float(r[0] >= relevant_at) for r in kept], "ndcg@1": [ndcg_one(r, gain) for r in kept]}
    for k in ks:
        out[f"hp@{k}"] = [float(any(x >= relevant_at for x in r[:k])) for r in kept]
    return {name: np.asarray(values, dtype=np.float64) for name, values in out.items()}


# --- embedding-based evaluation --------------------------------------------------------------


def _validate(rset: RankingSet) -> None:
    if not rset.queries:
        raise ValueError("ranking set has no queries")
    unknown = set(rset.qrels) - set(rset.queries)
    if unknown:
        raise ValueError(f"qrels name queries that are not in the set: {sorted(unknown)[:3]}")
    for qid, judged in rset.qrels.items():
        for doc_id, rel in judged.items():
            if doc_id not in rset.corpus:
                raise ValueError(f"qrels of query {qid!r} name document {doc_id!r}, not in the corpus")
            if not (math.isfinite(rel) and 0.0 <= rel <= 1.0):
                raise ValueError(f"relevance {rel!r} of ({qid!r}, {doc_id!r}) is outside [0, 1]")
    if rset.candidates is None:
        if not rset.corpus:
            raise ValueError("ranking set has an empty corpus")
        return
    if set(rset.candidates) != set(rset.queries):
        raise ValueError("candidates must list exactly the queries of the set")
    for qid, docs in rset.candidates.items():
        _validate_candidates(rset, qid, docs)


def _validate_candidates(rset: RankingSet, qid: str, docs: list[str]) -> None:
    if not docs:
        raise ValueError(f"query {qid!r} has no candidates")
    if len(set(docs)) != len(docs):
        raise ValueError(f"query {qid!r} lists a candidate twice")
    missing = [doc_id for doc_id in docs if doc_id not in rset.corpus]
    if missing:
        raise ValueError(f"query {qid!r} has candidate {missing[0]!r}, not in the corpus")
    # A relevant document outside the candidate list would silently vanish from every metric.
    listed = set(docs)
    unranked = [d for d, rel in rset.qrels.get(qid, {}).items() if rel > 0 and d not in listed]
    if unranked:
        raise ValueError(f"query {qid!r} has relevant document {unranked[0]!r} outside its candidates")


def _unit_rows(embed: Callable[[list[str]], np.ndarray], texts: list[str]) -> dict[str, np.ndarray]:
    """Embed each distinct text once and L2-normalise, so dot products are cosines (§4.1)."""
    matrix = np.asarray(embed(texts), dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != len(texts):
        raise ValueError(f"embed returned shape {matrix.shape} for {len(texts)} texts (expected (n, d))")
    if not np.isfinite(matrix).all():
        raise ValueError("embed returned non-finite values")
    norms = np.linalg.norm(matrix, axis=1)
    if (norms == 0).any():
        raise ValueError(f"zero embedding (cosine undefined) for text {texts[int(np.argmin(norms))]!r}")
    unit = matrix / norms[:, None]
    return {text: unit[i] for i, text in enumerate(texts)}


def _scores(rset: RankingSet, vectors: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    if rset.candidates is not None:
        candidates = rset.candidates
    else:
        corpus_ids = list(rset.corpus)
        candidates = {qid: corpus_ids for qid in rset.queries}
    scores: dict[str, np.ndarray] = {}
    doc_matrices: dict[int, np.ndarray] = {}  # the whole-corpus matrix is built once and shared
    for qid, text in rset.queries.items():
        docs = candidates[qid]
        key = id(docs)
        if key not in doc_matrices:
            doc_matrices[key] = np.stack([vectors[rset.corpus[d]] for d in docs])
        scores[qid] = doc_matrices[key] @ vectors[text]
    return scores, candidates


def evaluate_ranking(rset: RankingSet, embed: Callable[[list[str]], np.ndarray], ks: Sequence[int] = (1, 5, 50),
                     relevant_at: float = 0.5, no_relevant: str = "zero", gain: Gain | None = None,
                     items: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Embed every distinct query and candidate text once, rank by cosine, return the §4.6 metrics.

    Keys: ``mrr``, ``map``, ``p@1``, ``ndcg@1`` and ``hp@<k>`` for each k in ``ks``; plain floats
    on a 0-1 scale. ``relevant_at``, ``no_relevant`` and ``gain`` are passed to the metrics (see
    the module docstring). ``items``, when given, receives each metric's per-query values.
    """
    _validate(rset)
    doc_ids = rset.corpus if rset.candidates is None else {d: None for docs in rset.candidates.values() for d in docs}
    texts = list(dict.fromkeys([*rset.queries.values(), *(rset.corpus[d] for d in doc_ids)]))
    scores, candidates = _scores(rset, _unit_rows(embed, texts))
    ranked = ranked_relevances(scores, candidates, rset.qrels)
    out = {
        "mrr": mrr(ranked, relevant_at, no_relevant),
        "map": mean_average_precision(ranked, relevant_at, no_relevant),
        "p@1": precision_at_1(ranked, relevant_at, no_relevant),
        "ndcg@1": ndcg_at_1(ranked, relevant_at, no_relevant, gain),
    }
    for k in ks:
        out[f"hp@{k}"] = has_positive_at_k(ranked, k, relevant_at, no_relevant)
    if items is not None:
        items |= {f"per_query/{k}": v for k, v in per_query(ranked, ks, relevant_at, no_relevant, gain).items()}
    return out
