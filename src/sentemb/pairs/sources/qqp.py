"""QQP (Quora Question Pairs) from GLUE, a classification task (docs/methods.md §4.6).

Labels: QQP's ``is_duplicate``. Splits: GLUE's train/dev TSVs (GLUE's test is unlabelled). The
paper trains on a 10k random sample of train and the BSC code (examples/QQP.ipynb of
github.com/aschern/BSC-loss) evaluates on a 3,000-pair sample of dev; both are drawn here by a
seeded hash of the row id (see ``_sample``), stable across Python and numpy versions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sentemb.errors import DataError
from sentemb.pairs.records import Pair, PairTask, make_pair
from sentemb.pairs.sources.common import _find_one, _require_lines
from sentemb.pairs.sources.download import _fetch

# GLUE's QQP archive as listed in GLUE's download_glue_data.py, which the BSC code runs
# (examples/QQP.ipynb: ``download_glue_data.py --tasks QQP``). Holds QQP/{train,dev,test}.tsv.
QQP_URL = "https://dl.fbaipublicfiles.com/glue/data/QQP-clean.zip"
QQP_HEADER = ("id", "qid1", "qid2", "question1", "question2", "is_duplicate")
QQP_TRAIN_SIZE = 10_000  # the paper's "10k random training sample"
QQP_DEV_SIZE = 3_000  # examples/QQP.ipynb: ``data.sample(n=3000)`` of GLUE dev


def fetch_qqp(cache_dir: str | Path, url: str = QQP_URL) -> Path:
    """Download and unpack GLUE's QQP archive into ``cache_dir/qqp``."""
    return _fetch(cache_dir, "qqp", (url,), unzip=True)


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
