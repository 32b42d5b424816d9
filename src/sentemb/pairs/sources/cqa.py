"""SemEval Task 3 community question answering, subtasks A (CQA-A) and B (CQA-B), ranking tasks
(docs/methods.md §4.6). The files are XML, parsed with expat so that errors carry the parser's line.

Labels: CQA-A Good=1, PotentiallyUseful=0, Bad=0; CQA-B PerfectMatch=1, Relevant=1,
Irrelevant=0. ``Pair.group`` is the query id (RELQ_ID for A, ORGQ_ID for B). Splits:
SemEval-2016 train-part1 (the BSC code's training file, examples/CQA-A.ipynb and CQA-B.ipynb of
github.com/aschern/BSC-loss; part2 can be added), 2016 dev, and the SemEval-2017 test set with
the gold labels of the official scorer package.
"""

from __future__ import annotations

import logging
import xml.parsers.expat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sentemb.data.readers import norm
from sentemb.errors import DataError
from sentemb.pairs.records import Pair, PairTask, make_pair
from sentemb.pairs.sources.common import _find_one, _require_lines
from sentemb.pairs.sources.download import _fetch

log = logging.getLogger(__name__)

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


def fetch_cqa(cache_dir: str | Path, urls: tuple[str, ...] = CQA_URLS) -> Path:
    """Download the SemEval-2016/2017 Task 3 archives (CQA-A and CQA-B share them)."""
    return _fetch(cache_dir, "semeval_cqa", urls, unzip=True)


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
