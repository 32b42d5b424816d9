"""Online pair sources (docs/methods.md §4.6): QQP, and the fetch layer's provenance and pins on its
archive. Run offline: the fixture is a few invented rows in the upstream layout, written to
``tmp_path`` under the upstream file names at test time; downloads use ``file://`` URLs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from source_fixtures import QQP_DEV, QQP_TRAIN, raises_at, write, zip_dir

import sentemb.pairs.sources as sources
from sentemb.errors import DataError
from sentemb.pairs.records import Pair
from sentemb.pairs.sources import fetch_qqp, read_qqp
from sentemb.utils.io import sha256_file


def qqp_dir(root: Path) -> Path:
    write(root / "QQP" / "train.tsv", QQP_TRAIN)
    write(root / "QQP" / "dev.tsv", QQP_DEV)
    return root


def test_read_qqp_full_splits(tmp_path):
    task = read_qqp(qqp_dir(tmp_path), train_size=None, dev_size=None)
    assert task.name == "qqp" and task.kind == "classification"
    assert task.splits["dev"] == [
        Pair("Is water wet?", "Is the ocean salty?", 0.0),
        Pair("How do magnets work?", "Why do magnets attract?", 1.0),
    ]
    assert [p.label for p in task.splits["train"]] == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert task.splits["train"][2] == Pair("What is a prime number?", "Define a prime number.", 1.0)


def test_read_qqp_seeded_sample_is_reproducible_in_file_order(tmp_path):
    root = qqp_dir(tmp_path)
    full = read_qqp(root, train_size=None, dev_size=None).splits["train"]
    sample = read_qqp(root, train_size=3, dev_size=1, seed=7)
    assert len(sample.splits["train"]) == 3 and len(sample.splits["dev"]) == 1
    positions = [full.index(p) for p in sample.splits["train"]]
    assert positions == sorted(positions)  # file order kept
    assert read_qqp(root, train_size=3, dev_size=1, seed=7) == sample
    draws = {tuple(p.text_a for p in read_qqp(root, 3, 1, seed=s).splits["train"]) for s in range(10)}
    assert len(draws) > 1  # the seed changes the sample
    with pytest.raises(DataError, match="sample of 7 rows but the file has 6"):
        read_qqp(root, train_size=7)


def test_read_qqp_malformed_rows(tmp_path):
    path = write(tmp_path / "QQP" / "train.tsv", QQP_TRAIN.replace("\tBest way to learn chess?", ""))
    write(tmp_path / "QQP" / "dev.tsv", QQP_DEV)
    with raises_at(path, 6, "expected 6 tab-separated columns, got 5"):
        read_qqp(tmp_path)
    write(path, QQP_TRAIN.replace("Can cats swim?\t0", "Can cats swim?\t2"))
    with raises_at(path, 5, "is_duplicate '2'"):
        read_qqp(tmp_path)
    write(path, QQP_TRAIN.replace("is_duplicate", "label"))
    with raises_at(path, 1, "header"):
        read_qqp(tmp_path)


# --- fetch -----------------------------------------------------------------------------------


def test_fetch_qqp_from_file_url_then_read(tmp_path):
    archive = zip_dir(qqp_dir(tmp_path / "upstream"), tmp_path / "QQP-clean.zip")
    root = fetch_qqp(tmp_path / "cache", url=archive.as_uri())
    assert root == tmp_path / "cache" / "qqp"
    assert read_qqp(root, train_size=None, dev_size=None).splits["dev"][1].label == 1.0
    provenance = json.loads((root / "provenance.json").read_text())
    assert provenance["files"] == [{"url": archive.as_uri(), "file": "downloads/QQP-clean.zip",
                                    "sha256": sha256_file(archive), "pinned": False}]
    archive.unlink()  # cached: a second fetch downloads nothing
    assert fetch_qqp(tmp_path / "cache", url=archive.as_uri()) == root


def test_fetch_checks_pins_on_cached_files(tmp_path, monkeypatch):
    archive = zip_dir(qqp_dir(tmp_path / "upstream"), tmp_path / "QQP-clean.zip")
    monkeypatch.setitem(sources.PINNED_SHA256, archive.as_uri(), sha256_file(archive))
    root = fetch_qqp(tmp_path / "cache", url=archive.as_uri())
    assert json.loads((root / "provenance.json").read_text())["files"][0]["pinned"] is True
    monkeypatch.setitem(sources.PINNED_SHA256, archive.as_uri(), "f" * 64)
    with pytest.raises(DataError, match="pinned ffff"):
        fetch_qqp(tmp_path / "cache", url=archive.as_uri())
