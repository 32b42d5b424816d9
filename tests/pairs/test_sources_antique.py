"""Online pair sources (docs/methods.md §4.6): Antique, and the ``PAIR_SOURCES`` / ``ranking_set``
dispatch on it. Run offline: the fixture is a few invented rows in the upstream layout, written
to ``tmp_path`` under the upstream file names at test time; downloads use ``file://`` URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_fixtures import ANTIQUE, raises_at, write

from sentemb.pairs.records import Pair
from sentemb.pairs.sources import PAIR_SOURCES, antique_gain, fetch_antique, ranking_set, read_antique


def antique_dir(root: Path, **overrides: str) -> Path:
    for name, text in {**ANTIQUE, **overrides}.items():
        write(root / name, text)
    return root


def test_read_antique(tmp_path):
    task = read_antique(antique_dir(tmp_path))
    assert task.name == "antique" and task.kind == "ranking"
    q = "how do you cook rice"
    assert task.splits["train"] == [
        Pair(q, "Boil it in salted water.", 1.0, "100"),  # grade 4 -> (4-1)/3
        Pair(q, "Rice is a grain.", 1 / 3, "100"),  # grade 2
        Pair(q, "Ask your grandmother.", 2 / 3, "100"),  # grade 3
    ]
    assert task.splits["test"] == [
        Pair("why is the sky blue", "Because of Rayleigh scattering.", 1.0, "200"),
        Pair("why is the sky blue", "It is not.", 0.0, "200"),
    ]
    # grades back for nDCG (trec_eval gains on the raw qrels)
    assert [antique_gain(p.label) for p in task.splits["train"]] == pytest.approx([4, 2, 3])


def test_read_antique_malformed(tmp_path):
    root = antique_dir(tmp_path, **{"antique-train.qrel": "100 U0 100_0 4\n100 U0 100_1\n"})
    with raises_at(root / "antique-train.qrel", 2, "expected 'qid iter docid grade', got 3 fields"):
        read_antique(root)
    antique_dir(tmp_path, **{"antique-train.qrel": "100 U0 100_0 4\n100 U0 100_1 5\n"})
    with raises_at(root / "antique-train.qrel", 2, "grade '5'"):
        read_antique(root)
    antique_dir(tmp_path, **{"antique-train.qrel": "100 U0 100_0 4\n100 U0 999_9 3\n"})
    with raises_at(root / "antique-train.qrel", 2, "document id '999_9' is not in antique-collection.txt"):
        read_antique(root)
    # an empty document text is reported at its collection line, naming the qrels line that uses it
    antique_dir(tmp_path, **{"antique-collection.txt": ANTIQUE["antique-collection.txt"].replace("It is not.", " ")})
    with raises_at(root / "antique-collection.txt", 5, r"empty text \(used at antique-test.qrel:2\)"):
        read_antique(root)


# --- fetch -----------------------------------------------------------------------------------


def test_fetch_antique_from_file_base_url(tmp_path):
    upstream = antique_dir(tmp_path / "upstream")
    root = fetch_antique(tmp_path / "cache", base_url=upstream.as_uri() + "/")
    assert sorted(p.name for p in root.iterdir()) == sorted([*ANTIQUE, "provenance.json"])
    assert read_antique(root) == read_antique(upstream)


# --- dispatch --------------------------------------------------------------------------------


def test_pair_sources_table_and_ranking_set_dispatch(tmp_path):
    assert {name: src.kind for name, src in PAIR_SOURCES.items()} == {
        "qqp": "classification", "antique": "ranking", "cqa_a": "ranking", "cqa_b": "ranking", "pfcc_s": "ranking"}
    fetch, read, kind, _ = PAIR_SOURCES["antique"]
    assert (fetch, read, kind) == (fetch_antique, read_antique, "ranking")
    root = antique_dir(tmp_path)
    rset = ranking_set("antique", root, read_antique(root), "test")
    assert rset.queries == {"200": "why is the sky blue"} and rset.candidates == {"200": ["200#0", "200#1"]}
    with pytest.raises(ValueError, match="not a ranking task"):
        ranking_set("qqp", root, read_antique(root), "test")
    with pytest.raises(ValueError, match="unknown pair source"):
        ranking_set("nope", root, read_antique(root), "test")
