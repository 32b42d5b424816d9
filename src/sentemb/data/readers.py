"""Strict parsers for the raw training and evaluation files (docs/methods.md §0.1, docs/protocol.md §B.4-B.5).

Each reader reproduces what SimCSE's SentEval loader extracts from a file (same columns, same
encoding, same rows kept or dropped, texts whitespace-normalised as its batcher re-joins them),
but where SentEval would crash later, silently mis-align or parse garbage, we raise
``DataError(path, reason, line=N)`` with the 1-based physical line instead.

Files are read as bytes and decoded once, so an undecodable byte is reported with its line.
Files SentEval opens as latin-1 (MR, CR, SUBJ, MPQA, TREC) are decoded as latin-1, which
cannot fail: the ``cat -v`` preprocessing left ``M-`` escapes in them (docs/protocol.md §B.5 item 9).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from sentemb.data.records import Example
from sentemb.errors import DataError

UTF8 = "utf-8"
LATIN1 = "latin-1"

NLI_HEADER = ("sent0", "sent1", "hard_neg")
TREC_CLASSES = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")

# SentEval reads STS and MR/CR/SUBJ/MPQA with ``read().splitlines()``, which also breaks on
# these characters; one of them inside a line would shift every later pair against its gold
# score, so we refuse them rather than guess. Other files are read with ``for line in f``
# (universal newlines), where only a lone carriage return would split a line.
_SPLITLINES_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_LONE_CR = re.compile("\r")


def norm(text: str) -> str:
    """Whitespace-normalise as SimCSE's batcher does (``" ".join(s.split())``, docs/methods.md §0.1)."""
    return " ".join(text.split())


def _decode(path: Path, encoding: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(
            path, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at column {column})", line=line
        ) from None


def read_lines(path: Path, encoding: str = UTF8, splitlines: bool = False) -> list[str]:
    """Physical lines of ``path`` without their terminators (``\\n`` or ``\\r\\n``).

    A final newline does not start an extra line, matching both ``splitlines`` and iteration.
    ``splitlines=True`` also refuses the extra breaks ``str.splitlines`` honours (see above).
    """
    text = _decode(path, encoding)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    pattern = _SPLITLINES_BREAKS if splitlines else _LONE_CR
    if pattern.search(text):
        for number, line in enumerate(lines, 1):
            found = pattern.search(line)
            if found:
                reason = f"stray line-break character {found.group()!r} inside a line"
                raise DataError(path, reason, line=number)
    return lines


def _require_lines(path: Path, lines: list[str]) -> list[str]:
    if not lines:
        raise DataError(path, "empty file")
    return lines


def parse_score(text: str, path: Path, line: int, low: float, high: float) -> float:
    """A gold score as SentEval's ``float(x)``, but bounded: garbage never becomes a label."""
    try:
        value = float(text)
    except ValueError:
        raise DataError(path, f"score {text!r} is not a number", line=line) from None
    if not low <= value <= high:  # also rejects nan
        raise DataError(path, f"score {text!r} outside [{low:g}, {high:g}]", line=line)
    return value


def _binary_label(text: str, path: Path, line: int) -> int:
    if text not in ("0", "1"):
        raise DataError(path, f"label {text!r} is not 0 or 1", line=line)
    return int(text)


def _pair(a: str, b: str, path: Path, line: int) -> tuple[str, str]:
    text_a, text_b = norm(a), norm(b)
    if not text_a or not text_b:
        raise DataError(path, "empty sentence in a pair", line=line)
    return text_a, text_b


def _columns(line: str, minimum: int, path: Path, number: int) -> list[str]:
    # SentEval's ``line.strip().split('\t')``: tab-separated, never CSV quoting (§B.4: STS-B
    # has stray quotes that a CSV parser would swallow across lines).
    cols = line.strip().split("\t")
    if len(cols) < minimum:
        reason = f"expected at least {minimum} tab-separated columns, got {len(cols)}"
        raise DataError(path, reason, line=number)
    return cols


# --- training data -------------------------------------------------------------------------


def read_wiki(path: Path) -> list[str]:
    """``wiki1m_for_simcse.txt``: one sentence per line; a blank line is corruption."""
    out: list[str] = []
    for number, line in enumerate(read_lines(path), 1):
        text = norm(line)
        if not text:
            raise DataError(path, "empty line (expected one sentence per line)", line=number)
        out.append(text)
    if not out:
        raise DataError(path, "no sentences")
    return out


def read_nli(path: Path) -> list[tuple[str, str, str]]:
    """``nli_for_simcse.csv``: header ``sent0,sent1,hard_neg`` then one quoted-CSV triplet per row."""
    lines = read_lines(path)
    if not lines:
        raise DataError(path, "empty file (expected header 'sent0,sent1,hard_neg')")
    reader = csv.reader((line + "\n" for line in lines), strict=True)
    rows: list[tuple[str, str, str]] = []
    start = 1  # physical line where the current record begins (records may span lines)
    try:
        for record in reader:
            rows.append(_nli_record(record, path, start))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(path, f"malformed CSV ({exc})", line=start) from None
    return rows[1:]


def _nli_record(record: list[str], path: Path, line: int) -> tuple[str, str, str]:
    if line == 1:
        if tuple(record) != NLI_HEADER:
            got = ",".join(record)
            raise DataError(path, f"header must be exactly 'sent0,sent1,hard_neg', got {got!r}", line=1)
        return NLI_HEADER
    if len(record) != 3:
        raise DataError(path, f"expected 3 columns (sent0,sent1,hard_neg), got {len(record)}", line=line)
    cells = tuple(norm(cell) for cell in record)
    for name, cell in zip(NLI_HEADER, cells):
        if not cell:
            raise DataError(path, f"empty cell in column {name}", line=line)
    return cells  # type: ignore[return-value]


# --- STS (docs/methods.md §0.1) -----------------------------------------------------------------


def read_sts_subset(input_path: Path, gold_path: Path) -> list[Example]:
    """One ``STS.input.<subset>.txt`` + ``STS.gs.<subset>.txt``; pairs with an empty gold are dropped."""
    inputs = read_lines(input_path, splitlines=True)
    golds = read_lines(gold_path, splitlines=True)
    if len(inputs) != len(golds):
        (short, n), (other, m) = sorted([(input_path, len(inputs)), (gold_path, len(golds))],
                                        key=lambda item: item[1])
        raise DataError(short, f"file ends after {n} lines but {other.name} has {m}", line=n + 1)
    _require_lines(input_path, inputs)
    out: list[Example] = []
    for number, (pair, gold) in enumerate(zip(inputs, golds), 1):
        cols = pair.split("\t")
        if len(cols) != 2:
            reason = f"expected 2 tab-separated sentences, got {len(cols)} columns"
            raise DataError(input_path, reason, line=number)
        if gold == "":
            continue  # unscored pair: SentEval drops it (docs/protocol.md §B.5 item 8), never 0
        score = parse_score(gold, gold_path, number, 0.0, 5.0)
        text_a, text_b = _pair(cols[0], cols[1], input_path, number)
        out.append(Example(text_a=text_a, label=score, text_b=text_b))
    return out


def read_stsb(path: Path) -> list[Example]:
    """``sts-{train,dev,test}.csv``: column 4 score in [0, 5], columns 5 and 6 the sentences."""
    out: list[Example] = []
    for number, line in enumerate(_require_lines(path, read_lines(path)), 1):
        cols = _columns(line, 7, path, number)
        score = parse_score(cols[4], path, number, 0.0, 5.0)
        text_a, text_b = _pair(cols[5], cols[6], path, number)
        out.append(Example(text_a=text_a, label=score, text_b=text_b))
    return out


def read_sick(path: Path) -> list[Example]:
    """``SICK_*.txt``: header line skipped; columns 1, 2 sentences, 3 relatedness in [1, 5]."""
    lines = _require_lines(path, read_lines(path))
    out: list[Example] = []
    for number, line in enumerate(lines[1:], 2):
        cols = _columns(line, 4, path, number)
        score = parse_score(cols[3], path, number, 1.0, 5.0)
        text_a, text_b = _pair(cols[1], cols[2], path, number)
        out.append(Example(text_a=text_a, label=score, text_b=text_b))
    return out


# --- transfer tasks (docs/methods.md §0.3) ------------------------------------------------------


def read_binary(first: Path, second: Path) -> list[Example]:
    """MR/CR/SUBJ/MPQA: label 1 for every line of ``first``, then 0 for ``second``.

    Blank lines are samples, as in SentEval (CR's 3775 examples are every line of its files).
    """
    out: list[Example] = []
    for path, label in ((first, 1), (second, 0)):
        lines = _require_lines(path, read_lines(path, LATIN1, splitlines=True))
        out.extend(Example(text_a=norm(line), label=label) for line in lines)
    return out


def read_sst2(path: Path) -> list[Example]:
    """``SST/binary/sentiment-*``: ``sentence<TAB>label`` with label 0 or 1."""
    out: list[Example] = []
    for number, line in enumerate(_require_lines(path, read_lines(path)), 1):
        cols = line.strip().split("\t")
        if len(cols) != 2:
            raise DataError(path, f"expected 'sentence<TAB>label', got {len(cols)} columns", line=number)
        out.append(Example(text_a=norm(cols[0]), label=_binary_label(cols[1], path, number)))
    return out


def read_trec(path: Path) -> list[Example]:
    """``TREC/*.label`` (latin-1): ``COARSE:fine question ...``, label = index of COARSE."""
    out: list[Example] = []
    for number, line in enumerate(_require_lines(path, read_lines(path, LATIN1)), 1):
        coarse, colon, rest = line.strip().partition(":")
        if not colon:
            raise DataError(path, "expected 'COARSE:fine question', found no ':'", line=number)
        if coarse not in TREC_CLASSES:
            reason = f"unknown class {coarse!r} (expected one of {', '.join(TREC_CLASSES)})"
            raise DataError(path, reason, line=number)
        _fine, space, question = rest.partition(" ")
        if not space or not norm(question):
            raise DataError(path, "missing question text after the fine label", line=number)
        out.append(Example(text_a=norm(question), label=TREC_CLASSES.index(coarse)))
    return out


def read_mrpc(path: Path) -> list[Example]:
    """``msr_paraphrase_*.txt``: header (with a UTF-8 BOM) skipped; column 0 label, 3 and 4 sentences."""
    lines = _require_lines(path, read_lines(path))
    out: list[Example] = []
    for number, line in enumerate(lines[1:], 2):
        cols = _columns(line, 5, path, number)
        label = _binary_label(cols[0], path, number)
        text_a, text_b = _pair(cols[3], cols[4], path, number)
        out.append(Example(text_a=text_a, label=label, text_b=text_b))
    return out
