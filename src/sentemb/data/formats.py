"""The seven STS tasks read from the layouts people actually have, returned as the same ``TaskData``.

``senteval.read_raw_task`` reads SentEval's processed copy (``senteval``: the ``downstream`` tree
of senteval.tar, lower-cased and Moses-tokenised). This module adds two more layouts of the same
seven tasks (STS12-16, STSBenchmark, SICKRelatedness) and gives back the split names the rest of
the code already knows, so that the evaluator cannot tell which layout a task came from except by
its text (and, for MTEB, by the documented split differences below).

``official``: the files as the task organisers published them, each archive unpacked under one
root, either directly or inside a folder named after the archive (both are what ``unzip`` gives
with or without ``-d``; finding both at once is refused as ambiguous)::

    STS12  <root>/[STS2012-en-test/]test-gold/STS.{input,gs}.<subset>.txt
    STS13  <root>/[STS2013-en-test/]test-gs/STS.{input,gs}.<subset>.txt   (no SMT: input not shipped)
    STS14  <root>/[STS2014-en-test/]sts-en-test-gs-2014/STS.{input,gs}.<subset>.txt
    STS15  <root>/[STS2015-en-test/]test_evaluation_task2a/STS.{input,gs}.<subset>.txt
    STS16  <root>/[STS2016-en-test/]sts2016-english-with-gs-v1.0/STS2016.{input,gs}.<subset>.txt
    STS-B  <root>/[Stsbenchmark/]stsbenchmark/sts-{train,dev,test}.csv
    SICK   <root>/SICK.txt (full SICK distribution, split by its SemEval_set column), or
           <root>/SICK_{train,trial,test_annotated}.txt (the SemEval-2014 task 1 release)

Subsets and the rows kept are SentEval's: blank gold lines are unscored pairs and dropped. Input
lines have two tab-separated fields, except STS 2016's four (two sentences, two source notes,
which are ignored). The texts are raw (cased, untokenised), so scores differ from SentEval's
numbers while the pairs, their order and their gold scores are the same. The SICK SemEval-2014
files are already "official" and byte-for-byte what SentEval reads; ``SICK.txt`` is supported too.

``mteb``: the MTEB copies from the hub, ``<root>/<repo>/<split>.jsonl.gz`` with repo one of
``MTEB_REPOS``; each line a JSON object with ``sentence1``, ``sentence2`` and ``score``. Texts are
used as given (only whitespace-joined, as for every layout). Split differences, by design:

* STS12-16 have no subsets in MTEB: one split ``test`` (any ``train.jsonl.gz`` is ignored), so
  the ``all`` aggregation equals MTEB's single correlation.
* STSBenchmark: ``train``/``validation``/``test`` become ``train``/``dev``/``test``.
* SICKRelatedness: MTEB's test file is the whole SICK corpus (9,927 pairs), not SentEval's 4,927
  test pairs, so it is returned as split ``full`` (``MTEB_SICK_SPLIT``) and never as ``test``:
  nothing that reports SICK-R test can pick it up by mistake.

``detect_layout`` tells the three apart; ``read_task`` dispatches.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentemb.config import suggest
from sentemb.data import readers, senteval
from sentemb.data.records import Example, TaskData
from sentemb.data.tasks import family, get_task
from sentemb.errors import ConfigError, DataError

LAYOUTS = ("senteval", "official", "mteb")
FORMAT_TASKS = tuple(family("sts"))  # the tasks the official and mteb layouts hold


# --- official: STS 2012-2016 -----------------------------------------------------------------


@dataclass(frozen=True)
class OfficialYear:
    archive: str  # the zip's name without .zip, also accepted as a parent folder
    folder: str  # the folder the zip unpacks to (SentEval's download script renames it)
    prefix: str  # file names are <prefix>.input.<subset>.txt and <prefix>.gs.<subset>.txt
    fields: int  # tab-separated fields per input line, as each year's readme documents


OFFICIAL_STS: dict[str, OfficialYear] = {
    "STS12": OfficialYear("STS2012-en-test", "test-gold", "STS", 2),
    "STS13": OfficialYear("STS2013-en-test", "test-gs", "STS", 2),
    "STS14": OfficialYear("STS2014-en-test", "sts-en-test-gs-2014", "STS", 2),
    "STS15": OfficialYear("STS2015-en-test", "test_evaluation_task2a", "STS", 2),
    "STS16": OfficialYear("STS2016-en-test", "sts2016-english-with-gs-v1.0", "STS2016", 4),
}
OFFICIAL_STSB = ("stsbenchmark", "Stsbenchmark/stsbenchmark")
SICK_TXT = "SICK.txt"
SICK_SEMEVAL = {"train": "SICK_train.txt", "dev": "SICK_trial.txt", "test": "SICK_test_annotated.txt"}
SICK_HEADER = ("pair_ID", "sentence_A", "sentence_B", "entailment_label", "relatedness_score",
               "entailment_AB", "entailment_BA", "sentence_A_original", "sentence_B_original",
               "sentence_A_dataset", "sentence_B_dataset", "SemEval_set")
SICK_SETS = {"TRAIN": "train", "TRIAL": "dev", "TEST": "test"}


def _one_of(root: Path, candidates: tuple[str, ...], what: str, hint: str) -> Path:
    """The single existing candidate; none or several is an error, as guessing could read the wrong copy."""
    found = [root / c for c in candidates if (root / c).exists()]
    if len(found) == 1:
        return found[0]
    if found:
        raise DataError(root, f"{what} found twice ({', '.join(map(str, found))}); keep one")
    others = ", ".join(str(root / c) for c in candidates[1:])
    raise DataError(root / candidates[0], f"{what} not found (nor {others}); {hint}")


def official_sts_dir(task: str, root: Path) -> Path:
    """Where one year's zip was unpacked under ``root`` (see the module docstring)."""
    year = OFFICIAL_STS[task]
    candidates = (year.folder, f"{year.archive}/{year.folder}")
    return _one_of(Path(root), candidates, f"{task} folder", f"unzip {year.archive}.zip in {root}")


def _aligned(input_path: Path, inputs: list[str], gold_path: Path, golds: list[str]) -> None:
    # A missing line anywhere would pair every later sentence with the wrong score.
    if len(inputs) != len(golds):
        (short, n), (other, m) = sorted([(input_path, len(inputs)), (gold_path, len(golds))],
                                        key=lambda item: item[1])
        raise DataError(short, f"file ends after {n} lines but {other.name} has {m}", line=n + 1)
    if not inputs:
        raise DataError(input_path, "empty file")


def read_official_sts_subset(input_path: Path, gold_path: Path, fields: int = 2) -> list[Example]:
    """One published input/gold file pair; ``fields`` is 4 for STS 2016 (notes ignored), else 2.

    Input lines are split on newlines only, as SentEval's ``cut`` saw them before its tokenizer
    turned any other whitespace into spaces; the gold files are the very bytes SentEval reads, so
    they are read as ``readers.read_sts_subset`` reads them. Unscored (blank gold) pairs are dropped.
    """
    inputs = readers.read_lines(input_path)
    golds = readers.read_lines(gold_path, splitlines=True)
    _aligned(input_path, inputs, gold_path, golds)
    out: list[Example] = []
    for number, (pair, gold) in enumerate(zip(inputs, golds), 1):
        cols = pair.split("\t")
        if len(cols) != fields:
            what = "2 sentences and 2 source notes" if fields == 4 else "2 sentences"
            reason = f"expected {fields} tab-separated fields ({what}), got {len(cols)}"
            raise DataError(input_path, reason, line=number)
        if gold == "":
            continue
        score = readers.parse_score(gold, gold_path, number, 0.0, 5.0)
        text_a, text_b = readers._pair(cols[0], cols[1], input_path, number)
        out.append(Example(text_a=text_a, label=score, text_b=text_b))
    return out


def read_official_sts(task: str, root: Path) -> TaskData:
    """STS12-16 as published: SentEval's subsets (and subset order) from the year's folder."""
    year = OFFICIAL_STS[task]
    folder = official_sts_dir(task, root)
    splits = {}
    for subset in get_task(task).splits:
        input_path = folder / f"{year.prefix}.input.{subset}.txt"
        gold_path = folder / f"{year.prefix}.gs.{subset}.txt"
        splits[subset] = read_official_sts_subset(input_path, gold_path, year.fields)
    return TaskData(name=task, kind="sts", splits=splits)


# --- official: STS-B and SICK ----------------------------------------------------------------


def read_official_stsb(root: Path) -> TaskData:
    """STS-B as released: ``readers.read_stsb`` already reads its tab-separated, unquoted columns."""
    folder = _one_of(Path(root), OFFICIAL_STSB, "stsbenchmark folder", f"untar Stsbenchmark.tar.gz in {root}")
    splits = {split: readers.read_stsb(folder / f"sts-{split}.csv") for split in ("train", "dev", "test")}
    return TaskData(name="STSBenchmark", kind="sts", splits=splits)


def _sick_header(path: Path, lines: list[str]) -> None:
    if not lines:
        raise DataError(path, "empty file")
    header = tuple(lines[0].lstrip("\ufeff").strip().split("\t"))
    if header != SICK_HEADER:
        raise DataError(path, f"header must be the 12 SICK.txt columns ({' '.join(SICK_HEADER)})", line=1)


def _sick_row(line: str, path: Path, number: int) -> tuple[str, int, Example]:
    cols = line.strip().split("\t")
    if len(cols) != len(SICK_HEADER):
        raise DataError(path, f"expected {len(SICK_HEADER)} tab-separated columns, got {len(cols)}", line=number)
    if not cols[0].isdigit():
        raise DataError(path, f"pair_ID {cols[0]!r} is not a positive integer", line=number)
    if cols[11] not in SICK_SETS:
        raise DataError(path, f"SemEval_set {cols[11]!r} is not one of {', '.join(SICK_SETS)}", line=number)
    score = readers.parse_score(cols[4], path, number, 1.0, 5.0)
    text_a, text_b = readers._pair(cols[1], cols[2], path, number)
    return SICK_SETS[cols[11]], int(cols[0]), Example(text_a=text_a, label=score, text_b=text_b)


def read_sick_txt(path: Path) -> dict[str, list[Example]]:
    """``SICK.txt`` split by ``SemEval_set`` (TRAIN/TRIAL/TEST -> train/dev/test).

    Each split is put in pair_ID order, the order of the SemEval-2014 files SentEval reads, so
    the splits equal SICK_train/trial/test_annotated whatever order SICK.txt lists its rows in.
    """
    lines = readers.read_lines(path)
    _sick_header(path, lines)
    rows: dict[str, list[tuple[int, Example]]] = {split: [] for split in SICK_SETS.values()}
    seen: dict[int, int] = {}
    for number, line in enumerate(lines[1:], 2):
        split, pair_id, example = _sick_row(line, path, number)
        if pair_id in seen:
            raise DataError(path, f"pair_ID {pair_id} repeated (first on line {seen[pair_id]})", line=number)
        seen[pair_id] = number
        rows[split].append((pair_id, example))
    for split, found in rows.items():
        if not found:
            raise DataError(path, f"no {split} rows (SemEval_set column): truncated file?")
    return {split: [ex for _, ex in sorted(found, key=lambda item: item[0])] for split, found in rows.items()}


def read_official_sick(root: Path) -> TaskData:
    """SICK from ``SICK.txt`` or from the SemEval-2014 files, whichever one of the two is there."""
    root = Path(root)
    has_txt = (root / SICK_TXT).exists()
    semeval = [root / name for name in SICK_SEMEVAL.values() if (root / name).exists()]
    if has_txt and semeval:
        raise DataError(root, f"both {SICK_TXT} and {semeval[0].name} found; keep one of the two SICK releases")
    if has_txt:
        splits = read_sick_txt(root / SICK_TXT)
    elif semeval:
        splits = {split: readers.read_sick(root / name) for split, name in SICK_SEMEVAL.items()}
    else:
        names = ", ".join(SICK_SEMEVAL.values())
        raise DataError(root / SICK_TXT, f"SICK not found (nor {names} in {root})")
    return TaskData(name="SICKRelatedness", kind="sts", splits=splits)


def read_official(task: str, root: Path) -> TaskData:
    if task in OFFICIAL_STS:
        return read_official_sts(task, root)
    if task == "STSBenchmark":
        return read_official_stsb(root)
    return read_official_sick(root)


# --- mteb ------------------------------------------------------------------------------------

MTEB_REPOS = {"STS12": "sts12-sts", "STS13": "sts13-sts", "STS14": "sts14-sts", "STS15": "sts15-sts",
              "STS16": "sts16-sts", "STSBenchmark": "stsbenchmark-sts", "SICKRelatedness": "sickr-sts"}
MTEB_SICK_SPLIT = "full"
# Per task: {our split: file stem under <root>/<repo>/}.
MTEB_SPLITS: dict[str, dict[str, str]] = {
    **{task: {"test": "test"} for task in OFFICIAL_STS},
    "STSBenchmark": {"train": "train", "dev": "validation", "test": "test"},
    "SICKRelatedness": {MTEB_SICK_SPLIT: "test"},
}
MTEB_KNOWN_SIZES: dict[str, dict[str, int]] = {
    "STS12": {"test": 3108}, "STS13": {"test": 1500}, "STS14": {"test": 3750}, "STS15": {"test": 3000},
    "STS16": {"test": 1186}, "STSBenchmark": {"train": 5749, "dev": 1500, "test": 1379},
    "SICKRelatedness": {MTEB_SICK_SPLIT: 9927},
}
_MTEB_KEYS = ("sentence1", "sentence2", "score")


def _gunzip_lines(path: Path) -> list[str]:
    """Lines of a gzip-compressed UTF-8 text; JSON strings cannot hold a raw newline, so split on it."""
    try:
        data = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(path, f"not a complete gzip file ({exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(path, f"invalid UTF-8 (byte 0x{data[exc.start]:02x})", line=line) from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _mteb_object(line: str, path: Path, number: int) -> dict[str, Any]:
    if not line.strip():
        raise DataError(path, "empty line (expected one JSON object per line)", line=number)
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON ({exc.msg})", line=number) from None
    if not isinstance(obj, dict):
        raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", line=number)
    missing = [key for key in _MTEB_KEYS if key not in obj]
    if missing:
        raise DataError(path, f"missing key(s) {', '.join(missing)}", line=number)
    return obj


def _mteb_example(obj: dict[str, Any], path: Path, number: int, low: float, high: float) -> Example:
    score = obj["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise DataError(path, f"score {score!r} is not a number", line=number)
    if not low <= score <= high:  # also rejects NaN and Infinity, which json.loads accepts
        raise DataError(path, f"score {score!r} outside [{low:g}, {high:g}]", line=number)
    for key in ("sentence1", "sentence2"):
        if not isinstance(obj[key], str):
            raise DataError(path, f"{key} is {type(obj[key]).__name__}, not a string", line=number)
    text_a, text_b = readers._pair(obj["sentence1"], obj["sentence2"], path, number)
    return Example(text_a=text_a, label=float(score), text_b=text_b)


def read_mteb_file(path: Path, low: float = 0.0, high: float = 5.0) -> list[Example]:
    """One ``<split>.jsonl.gz``: a pair per line, the score bounded as the task's gold scale is."""
    lines = _gunzip_lines(path)
    if not lines:
        raise DataError(path, "empty file")
    return [_mteb_example(_mteb_object(line, path, n), path, n, low, high) for n, line in enumerate(lines, 1)]


def read_mteb(task: str, root: Path) -> TaskData:
    """One task from ``<root>/<repo>/``; SICK-R scores are relatedness on SICK's 1-5 scale."""
    repo = Path(root) / MTEB_REPOS[task]
    if not repo.is_dir():
        raise DataError(repo, f"folder not found: download mteb/{MTEB_REPOS[task]} there")
    low = 1.0 if task == "SICKRelatedness" else 0.0
    splits = {split: read_mteb_file(repo / f"{stem}.jsonl.gz", low, 5.0) for split, stem in MTEB_SPLITS[task].items()}
    return TaskData(name=task, kind="sts", splits=splits)


def known_sizes(task: str, layout: str) -> dict[str, int]:
    """Pairs per split each layout should give: MTEB's differ (no subsets, whole-SICK split)."""
    if layout == "mteb":
        return dict(MTEB_KNOWN_SIZES[task])
    return {split: s.size for split, s in get_task(task).splits.items()}


# --- detection and dispatch ------------------------------------------------------------------


def _markers() -> dict[str, tuple[str, ...]]:
    """Paths any one of which marks a layout; each is named only by its own layout."""
    official = [c for year in OFFICIAL_STS.values() for c in (year.folder, f"{year.archive}/{year.folder}")]
    return {
        "senteval": (*(f"STS/{t}-en-test" for t in OFFICIAL_STS), "STS/STSBenchmark", "SICK/SICK_train.txt"),
        "official": (*official, *OFFICIAL_STSB, SICK_TXT, *SICK_SEMEVAL.values()),
        "mteb": tuple(MTEB_REPOS.values()),
    }


_LOOKED_FOR = ("SentEval's STS/STS12-en-test/ .. STS/STSBenchmark/ or SICK/SICK_train.txt; "
               "the organisers' test-gold/, test-gs/, sts-en-test-gs-2014/, test_evaluation_task2a/, "
               "sts2016-english-with-gs-v1.0/ (or inside STS20XX-en-test/), stsbenchmark/, SICK.txt "
               "or SICK_train.txt; or MTEB's sts12-sts/ .. sickr-sts/")


def detect_layout(root: str | Path) -> str:
    """``senteval``, ``official`` or ``mteb``, from the folders and files found directly under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "data directory not found")
    found = [layout for layout, marks in _markers().items() if any((root / m).exists() for m in marks)]
    if len(found) == 1:
        return found[0]
    if found:
        raise DataError(root, f"holds files of several layouts ({', '.join(found)}); pass the layout explicitly")
    hint = " (a SentEval tree is its senteval/downstream folder)" if (root / "senteval/downstream").is_dir() else ""
    raise DataError(root, f"no known data layout: looked for {_LOOKED_FOR}{hint}")


_READERS: dict[str, Callable[[str, Path], TaskData]] = {"official": read_official, "mteb": read_mteb}


def _check_name(name: str, layout: str) -> None:
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown data layout '{layout}'" + suggest(layout, LAYOUTS))
    if name in family("transfer") and layout != "senteval":
        raise ConfigError(f"task '{name}' is not in the {layout} layout, which holds only "
                          f"{', '.join(FORMAT_TASKS)}; read it from a SentEval tree (layout 'senteval')")


def read_task(name: str, root: str | Path, layout: str | None = None) -> TaskData:
    """Read task ``name`` from ``root`` in ``layout`` (detected when None), as ``TaskData``."""
    get_task(name)  # before detection, so a typo is not reported as a layout problem
    layout = detect_layout(root) if layout is None else layout
    _check_name(name, layout)
    if layout == "senteval":
        return senteval.read_raw_task(name, Path(root))
    return _READERS[layout](name, Path(root))
