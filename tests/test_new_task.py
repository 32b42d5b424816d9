"""A new SentEval-format evaluation task is one entry in ``data/tasks.py`` (README "Adding a
transfer task"): this test adds one, ``CRX``, and the evaluator, the transfer dispatch, the
checksum and size verification and the table columns all pick it up from that entry alone."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from conftest import MIRROR
from sentemb.data import readers
from sentemb.data.tasks import TASKS, Split, Task, family, header
from sentemb.errors import DataError
from sentemb.evaluation.runner import EvalRequest, evaluate
from sentemb.reporting.tables import build_table
from sentemb.utils.io import sha256_file

FILES = ("CRX/custrevx.pos", "CRX/custrevx.neg")


def _reviews(words: str, n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    pool = words.split() + "the movie film is was very a".split()
    return "".join(" ".join(rng.choices(pool, k=6)) + "\n" for _ in range(n)).encode()


def _downstream_with_crx(tmp_path: Path) -> Path:
    """The fixture downstream dir with 40 + 40 synthetic reviews written both as CR's files and
    as CRX's (SentEval's nested 10-fold needs more rows than the fixture's nine)."""
    root = tmp_path / "downstream"
    shutil.copytree(MIRROR / "senteval" / "downstream", root)
    (root / "CRX").mkdir()
    texts = (_reviews("good great love fun", 40, 1), _reviews("bad boring hate not", 40, 2))
    for files in (TASKS["CR"].splits["all"].files, FILES):
        for name, text in zip(files, texts):
            (root / name).write_bytes(text)
    return root


def _crx_entry(root: Path) -> Task:
    size = len(readers.read_binary(*(root / f for f in FILES)))
    split = Split(FILES, tuple(sha256_file(root / f) for f in FILES), size)
    return Task("CRX", "transfer", "CR-X", readers.read_binary, {"all": split}, "nested_kfold", classes=2)


def _request(model: Path, data: Path, tasks: str, cache: Path) -> EvalRequest:
    return EvalRequest(model=str(model), pooler="avg", tasks=tasks, mode="fasttest", data_dir=str(data),
                       batch_size=8, cache_dir=str(cache), allow_unverified=True)  # CR: rewritten files


def test_one_registry_entry_adds_a_transfer_task(tiny_model_dir: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = _downstream_with_crx(tmp_path)
    monkeypatch.setitem(TASKS, "CRX", _crx_entry(root))

    assert family("transfer")[-1] == "CRX" and header("CRX") == "CR-X"
    crx = evaluate(_request(tiny_model_dir, root, "CRX", tmp_path / "cache"))
    cr = evaluate(_request(tiny_model_dir, root, "CR", tmp_path / "cache"))
    # the same files under the same protocol: the same accuracy, read through the new entry
    assert set(crx["scores"]) == {"CRX"} and crx["scores"]["CRX"] == cr["scores"]["CR"]
    assert crx["avg_transfer"] == crx["scores"]["CRX"]
    table = build_table("transfer", "t", family("transfer"), [("crx", "tiny", [("crx.json", {**crx, "scores": {
        **{t: 50.0 for t in family("transfer")}, **crx["scores"]}})])])
    assert table.headers[-2:] == ["CR-X", "Avg."]


def test_the_new_entry_verifies_its_files(tiny_model_dir: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = _downstream_with_crx(tmp_path)
    monkeypatch.setitem(TASKS, "CRX", _crx_entry(root))
    lines = (root / FILES[0]).read_bytes().splitlines(keepends=True)
    (root / FILES[0]).write_bytes(b"".join(lines[:-1]))  # one review lost
    request = _request(tiny_model_dir, root, "CRX", tmp_path / "cache")
    with pytest.raises(DataError, match="CRX all: expected 80 examples, got 79"):
        evaluate(EvalRequest(**{**request.__dict__, "allow_unverified": False}))
