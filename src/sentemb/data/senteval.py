"""Load evaluation tasks from any layout, verified, as the same ``TaskData``.

Layouts: a prepared dir (``manifest.json``, written by the prepare stage), SentEval's
``downstream`` tree of senteval.tar, the organisers' official files, or MTEB's copies
(``data/formats.py``). ``load_tasks`` verifies what it reads exactly as ``prepare`` does: on a
SentEval tree every file's SHA-256 against the pinned value of its registry entry and every
split's example count against the known size; a prepared dir carries its own checksums and the
verdict of the prepare stage; the official and MTEB layouts have counts but no pinned checksums.
Anything not verified is an error unless the caller allows unverified data, and then it is
recorded (``DataInfo``) and said in every output and table built from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentemb.data import readers
from sentemb.data.records import Example, TaskData
from sentemb.data.tasks import TASKS, get_task
from sentemb.errors import DataError
from sentemb.utils.io import read_json, sha256_file

UNVERIFIED_HINT = "pass --allow-unverified to evaluate anyway (every output then says 'unverified data')"


def eval_files() -> list[str]:
    """Every downstream file the pipeline reads, relative to the downstream dir, in task order."""
    return [f for task in TASKS.values() for f in task.files()]


def read_raw_task(name: str, downstream_dir: Path) -> TaskData:
    """Parse one task from a raw SentEval ``downstream`` directory."""
    task = get_task(name)
    downstream_dir = Path(downstream_dir)
    parsed = {split: task.reader(*(downstream_dir / f for f in s.files)) for split, s in task.splits.items()}
    return TaskData(name=name, kind=task.family, splits=parsed)


Problem = tuple[Path, str]  # (file or directory, reason)


def size_problems(task: TaskData, known: dict[str, int], where: Path) -> list[Problem]:
    """Each split whose example count is not the known one."""
    out = []
    for split, expected in known.items():
        got = len(task.splits.get(split, []))
        if got != expected:
            out.append((where, f"{task.name} {split}: expected {expected} examples, got {got}"))
    return out


def checksum_problems(name: str, downstream_dir: Path) -> list[Problem]:
    """Each file of ``name`` whose SHA-256 is not the pinned one (the copy is not upstream's)."""
    out = []
    for split in get_task(name).splits.values():
        for rel, expected in zip(split.files, split.sha256):
            path = Path(downstream_dir) / rel
            if path.exists() and sha256_file(path) != expected:
                out.append((path, "sha256 differs from the pinned upstream senteval.tar"))
    return out


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
    get_task(name)
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
    return TaskData(name=name, kind=get_task(name).family, splits=splits)


def is_prepared(data_dir: Path) -> bool:
    return (Path(data_dir) / "manifest.json").is_file()


def load_task(name: str, data_dir: str | Path) -> TaskData:
    """Load ``name`` from a prepared dir or a raw SentEval downstream dir, unverified: for the
    stages' own prepared data (already verified by ``prepare``) and for tests; user-given data
    goes through ``load_tasks``."""
    get_task(name)
    data_dir = Path(data_dir)
    if is_prepared(data_dir):
        return read_prepared_task(name, data_dir)
    return read_raw_task(name, data_dir)


@dataclass(frozen=True)
class DataInfo:
    """Where the evaluation data came from and whether it is the verified upstream data."""

    layout: str
    verified: bool
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"layout": self.layout, "verified": self.verified, "problems": self.problems}


def _layout(data_dir: Path) -> str:
    if is_prepared(data_dir):
        return "prepared"
    from sentemb.data.formats import detect_layout

    return detect_layout(data_dir)


def load_tasks(names: list[str], data_dir: str | Path, allow_unverified: bool = False
               ) -> tuple[dict[str, TaskData], DataInfo]:
    """Every task of ``names`` from ``data_dir`` (any layout) and the verdict on the data: a
    problem (a wrong checksum, a wrong count, a layout without pinned checksums, a prepared dir
    made without verification) raises DataError unless ``allow_unverified``."""
    from sentemb.data import formats

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(data_dir, "not a directory (give data/prepared, a SentEval downstream dir, an official-"
                        "files dir or an MTEB dir)")
    layout = _layout(data_dir)
    tasks: dict[str, TaskData] = {}
    problems: list[Problem] = []
    for name in names:
        if layout == "prepared":
            tasks[name] = read_prepared_task(name, data_dir)
            continue
        task = formats.read_task(name, data_dir, layout)
        tasks[name] = task
        problems += size_problems(task, formats.known_sizes(name, layout), data_dir)
        problems += checksum_problems(name, data_dir) if layout == "senteval" else []
    if layout == "prepared" and not read_json(data_dir / "manifest.json").get("verified", False):
        problems.append((data_dir, "prepared with data.strict_upstream false (checksums and counts not checked)"))
    elif layout in ("official", "mteb"):
        problems.append((data_dir, f"the {layout} layout has no pinned checksums (only its counts were checked)"))
    if problems and not allow_unverified and layout != "prepared":  # a prepared dir's params chose it
        raise DataError(problems[0][0], f"{problems[0][1]}; {UNVERIFIED_HINT}")
    return tasks, DataInfo(layout, not problems, [f"{path}: {reason}" for path, reason in problems])
