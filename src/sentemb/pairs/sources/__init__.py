"""Online loaders for the BSC paper's pair datasets that the offline mirror lacks (docs/methods.md §4.6).

Each source has two layers: ``fetch_<name>(cache_dir) -> Path`` downloads (and unzips) the
upstream files into ``cache_dir/<name>`` and writes ``provenance.json`` (URL, sha256, whether it
was pinned); ``read_<name>(root) -> PairTask`` parses them strictly: every malformed line raises
``DataError(path, reason, line)`` (for XML, the parser's line). ``PAIR_SOURCES`` maps a name to
``(fetch, read, kind)``; ``ranking_set`` gives the ``RankingSet`` a ranking split is scored on.

Labels are normalised to [0, 1] (docs/methods.md §4.2): Antique (x-1)/3; CQA-A Good=1,
PotentiallyUseful=0, Bad=0; CQA-B PerfectMatch=1, Relevant=1, Irrelevant=0; QQP is_duplicate;
PFCC-S 1 for a tweet and the verified claim that debunks it. ``Pair.group`` is the query id.

Splits follow the official releases and, where it differs, what the BSC code (examples/*.ipynb
of github.com/aschern/BSC-loss) trained and evaluated on:

- QQP (``qqp``): GLUE's train/dev TSVs, seeded 10k / 3k samples.
- Antique (``antique``): official train and test qrels.
- CQA-A / CQA-B (``cqa``): SemEval-2016 train-part1 and dev, the SemEval-2017 test set with the
  gold labels of the official scorer package.
- PFCC-S (``pfcc``): the CLEF-2020 CheckThat! Task 2 release of the Snopes data, official train
  and dev.

Each module's docstring gives its URLs, formats and split details; ``download`` the download
and pinning rules, ``common`` the shared strict readers. This package holds the dispatch and
re-exports the public names of its modules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from sentemb.errors import DataError
from sentemb.pairs.ranking import RankingSet, ranking_from_pairs
from sentemb.pairs.records import PairTask, TaskKind
from sentemb.pairs.sources.antique import (
    ANTIQUE_BASE_URL,
    ANTIQUE_COLLECTION,
    ANTIQUE_GRADES,
    ANTIQUE_SPLITS,
    antique_gain,
    fetch_antique,
    read_antique,
)
from sentemb.pairs.sources.cqa import (
    CQA_A_FILES,
    CQA_A_GOLD,
    CQA_A_LABELS,
    CQA_B_FILES,
    CQA_B_GOLD,
    CQA_B_LABELS,
    CQA_GOLD_LABELS,
    CQA_GOLD_URL,
    CQA_SEP,
    CQA_TEST_URL,
    CQA_TRAINDEV_URL,
    CQA_URLS,
    fetch_cqa,
    read_cqa_a,
    read_cqa_b,
)
from sentemb.pairs.sources.download import PINNED_SHA256, download
from sentemb.pairs.sources.pfcc import (
    PFCC_S_CLAIMS,
    PFCC_S_COMMIT,
    PFCC_S_QRELS,
    PFCC_S_QUERIES,
    PFCC_S_SPLITS,
    PFCC_S_URL,
    _read_pfcc,
    fetch_pfcc_s,
    read_pfcc_s,
    read_pfcc_s_ranking,
)
from sentemb.pairs.sources.qqp import QQP_DEV_SIZE, QQP_HEADER, QQP_TRAIN_SIZE, QQP_URL, fetch_qqp, read_qqp

__all__ = [
    "ANTIQUE_BASE_URL", "ANTIQUE_COLLECTION", "ANTIQUE_GRADES", "ANTIQUE_SPLITS",
    "CQA_A_FILES", "CQA_A_GOLD", "CQA_A_LABELS", "CQA_B_FILES", "CQA_B_GOLD", "CQA_B_LABELS", "CQA_GOLD_LABELS",
    "CQA_GOLD_URL", "CQA_SEP", "CQA_TEST_URL", "CQA_TRAINDEV_URL", "CQA_URLS",
    "NDCG_GAINS", "PAIR_SOURCES", "PINNED_SHA256",
    "PFCC_S_CLAIMS", "PFCC_S_COMMIT", "PFCC_S_QRELS", "PFCC_S_QUERIES", "PFCC_S_SPLITS", "PFCC_S_URL",
    "QQP_DEV_SIZE", "QQP_HEADER", "QQP_TRAIN_SIZE", "QQP_URL",
    "PairSource", "antique_gain", "download", "fetch_antique", "fetch_cqa", "fetch_pfcc_s", "fetch_qqp",
    "ranking_set", "read_antique", "read_cqa_a", "read_cqa_b", "read_pfcc_s", "read_pfcc_s_ranking", "read_qqp",
]


class PairSource(NamedTuple):
    fetch: Callable[[str | Path], Path]
    read: Callable[[str | Path], PairTask]
    kind: TaskKind
    labelled_negatives: bool  # whether a query has judged non-relevant candidates (triplets need them)


PAIR_SOURCES: dict[str, PairSource] = {
    "qqp": PairSource(fetch_qqp, read_qqp, "classification", True),
    "antique": PairSource(fetch_antique, read_antique, "ranking", True),
    "cqa_a": PairSource(fetch_cqa, read_cqa_a, "ranking", True),
    "cqa_b": PairSource(fetch_cqa, read_cqa_b, "ranking", True),
    "pfcc_s": PairSource(fetch_pfcc_s, read_pfcc_s, "ranking", False),  # tweet -> its debunking claim only
}

# Gains for nDCG@1 where the stored relevance is not trec_eval's gain (see ranking.ndcg_at_1).
NDCG_GAINS: dict[str, Callable[[float], float]] = {"antique": antique_gain}


def ranking_set(name: str, root: str | Path, task: PairTask, split: str) -> RankingSet:
    """The RankingSet a ranking task's ``split`` is scored on (docs/methods.md §4.6).

    The queries and judgements are those of ``task.split(split)`` (which may be a split the
    pipeline carved, ``tasks.ensure_splits``). PFCC-S ranks them against every verified claim
    (one document per distinct claim text, as ``read_pfcc_s_ranking``); the other ranking tasks
    rank each query's own candidates, in file order (the tie rule's candidate order).
    """
    if name not in PAIR_SOURCES:
        raise ValueError(f"unknown pair source {name!r} (known: {', '.join(PAIR_SOURCES)})")
    if PAIR_SOURCES[name].kind != "ranking":
        raise ValueError(f"{name} is a {PAIR_SOURCES[name].kind} task, not a ranking task")
    pairs = task.split(split)
    if name != "pfcc_s":
        return ranking_from_pairs(pairs)
    claims, claims_path, _ = _read_pfcc(Path(root))
    by_text: dict[str, str] = {}
    for key, entry in claims.items():
        by_text.setdefault(" ".join(entry.text.split()), key)
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, float]] = {}
    for pair in pairs:
        if pair.text_b not in by_text:
            raise DataError(claims_path, f"judged claim {pair.text_b[:60]!r} is not in the verified-claim corpus")
        queries[str(pair.group)] = pair.text_a
        judged = qrels.setdefault(str(pair.group), {})
        judged[by_text[pair.text_b]] = max(judged.get(by_text[pair.text_b], 0.0), pair.label)
    corpus = {key: text for text, key in by_text.items()}
    return RankingSet(queries=queries, corpus=corpus, qrels=qrels, candidates=None)
