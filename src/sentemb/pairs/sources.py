"""Online loaders for the BSC paper's pair datasets that the offline mirror lacks (methods.md §4.6).

Each source has two layers: ``fetch_<name>(cache_dir) -> Path`` downloads (and unzips) the
upstream files into ``cache_dir/<name>`` and writes ``provenance.json`` (URL, sha256, whether it
was pinned); ``read_<name>(root) -> PairTask`` parses them strictly: every malformed line raises
``DataError(path, reason, line)`` (for XML, the parser's line). ``PAIR_SOURCES`` maps a name to
``(fetch, read, kind)``; ``ranking_set`` gives the ``RankingSet`` a ranking split is scored on.

Labels are normalised to [0, 1] (methods.md §4.2): Antique (x-1)/3; CQA-A Good=1,
PotentiallyUseful=0, Bad=0; CQA-B PerfectMatch=1, Relevant=1, Irrelevant=0; QQP is_duplicate;
PFCC-S 1 for a tweet and the verified claim that debunks it. ``Pair.group`` is the query id.

Splits follow the official releases and, where it differs, what the BSC code (examples/*.ipynb
of github.com/aschern/BSC-loss) trained and evaluated on:

- QQP: GLUE's train/dev TSVs (GLUE's test is unlabelled). The paper trains on a 10k random
  sample of train and the code evaluates on a 3,000-pair sample of dev; both are drawn here by
  a seeded hash of the row id (see ``_sample``), stable across Python and numpy versions.
- Antique: official train and test qrels (27,422 / 6,589 pairs, the paper's "train / val").
- CQA-A / CQA-B: SemEval-2016 train-part1 (the code's training file; part2 can be added), 2016
  dev, and the SemEval-2017 test set with the gold labels of the official scorer package.
- PFCC-S: the CLEF-2020 CheckThat! Task 2 release of the Snopes tweet/verified-claim data
  (Shaar et al.), official train and dev; ranked against every verified claim.

No sha256 is pinned yet (nothing could be downloaded where this was written): ``download``
verifies a digest when given one, and otherwise returns the digest it computed and logs that
the file is unpinned; add it to ``PINNED_SHA256`` after checking the first download.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
import urllib.error
import urllib.request
import xml.parsers.expat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from sentemb.data.readers import norm, read_lines
from sentemb.errors import DataError
from sentemb.pairs.ranking import RankingSet, ranking_from_pairs
from sentemb.pairs.records import Pair, PairTask, TaskKind, make_pair
from sentemb.utils.io import atomic_dir, atomic_open, sha256_file, write_json

log = logging.getLogger(__name__)

# --- upstream locations ----------------------------------------------------------------------

# GLUE's QQP archive as listed in GLUE's download_glue_data.py, which the BSC code runs
# (examples/QQP.ipynb: ``download_glue_data.py --tasks QQP``). Holds QQP/{train,dev,test}.tsv.
QQP_URL = "https://dl.fbaipublicfiles.com/glue/data/QQP-clean.zip"
QQP_HEADER = ("id", "qid1", "qid2", "question1", "question2", "is_duplicate")
QQP_TRAIN_SIZE = 10_000  # the paper's "10k random training sample"
QQP_DEV_SIZE = 3_000  # examples/QQP.ipynb: ``data.sample(n=3000)`` of GLUE dev

# Antique's files on the authors' site, the URLs ir_datasets (ir_datasets/datasets/antique.py)
# and examples/Antique.ipynb download.
ANTIQUE_BASE_URL = "https://ciir.cs.umass.edu/downloads/Antique/"
ANTIQUE_COLLECTION = "antique-collection.txt"
ANTIQUE_SPLITS = ("train", "test")
ANTIQUE_GRADES = (1, 2, 3, 4)

# SemEval-2016 Task 3 train+dev v3.2 and the SemEval-2017 Task 3 test input, as several public
# loaders download them (alt.qcri.org/semeval2016/task3 and /semeval2017/task3 "data/uploads").
# The 2017 gold labels ship with the official scorer package ("_gold/*.relevancy", scored by
# its _scripts/run_scorer.sh); the test XML itself carries no labels.
CQA_TRAINDEV_URL = "http://alt.qcri.org/semeval2016/task3/data/uploads/semeval2016-task3-cqa-ql-traindev-v3.2.zip"
CQA_TEST_URL = "http://alt.qcri.org/semeval2017/task3/data/uploads/semeval2017_task3_test.zip"
CQA_GOLD_URL = "http://alt.qcri.org/semeval2017/task3/data/uploads/semeval2017_task3_submissions_and_scores.zip"
CQA_URLS = (CQA_TRAINDEV_URL, CQA_TEST_URL, CQA_GOLD_URL)
# File names inside those archives (examples/CQA-A.ipynb, CQA-B.ipynb; the 2017 scorer scripts).
CQA_A_FILES = {
    "train": ("SemEval2016-Task3-CQA-QL-train-part1-subtaskA.xml",),
    "dev": ("SemEval2016-Task3-CQA-QL-dev-subtaskA.xml",),
    "test": ("SemEval2017-task3-English-test-subtaskA.xml",),
}
CQA_A_GOLD = "SemEval2017-Task3-CQA-QL-test-subtaskA.xml.subtaskA.relevancy"
CQA_B_FILES = {
    "train": ("SemEval2016-Task3-CQA-QL-train-part1.xml",),
    "dev": ("SemEval2016-Task3-CQA-QL-dev.xml",),
    "test": ("SemEval2017-task3-English-test.xml",),
}
CQA_B_GOLD = "SemEval2017-Task3-CQA-QL-test.xml.subtaskB.relevancy"
CQA_A_LABELS = {"Good": 1.0, "PotentiallyUseful": 0.0, "Bad": 0.0}
CQA_B_LABELS = {"PerfectMatch": 1.0, "Relevant": 1.0, "Irrelevant": 0.0}
CQA_GOLD_LABELS = {"true": 1.0, "false": 0.0}
# The BSC code joins subject and body with the BERT separator token (``' [SEP] '.join(q)``).
CQA_SEP = " [SEP] "

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

# url -> sha256 of the verified download. Empty: fill from provenance.json after checking a first
# download; never invent a digest.
PINNED_SHA256: dict[str, str] = {}

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


# --- downloading -----------------------------------------------------------------------------


def download(url: str, dest: str | Path, sha256: str | None = None, timeout: float = 60.0) -> str:
    """Download ``url`` to ``dest`` atomically; return the file's sha256.

    The bytes go to a temporary sibling that is renamed over ``dest`` only when complete and,
    if ``sha256`` is given, matching; a mismatch raises ``DataError`` and leaves no file behind.
    With ``sha256=None`` the download is unpinned: it is logged, and the computed digest is
    returned for the caller to record in its provenance. Works with ``file://`` URLs.
    """
    if sha256 is not None and not _SHA256.fullmatch(sha256.lower()):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    dest = Path(dest)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_open(dest, "wb") as out:
            for block in iter(lambda: response.read(_CHUNK), b""):
                digest.update(block)
                out.write(block)
            actual = digest.hexdigest()
            if sha256 is not None and actual != sha256.lower():
                reason = f"sha256 mismatch: expected {sha256.lower()}, got {actual}; {dest.name} not written"
                raise DataError(url, reason)
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise DataError(url, f"download failed ({exc})") from None
    if sha256 is None:
        log.warning("%s is not pinned: downloaded with sha256 %s (record it in PINNED_SHA256)", url, actual)
    return actual


def _filename(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise ValueError(f"cannot take a file name from {url!r}")
    return name


def _safe_extract(archive: Path, target: Path) -> None:
    """Unzip ``archive`` into ``target`` (once), refusing members that would land outside it."""
    if target.exists():
        return
    try:
        with zipfile.ZipFile(archive) as zf, atomic_dir(target) as tmp:
            for member in zf.namelist():
                parts = PurePosixPath(member.replace("\\", "/")).parts
                if member.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise DataError(archive, f"unsafe member path {member!r} in archive")
            zf.extractall(tmp)
    except zipfile.BadZipFile as exc:
        raise DataError(archive, f"not a readable zip archive ({exc})") from None


def _fetch(cache_dir: str | Path, name: str, urls: tuple[str, ...], unzip: bool) -> Path:
    """Download ``urls`` into ``cache_dir/name`` (skipping files already there) and record provenance.

    Archives are kept under ``downloads/`` and unpacked next to it into a folder named after the
    archive; plain files land in ``cache_dir/name`` directly.
    """
    root = Path(cache_dir) / name
    records = []
    for url in urls:
        pinned = PINNED_SHA256.get(url)
        dest = (root / "downloads" if unzip else root) / _filename(url)
        if dest.exists():
            digest = sha256_file(dest)
            if pinned is not None and digest != pinned:
                raise DataError(dest, f"cached file has sha256 {digest}, pinned {pinned}; delete it to download again")
        else:
            digest = download(url, dest, pinned)
        if unzip:
            _safe_extract(dest, root / dest.name.removesuffix(".zip"))
        records.append({"url": url, "file": dest.relative_to(root).as_posix(), "sha256": digest,
                        "pinned": pinned is not None})
    write_json(root / "provenance.json", {"source": name, "files": records})
    return root


def fetch_qqp(cache_dir: str | Path, url: str = QQP_URL) -> Path:
    """Download and unpack GLUE's QQP archive into ``cache_dir/qqp``."""
    return _fetch(cache_dir, "qqp", (url,), unzip=True)


def fetch_antique(cache_dir: str | Path, base_url: str = ANTIQUE_BASE_URL) -> Path:
    """Download Antique's collection, queries and qrels into ``cache_dir/antique``."""
    names = [ANTIQUE_COLLECTION] + [f"antique-{s}{suffix}" for s in ANTIQUE_SPLITS
                                    for suffix in ("-queries.txt", ".qrel")]
    return _fetch(cache_dir, "antique", tuple(base_url + n for n in names), unzip=False)


def fetch_cqa(cache_dir: str | Path, urls: tuple[str, ...] = CQA_URLS) -> Path:
    """Download the SemEval-2016/2017 Task 3 archives (CQA-A and CQA-B share them)."""
    return _fetch(cache_dir, "semeval_cqa", urls, unzip=True)


def fetch_pfcc_s(cache_dir: str | Path, url: str = PFCC_S_URL) -> Path:
    """Download and unpack the CLEF-2020 Task 2 Snopes data into ``cache_dir/pfcc_s``."""
    return _fetch(cache_dir, "pfcc_s", (url,), unzip=True)


# --- shared reading helpers ------------------------------------------------------------------


def _find_one(root: Path, name: str) -> Path:
    """The single file called ``name`` under ``root`` (archives nest their files differently)."""
    matches = sorted(p for p in root.rglob(name) if p.is_file())
    if not matches:
        raise DataError(root, f"no file named {name} under this directory")
    if len(matches) > 1:
        listed = ", ".join(str(p.relative_to(root)) for p in matches)
        raise DataError(root, f"{name} is ambiguous: {listed}")
    return matches[0]


def _require_lines(path: Path) -> list[str]:
    lines = read_lines(path)
    if not lines:
        raise DataError(path, "empty file")
    return lines


@dataclass(frozen=True)
class _Text:
    text: str
    line: int


def _lookup(table: dict[str, _Text], key: str, what: str, source: Path, path: Path, line: int) -> str:
    """The text of ``key``; a missing key or an empty text is reported where it is used or defined."""
    if key not in table:
        raise DataError(path, f"{what} id {key!r} is not in {source.name}", line=line)
    entry = table[key]
    if not entry.text:
        raise DataError(source, f"{what} {key!r} has empty text (used at {path.name}:{line})", line=entry.line)
    return entry.text


# --- QQP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    key: str
    pair: Pair


def _read_qqp_file(path: Path) -> list[_Row]:
    """GLUE ``QQP/{train,dev}.tsv``: the header, then 6 tab-separated columns, no CSV quoting.

    GLUE's loaders read it with ``csv.QUOTE_NONE`` (as examples/QQP.ipynb does); a row with
    another column count is an error here instead of being dropped.
    """
    lines = _require_lines(path)
    if tuple(lines[0].split("\t")) != QQP_HEADER:
        raise DataError(path, f"header must be {chr(9).join(QQP_HEADER)!r}", line=1)
    rows: list[_Row] = []
    seen: set[str] = set()
    for number, line in enumerate(lines[1:], 2):
        cols = line.split("\t")
        if len(cols) != len(QQP_HEADER):
            raise DataError(path, f"expected {len(QQP_HEADER)} tab-separated columns, got {len(cols)}", line=number)
        if cols[5] not in ("0", "1"):
            raise DataError(path, f"is_duplicate {cols[5]!r} is not 0 or 1", line=number)
        if cols[0] in seen:
            raise DataError(path, f"duplicate id {cols[0]!r}", line=number)
        seen.add(cols[0])
        rows.append(_Row(cols[0], make_pair(cols[3], cols[4], float(cols[5]), path, number)))
    if not rows:
        raise DataError(path, "no rows after the header")
    return rows


def _sample(rows: list[_Row], size: int | None, seed: int, salt: str, path: Path) -> list[Pair]:
    """A seeded sample of ``size`` rows, kept in file order; ``None`` keeps every row.

    Rows are ordered by sha256 of ``"<seed>:<salt>:<row id>"`` and the first ``size`` taken: a
    uniform sample that depends only on the seed and the ids, never on a library's RNG stream.
    """
    if size is None:
        return [row.pair for row in rows]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"sample size must be a positive integer or None, got {size!r}")
    if size > len(rows):
        raise DataError(path, f"asked for a sample of {size} rows but the file has {len(rows)}")
    rank = {row.key: hashlib.sha256(f"{seed}:{salt}:{row.key}".encode()).digest() for row in rows}
    chosen = set(sorted(rank, key=rank.__getitem__)[:size])
    return [row.pair for row in rows if row.key in chosen]


def read_qqp(root: str | Path, train_size: int | None = QQP_TRAIN_SIZE, dev_size: int | None = QQP_DEV_SIZE,
             seed: int = 0) -> PairTask:
    """QQP as a classification task: seeded samples of GLUE train (10k) and dev (3k) by default."""
    root = Path(root)
    train_path, dev_path = _find_one(root, "train.tsv"), _find_one(root, "dev.tsv")
    splits = {
        "train": _sample(_read_qqp_file(train_path), train_size, seed, "train", train_path),
        "dev": _sample(_read_qqp_file(dev_path), dev_size, seed, "dev", dev_path),
    }
    return PairTask("qqp", "classification", splits)


# --- Antique ---------------------------------------------------------------------------------


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


# --- SemEval Task 3 CQA (XML) ----------------------------------------------------------------


@dataclass
class _Element:
    tag: str
    attrib: dict[str, str]
    line: int
    children: list[_Element] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def find(self, tag: str) -> _Element | None:
        return next((child for child in self.children if child.tag == tag), None)

    def findall(self, tag: str) -> list[_Element]:
        return [child for child in self.children if child.tag == tag]


def _parse_xml(path: Path) -> _Element:
    """Parse with expat, keeping each element's start line (ElementTree drops it)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True
    stack: list[_Element] = []
    roots: list[_Element] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        element = _Element(tag, attrib, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def data(text: str) -> None:
        if stack:
            stack[-1].parts.append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: stack.pop()
    parser.CharacterDataHandler = data
    try:
        parser.Parse(raw, True)
    except xml.parsers.expat.ExpatError as exc:
        reason = f"malformed XML: {xml.parsers.expat.ErrorString(exc.code)} (column {exc.offset + 1})"
        raise DataError(path, reason, line=exc.lineno) from None
    return roots[0]


def _child(element: _Element, tag: str, path: Path) -> _Element:
    found = element.find(tag)
    if found is None:
        raise DataError(path, f"<{element.tag}> has no <{tag}>", line=element.line)
    return found


def _attr(element: _Element, name: str, path: Path) -> str:
    if name not in element.attrib:
        raise DataError(path, f"<{element.tag}> has no {name} attribute", line=element.line)
    return element.attrib[name]


def _question(element: _Element, subject: str, body: str, sep: str, path: Path) -> str:
    """Subject and body joined as the BSC code does (``sep.join``); both empty is an error."""
    parts = [norm(_child(element, tag, path).text) for tag in (subject, body)]
    if not any(parts):
        raise DataError(path, f"<{element.tag}> has an empty {subject} and {body}", line=element.line)
    return sep.join(parts)


@dataclass(frozen=True)
class _Candidate:
    qid: str
    query: str
    cid: str
    text: str
    label: str | None  # the XML's relevance attribute; absent in the 2017 test input
    line: int


def _children(root: _Element, tag: str, path: Path) -> list[_Element]:
    found = root.findall(tag)
    if not found:
        raise DataError(path, f"no <{tag}> elements under <{root.tag}>", line=root.line)
    return found


def _cqa_a_candidates(path: Path, sep: str) -> list[_Candidate]:
    """Subtask A files: ``<Thread>`` = ``<RelQuestion RELQ_ID>`` + ``<RelComment RELC_ID RELC_RELEVANCE2RELQ>``s."""
    out: list[_Candidate] = []
    for thread in _children(_parse_xml(path), "Thread", path):
        question = _child(thread, "RelQuestion", path)
        qid = _attr(question, "RELQ_ID", path)
        query = _question(question, "RelQSubject", "RelQBody", sep, path)
        for comment in thread.findall("RelComment"):
            text = norm(_child(comment, "RelCText", path).text)
            out.append(_Candidate(qid, query, _attr(comment, "RELC_ID", path), text,
                                  comment.attrib.get("RELC_RELEVANCE2RELQ"), comment.line))
    return out


def _cqa_b_candidates(path: Path, sep: str) -> list[_Candidate]:
    """Full-format files: one ``<OrgQuestion ORGQ_ID>`` per related thread, each holding one
    ``<Thread>`` whose ``<RelQuestion RELQ_ID RELQ_RELEVANCE2ORGQ>`` is the candidate."""
    out: list[_Candidate] = []
    for original in _children(_parse_xml(path), "OrgQuestion", path):
        qid = _attr(original, "ORGQ_ID", path)
        query = _question(original, "OrgQSubject", "OrgQBody", sep, path)
        related = _child(_child(original, "Thread", path), "RelQuestion", path)
        text = _question(related, "RelQSubject", "RelQBody", sep, path)
        out.append(_Candidate(qid, query, _attr(related, "RELQ_ID", path), text,
                              related.attrib.get("RELQ_RELEVANCE2ORGQ"), related.line))
    return out


def _read_relevancy(path: Path) -> dict[tuple[str, str], tuple[float, int]]:
    """Scorer gold file: ``qid cid rank score true|false`` per line (the scorer's trec format)."""
    gold: dict[tuple[str, str], tuple[float, int]] = {}
    for number, line in enumerate(_require_lines(path), 1):
        tokens = line.split()
        if len(tokens) < 5:
            raise DataError(path, f"expected 'qid cid rank score true|false', got {len(tokens)} fields", line=number)
        if tokens[4] not in CQA_GOLD_LABELS:
            raise DataError(path, f"label {tokens[4]!r} is not true or false", line=number)
        key = (tokens[0], tokens[1])
        if key in gold:
            raise DataError(path, f"{key} listed twice (first on line {gold[key][1]})", line=number)
        gold[key] = (CQA_GOLD_LABELS[tokens[4]], number)
    return gold


def _label(cand: _Candidate, labels: dict[str, float], attribute: str, path: Path,
           gold: dict[tuple[str, str], tuple[float, int]] | None, gold_path: Path | None) -> float:
    """A candidate's label: from the gold file when there is one (and used up), else its XML attribute."""
    if gold is None:
        if cand.label not in labels:
            raise DataError(path, f"{attribute}={cand.label!r} is not one of {', '.join(labels)}", line=cand.line)
        return labels[cand.label]
    if (cand.qid, cand.cid) not in gold:
        raise DataError(path, f"candidate {cand.cid!r} of {cand.qid!r} has no line in {gold_path.name}",
                        line=cand.line)
    return gold.pop((cand.qid, cand.cid))[0]


def _cqa_pairs(path: Path, candidates: list[_Candidate], labels: dict[str, float], attribute: str,
               gold_path: Path | None = None, skip_empty: bool = False) -> list[Pair]:
    """Label the candidates from their XML attribute, or from the gold file when one is given.

    With gold, every candidate needs a gold line and every gold line a candidate. An empty
    candidate text is an error unless ``skip_empty``, which drops it (and its gold line).
    """
    gold = _read_relevancy(gold_path) if gold_path is not None else None
    pairs: list[Pair] = []
    seen: set[tuple[str, str]] = set()
    skipped = 0
    for cand in candidates:
        if (cand.qid, cand.cid) in seen:
            raise DataError(path, f"candidate {cand.cid!r} of {cand.qid!r} appears twice", line=cand.line)
        seen.add((cand.qid, cand.cid))
        label = _label(cand, labels, attribute, path, gold, gold_path)
        if not cand.text and not skip_empty:
            raise DataError(path, f"candidate {cand.cid!r} has empty text", line=cand.line)
        if not cand.text:
            skipped += 1
            continue
        pairs.append(make_pair(cand.query, cand.text, label, path, cand.line, group=cand.qid))
    if gold:
        (qid, cid), (_label_value, line) = min(gold.items(), key=lambda item: item[1][1])
        raise DataError(gold_path, f"({qid}, {cid}) matches no candidate in {path.name}", line=line)
    if skipped:
        log.warning("%s: skipped %d candidates with empty text", path, skipped)
    return pairs


def _read_cqa(root: str | Path, name: str, files: dict[str, tuple[str, ...]], gold_name: str,
              candidates: Callable[[Path, str], list[_Candidate]], labels: dict[str, float], attribute: str,
              sep: str, skip_empty: bool) -> PairTask:
    root = Path(root)
    splits: dict[str, list[Pair]] = {}
    for split, names in files.items():
        gold = _find_one(root, gold_name) if split == "test" else None
        splits[split] = []
        for file_name in names:
            path = _find_one(root, file_name)
            splits[split] += _cqa_pairs(path, candidates(path, sep), labels, attribute, gold, skip_empty)
    return PairTask(name, "ranking", splits)


def read_cqa_a(root: str | Path, train_files: tuple[str, ...] = CQA_A_FILES["train"], sep: str = CQA_SEP,
               skip_empty_comments: bool = False) -> PairTask:
    """SemEval Task 3 subtask A (question -> its thread's comments); group = RELQ_ID.

    Train defaults to 2016 train-part1 (the BSC code's 14,110 pairs); pass the part2 file name
    too for the full official train. Test labels come from the 2017 scorer's gold file.
    """
    files = {**CQA_A_FILES, "train": tuple(train_files)}
    return _read_cqa(root, "cqa_a", files, CQA_A_GOLD, _cqa_a_candidates, CQA_A_LABELS, "RELC_RELEVANCE2RELQ",
                     sep, skip_empty_comments)


def read_cqa_b(root: str | Path, train_files: tuple[str, ...] = CQA_B_FILES["train"], sep: str = CQA_SEP) -> PairTask:
    """SemEval Task 3 subtask B (original question -> related questions); group = ORGQ_ID."""
    files = {**CQA_B_FILES, "train": tuple(train_files)}
    return _read_cqa(root, "cqa_b", files, CQA_B_GOLD, _cqa_b_candidates, CQA_B_LABELS, "RELQ_RELEVANCE2ORGQ",
                     sep, False)


# --- PFCC-S ----------------------------------------------------------------------------------


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


# --- dispatch --------------------------------------------------------------------------------


class PairSource(NamedTuple):
    fetch: Callable[[str | Path], Path]
    read: Callable[[str | Path], PairTask]
    kind: TaskKind


PAIR_SOURCES: dict[str, PairSource] = {
    "qqp": PairSource(fetch_qqp, read_qqp, "classification"),
    "antique": PairSource(fetch_antique, read_antique, "ranking"),
    "cqa_a": PairSource(fetch_cqa, read_cqa_a, "ranking"),
    "cqa_b": PairSource(fetch_cqa, read_cqa_b, "ranking"),
    "pfcc_s": PairSource(fetch_pfcc_s, read_pfcc_s, "ranking"),
}

# Gains for nDCG@1 where the stored relevance is not trec_eval's gain (see ranking.ndcg_at_1).
NDCG_GAINS: dict[str, Callable[[float], float]] = {"antique": antique_gain}


def ranking_set(name: str, root: str | Path, task: PairTask, split: str) -> RankingSet:
    """The RankingSet a ranking task's ``split`` is scored on (methods.md §4.6).

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
