"""The 14 SentEval tasks SimCSE reports: which files each reads, their known sizes, and loading.

File layout and subsets follow methods.md §0.1 and protocol.md §B.4; split names follow
``sentemb.data.records``. ``load_task`` reads either a raw SentEval ``downstream`` directory or a
prepared directory (one with ``manifest.json``, written by the prepare stage) and returns the
same ``TaskData`` for both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sentemb.config import suggest
from sentemb.data import readers
from sentemb.data.records import Example, TaskData
from sentemb.errors import ConfigError, DataError
from sentemb.utils.io import read_json, sha256_file

STS_TASKS = ("STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICKRelatedness")
TRANSFER_TASKS = ("MR", "CR", "SUBJ", "MPQA", "SST2", "TREC", "MRPC")
TASKS = STS_TASKS + TRANSFER_TASKS

# methods.md §0.1. STS13 has no SMT: SentEval drops it for licence reasons, even though the
# tarball ships STS.gs.SMT.txt (there is no input file for it).
STS_SUBSETS: dict[str, tuple[str, ...]] = {
    "STS12": ("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"),
    "STS13": ("FNWN", "headlines", "OnWN"),
    "STS14": ("deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news"),
    "STS15": ("answers-forums", "answers-students", "belief", "headlines", "images"),
    "STS16": ("answer-answer", "headlines", "plagiarism", "postediting", "question-question"),
}

_Reader = Callable[..., list[Example]]


def _sts_files(task: str) -> dict[str, tuple[str, ...]]:
    folder = f"STS/{task}-en-test"
    return {s: (f"{folder}/STS.input.{s}.txt", f"{folder}/STS.gs.{s}.txt") for s in STS_SUBSETS[task]}


def _splits(pattern: str, names: tuple[str, ...],
            files: tuple[str, ...] | None = None) -> dict[str, tuple[str, ...]]:
    return {name: (pattern.format(f),) for name, f in zip(names, files or names)}


# Per task: (reader, {split: files relative to the downstream dir}); the reader takes the files
# of one split as positional arguments.
TASK_SPECS: dict[str, tuple[_Reader, dict[str, tuple[str, ...]]]] = {
    **{task: (readers.read_sts_subset, _sts_files(task)) for task in STS_SUBSETS},
    "STSBenchmark": (readers.read_stsb, _splits("STS/STSBenchmark/sts-{}.csv", ("train", "dev", "test"))),
    "SICKRelatedness": (readers.read_sick, _splits(
        "SICK/SICK_{}.txt", ("train", "dev", "test"), ("train", "trial", "test_annotated"))),
    "MR": (readers.read_binary, {"all": ("MR/rt-polarity.pos", "MR/rt-polarity.neg")}),
    "CR": (readers.read_binary, {"all": ("CR/custrev.pos", "CR/custrev.neg")}),
    "SUBJ": (readers.read_binary, {"all": ("SUBJ/subj.objective", "SUBJ/subj.subjective")}),
    "MPQA": (readers.read_binary, {"all": ("MPQA/mpqa.pos", "MPQA/mpqa.neg")}),
    "SST2": (readers.read_sst2, _splits("SST/binary/sentiment-{}", ("train", "dev", "test"))),
    "TREC": (readers.read_trec, _splits("TREC/{}.label", ("train", "test"), ("train_5500", "TREC_10"))),
    "MRPC": (readers.read_mrpc, _splits("MRPC/msr_paraphrase_{}.txt", ("train", "test"))),
}

# Examples per task and split after dropping unscored STS pairs. STS totals are methods.md §0.1
# (3108/1500/3750/3000/1186); the per-subset counts and all the rest were measured on the
# offline mirror of princeton-nlp/datasets-for-simcse and match protocol.md §F.
KNOWN_SIZES: dict[str, dict[str, int]] = {
    "STS12": {"MSRpar": 750, "MSRvid": 750, "SMTeuroparl": 459, "surprise.OnWN": 750,
              "surprise.SMTnews": 399},
    "STS13": {"FNWN": 189, "headlines": 750, "OnWN": 561},
    "STS14": {"deft-forum": 450, "deft-news": 300, "headlines": 750, "images": 750, "OnWN": 750,
              "tweet-news": 750},
    "STS15": {"answers-forums": 375, "answers-students": 750, "belief": 375, "headlines": 750, "images": 750},
    "STS16": {"answer-answer": 254, "headlines": 249, "plagiarism": 230, "postediting": 244,
              "question-question": 209},
    "STSBenchmark": {"train": 5749, "dev": 1500, "test": 1379},
    "SICKRelatedness": {"train": 4500, "dev": 500, "test": 4927},
    "MR": {"all": 10662},
    "CR": {"all": 3775},
    "SUBJ": {"all": 10000},
    "MPQA": {"all": 10606},
    "SST2": {"train": 67349, "dev": 872, "test": 1821},
    "TREC": {"train": 5452, "test": 500},
    "MRPC": {"train": 4076, "test": 1725},
}


def check_task(name: str) -> str:
    """Return ``name`` if it is one of TASKS, else raise ConfigError suggesting the closest."""
    if name not in TASKS:
        raise ConfigError(f"unknown task '{name}'" + suggest(name, TASKS))
    return name


def task_kind(name: str) -> str:
    return "sts" if check_task(name) in STS_TASKS else "transfer"


def split_files(name: str) -> dict[str, tuple[str, ...]]:
    """Files (relative to the downstream dir) each split of ``name`` is read from."""
    return TASK_SPECS[check_task(name)][1]


def eval_files() -> list[str]:
    """Every downstream file the pipeline reads, relative to the downstream dir, in task order."""
    return [f for task in TASKS for files in split_files(task).values() for f in files]


def read_raw_task(name: str, downstream_dir: Path) -> TaskData:
    """Parse one task from a raw SentEval ``downstream`` directory."""
    reader, splits = TASK_SPECS[check_task(name)]
    downstream_dir = Path(downstream_dir)
    parsed = {split: reader(*(downstream_dir / f for f in files)) for split, files in splits.items()}
    return TaskData(name=name, kind=task_kind(name), splits=parsed)


# --- prepared form: senteval/<TASK>.jsonl, one row per example ------------------------------


def task_rows(task: TaskData) -> list[dict[str, Any]]:
    """Rows ``{"split","text_a","text_b"?,"label"}``; text_b only for pair tasks."""
    rows = []
    for split, examples in task.splits.items():
        for ex in examples:
            row: dict[str, Any] = {"split": split, "text_a": ex.text_a}
            if ex.text_b is not None:
                row["text_b"] = ex.text_b
            row["label"] = ex.label
            rows.append(row)
    return rows


def _example(row: Any, path: Path, line: int) -> tuple[str, Example]:
    if not isinstance(row, dict) or not {"split", "text_a", "label"} <= row.keys():
        raise DataError(path, "expected an object with split, text_a and label", line=line)
    label = row["label"]
    if isinstance(label, bool) or not isinstance(label, (int, float)):
        raise DataError(path, f"label {label!r} is not a number", line=line)
    return str(row["split"]), Example(text_a=row["text_a"], label=label, text_b=row.get("text_b"))


def read_prepared_task(name: str, prepared_dir: Path) -> TaskData:
    """Read ``senteval/<name>.jsonl`` of a prepared dir, checked against its manifest's sha256."""
    check_task(name)
    prepared_dir = Path(prepared_dir)
    manifest = read_json(prepared_dir / "manifest.json")
    rel = f"senteval/{name}.jsonl"
    path = prepared_dir / rel
    expected = manifest.get("sha256", {}).get(rel)
    if expected is None:
        raise DataError(prepared_dir / "manifest.json", f"task {name} is not in this prepared dir")
    if not path.exists():
        raise DataError(path, "file not found (listed in manifest.json); re-run the prepare stage")
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(path, f"sha256 mismatch with manifest.json: expected {expected}, got {actual}")
    # Splits in the manifest's order, including any that ended up empty, so both forms agree.
    splits: dict[str, list[Example]] = {split: [] for split in manifest.get("counts", {}).get(name, {})}
    for number, line in enumerate(readers.read_lines(path), 1):
        try:
            split, example = _example(json.loads(line), path, number)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"invalid JSON ({exc.msg})", line=number) from None
        splits.setdefault(split, []).append(example)
    return TaskData(name=name, kind=task_kind(name), splits=splits)


def is_prepared(data_dir: Path) -> bool:
    return (Path(data_dir) / "manifest.json").is_file()


def load_task(name: str, data_dir: str | Path) -> TaskData:
    """Load ``name`` from a prepared dir (has ``manifest.json``) or a raw SentEval downstream dir."""
    check_task(name)
    data_dir = Path(data_dir)
    if is_prepared(data_dir):
        return read_prepared_task(name, data_dir)
    return read_raw_task(name, data_dir)
