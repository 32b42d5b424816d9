"""PFCC-S (detecting previously fact-checked claims, Snopes), a ranking task (docs/methods.md §4.6).

Labels: 1 for a tweet and the verified claim that debunks it; ``Pair.group`` is the tweet id.
Splits: the CLEF-2020 CheckThat! Task 2 release of the Snopes tweet/verified-claim data (Shaar
et al.), official train and dev; ranked against every verified claim.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sentemb.data.readers import norm
from sentemb.errors import DataError
from sentemb.pairs.ranking import RankingSet
from sentemb.pairs.records import PairTask, make_pair
from sentemb.pairs.sources.common import _find_one, _lookup, _require_lines, _Text
from sentemb.pairs.sources.download import _fetch

# PFCC-S: github.com/sshaar/clef2020-factchecking-task2, data/v3.zip (train/ and dev/ with
# tweets.queries.tsv + tweet-vclaim-pairs.qrels, and verified_claims.docs.tsv), pinned to a
# commit that holds it. The BSC code read the ACL-2020 release of the same Snopes data
# (tweet-veclaim-pairs.tsv; first 800 pairs train, the rest test), whose layout we could not
# confirm; this release has the same kind of tweets and ~10k verified claims.
PFCC_S_COMMIT = "2bf12647d547c0c7d25f69c7e4e00014ebeb634a"
PFCC_S_URL = f"https://raw.githubusercontent.com/sshaar/clef2020-factchecking-task2/{PFCC_S_COMMIT}/data/v3.zip"
PFCC_S_CLAIMS = "verified_claims.docs.tsv"
PFCC_S_QUERIES = "tweets.queries.tsv"
PFCC_S_QRELS = "tweet-vclaim-pairs.qrels"
PFCC_S_SPLITS = ("train", "dev", "test")


def fetch_pfcc_s(cache_dir: str | Path, url: str = PFCC_S_URL) -> Path:
    """Download and unpack the CLEF-2020 Task 2 Snopes data into ``cache_dir/pfcc_s``."""
    return _fetch(cache_dir, "pfcc_s", (url,), unzip=True)


def _read_quoted_tsv(path: Path, text_column: str) -> dict[str, _Text]:
    """pandas-written TSV: a header whose first cell is the (unnamed) id column, CSV quoting.

    Quoted fields may span lines, so the line reported is the one where the record starts.
    """
    lines = _require_lines(path)
    reader = csv.reader((line + "\n" for line in lines), delimiter="\t", quotechar='"', strict=True)
    table: dict[str, _Text] = {}
    header: list[str] | None = None
    column = 0
    start = 1
    try:
        for record in reader:
            if header is None:
                header = record
                if text_column not in header[1:]:
                    raise DataError(path, f"header has no {text_column!r} column: {header!r}", line=1)
                column = header.index(text_column)
            else:
                _add_record(table, record, len(header), column, path, start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(path, f"malformed TSV ({exc})", line=start) from None
    return table


def _add_record(table: dict[str, _Text], record: list[str], width: int, column: int, path: Path, line: int) -> None:
    if len(record) != width:
        raise DataError(path, f"expected {width} tab-separated columns, got {len(record)}", line=line)
    key = record[0].strip()
    if not key:
        raise DataError(path, "empty id", line=line)
    if key in table:
        raise DataError(path, f"duplicate id {key!r} (first on line {table[key].line})", line=line)
    table[key] = _Text(norm(record[column]), line)


@dataclass(frozen=True)
class _Qrel:
    qid: str
    doc_id: str
    relevance: float
    line: int


def _read_pfcc_qrels(path: Path, queries: dict[str, _Text], queries_path: Path, claims: dict[str, _Text],
                     claims_path: Path) -> list[_Qrel]:
    """``tweet_id 0 vclaim_id relevance`` per line (TREC qrels, relevance 0 or 1)."""
    out: list[_Qrel] = []
    seen: dict[tuple[str, str], int] = {}
    for number, line in enumerate(_require_lines(path), 1):
        tokens = line.split()
        if len(tokens) != 4:
            raise DataError(path, f"expected 'tweet_id 0 vclaim_id relevance', got {len(tokens)} fields", line=number)
        qid, _zero, doc_id, relevance = tokens
        if relevance not in ("0", "1"):
            raise DataError(path, f"relevance {relevance!r} is not 0 or 1", line=number)
        if (qid, doc_id) in seen:
            raise DataError(path, f"({qid}, {doc_id}) listed twice (first on line {seen[qid, doc_id]})", line=number)
        seen[qid, doc_id] = number
        _lookup(queries, qid, "tweet", queries_path, path, number)
        _lookup(claims, doc_id, "verified claim", claims_path, path, number)
        out.append(_Qrel(qid, doc_id, float(relevance), number))
    return out


@dataclass(frozen=True)
class _PfccSplit:
    queries: dict[str, _Text]
    qrels: list[_Qrel]
    path: Path


def _pfcc_split_dirs(root: Path) -> dict[str, Path]:
    """Split name -> folder holding its queries and qrels (``train/``, ``dev/``, optional ``test/``)."""
    found: dict[str, Path] = {}
    for split in PFCC_S_SPLITS:
        dirs = sorted(p.parent for p in root.rglob(PFCC_S_QUERIES) if p.parent.name == split)
        if len(dirs) > 1:
            raise DataError(root, f"split {split!r} is ambiguous: {', '.join(str(d.relative_to(root)) for d in dirs)}")
        if dirs:
            found[split] = dirs[0]
    if "train" not in found:
        raise DataError(root, f"no train/{PFCC_S_QUERIES} under this directory")
    return found


def _read_pfcc(root: Path) -> tuple[dict[str, _Text], Path, dict[str, _PfccSplit]]:
    claims_path = _find_one(root, PFCC_S_CLAIMS)
    claims = _read_quoted_tsv(claims_path, "vclaim")
    splits: dict[str, _PfccSplit] = {}
    for split, folder in _pfcc_split_dirs(root).items():
        queries_path, qrels_path = folder / PFCC_S_QUERIES, folder / PFCC_S_QRELS
        if not qrels_path.is_file():
            raise DataError(qrels_path, "file not found (every split folder needs queries and qrels)")
        queries = _read_quoted_tsv(queries_path, "tweet_content")
        qrels = _read_pfcc_qrels(qrels_path, queries, queries_path, claims, claims_path)
        splits[split] = _PfccSplit(queries, qrels, qrels_path)
    return claims, claims_path, splits


def read_pfcc_s(root: str | Path) -> PairTask:
    """PFCC-S pairs (tweet, verified claim, relevance) for each split found; group = tweet id."""
    claims, _claims_path, splits = _read_pfcc(Path(root))
    out = {
        split: [make_pair(data.queries[q.qid].text, claims[q.doc_id].text, q.relevance, data.path, q.line,
                          group=q.qid) for q in data.qrels]
        for split, data in splits.items()
    }
    return PairTask("pfcc_s", "ranking", out)


def read_pfcc_s_ranking(root: str | Path, split: str = "dev", merge_duplicate_claims: bool = True) -> RankingSet:
    """The queries of ``split`` (tweets with a qrels line) ranked against every verified claim.

    ``merge_duplicate_claims`` keeps one document per distinct (whitespace-normalised) claim
    text, the first by file order, and moves judgements onto it: the BSC code's HasPositive
    compares claim texts, so a verbatim duplicate of the gold claim ranked first counts as a hit.
    """
    claims, claims_path, splits = _read_pfcc(Path(root))
    if split not in splits:
        raise DataError(Path(root), f"no {split!r} split (found: {', '.join(splits)})")
    for key, entry in claims.items():
        if not entry.text:  # every claim is ranked, so every claim must be embeddable
            raise DataError(claims_path, f"verified claim {key!r} has empty text", line=entry.line)
    canonical: dict[str, str] = {}
    alias = {key: (canonical.setdefault(e.text, key) if merge_duplicate_claims else key) for key, e in claims.items()}
    corpus = {key: entry.text for key, entry in claims.items() if alias[key] == key}
    data = splits[split]
    qrels: dict[str, dict[str, float]] = {}
    for q in data.qrels:
        judged = qrels.setdefault(q.qid, {})
        judged[alias[q.doc_id]] = max(judged.get(alias[q.doc_id], 0.0), q.relevance)
    queries = {qid: data.queries[qid].text for qid in qrels}
    return RankingSet(queries=queries, corpus=corpus, qrels=qrels, candidates=None)
