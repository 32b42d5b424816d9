"""Antique (non-factoid question answering), a ranking task (docs/methods.md §4.6).

Labels: the grade 1..4 normalised to (x-1)/3 (docs/methods.md §4.2); ``antique_gain`` gives the raw
grade back for nDCG. ``Pair.group`` is the query id. Splits: the official train and test qrels
(27,422 / 6,589 pairs, the paper's "train / val").
"""

from __future__ import annotations

from pathlib import Path

from sentemb.data.readers import norm
from sentemb.errors import DataError
from sentemb.pairs.records import Pair, PairTask, make_pair
from sentemb.pairs.sources.common import _find_one, _lookup, _require_lines, _Text
from sentemb.pairs.sources.download import _fetch

# Antique's files on the authors' site, the URLs ir_datasets (ir_datasets/datasets/antique.py)
# and examples/Antique.ipynb download.
ANTIQUE_BASE_URL = "https://ciir.cs.umass.edu/downloads/Antique/"
ANTIQUE_COLLECTION = "antique-collection.txt"
ANTIQUE_SPLITS = ("train", "test")
ANTIQUE_GRADES = (1, 2, 3, 4)


def fetch_antique(cache_dir: str | Path, base_url: str = ANTIQUE_BASE_URL) -> Path:
    """Download Antique's collection, queries and qrels into ``cache_dir/antique``."""
    names = [ANTIQUE_COLLECTION] + [f"antique-{s}{suffix}" for s in ANTIQUE_SPLITS
                                    for suffix in ("-queries.txt", ".qrel")]
    return _fetch(cache_dir, "antique", tuple(base_url + n for n in names), unzip=False)


def _read_id_text(path: Path, what: str) -> dict[str, _Text]:
    """``<id><TAB><text>`` per line (Antique's collection and queries files)."""
    table: dict[str, _Text] = {}
    for number, line in enumerate(_require_lines(path), 1):
        key, tab, text = line.partition("\t")
        key = key.strip()
        if not tab or not key:
            raise DataError(path, f"expected '<{what} id><TAB><text>'", line=number)
        if key in table:
            raise DataError(path, f"duplicate {what} id {key!r} (first on line {table[key].line})", line=number)
        table[key] = _Text(norm(text), number)
    return table


def _read_antique_qrels(path: Path, queries: dict[str, _Text], queries_path: Path, docs: dict[str, _Text],
                        docs_path: Path) -> list[Pair]:
    """``qid U0 docid grade`` per line, grade 1..4 normalised to (grade-1)/3."""
    pairs: list[Pair] = []
    seen: dict[tuple[str, str], int] = {}
    for number, line in enumerate(_require_lines(path), 1):
        tokens = line.split()
        if len(tokens) != 4:
            raise DataError(path, f"expected 'qid iter docid grade', got {len(tokens)} fields", line=number)
        qid, _iteration, doc_id, grade = tokens
        if grade not in {str(g) for g in ANTIQUE_GRADES}:
            raise DataError(path, f"grade {grade!r} is not one of 1, 2, 3, 4", line=number)
        if (qid, doc_id) in seen:
            raise DataError(path, f"({qid}, {doc_id}) judged twice (first on line {seen[qid, doc_id]})", line=number)
        seen[qid, doc_id] = number
        query = _lookup(queries, qid, "query", queries_path, path, number)
        doc = _lookup(docs, doc_id, "document", docs_path, path, number)
        pairs.append(make_pair(query, doc, (int(grade) - 1) / 3, path, number, group=qid))
    return pairs


def read_antique(root: str | Path) -> PairTask:
    """Antique as a ranking task: official train and test qrels, each query's judged answers as candidates."""
    root = Path(root)
    docs_path = _find_one(root, ANTIQUE_COLLECTION)
    docs = _read_id_text(docs_path, "document")
    splits: dict[str, list[Pair]] = {}
    for split in ANTIQUE_SPLITS:
        queries_path = _find_one(root, f"antique-{split}-queries.txt")
        queries = _read_id_text(queries_path, "query")
        qrels_path = _find_one(root, f"antique-{split}.qrel")
        splits[split] = _read_antique_qrels(qrels_path, queries, queries_path, docs, docs_path)
    return PairTask("antique", "ranking", splits)


def antique_gain(relevance: float) -> float:
    """nDCG gain for Antique: the raw grade 1..4 (3r + 1), trec_eval's gain on the upstream qrels."""
    return 3.0 * relevance + 1.0
