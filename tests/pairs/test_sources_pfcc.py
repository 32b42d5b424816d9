"""Online pair sources (docs/methods.md §4.6): PFCC-S, and the refusal of an unsafe archive. Run
offline: every fixture is a few invented rows in the upstream layout, written to ``tmp_path``
under the upstream file names at test time; downloads use ``file://`` URLs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from source_fixtures import PFCC_CLAIMS, PFCC_FILES, raises_at, write, zip_dir

from sentemb.errors import DataError
from sentemb.pairs.ranking import evaluate_ranking
from sentemb.pairs.records import Pair
from sentemb.pairs.sources import fetch_pfcc_s, ranking_set, read_pfcc_s, read_pfcc_s_ranking


def pfcc_dir(root: Path, **overrides: str) -> Path:
    for rel, text in {**PFCC_FILES, **overrides}.items():
        write(root / rel, text)
    return root


def test_read_pfcc_s(tmp_path):
    task = read_pfcc_s(pfcc_dir(tmp_path))
    assert task.name == "pfcc_s" and task.kind == "ranking"
    assert task.splits["train"] == [
        Pair("miracle fruit!!! no more colds pic.twitter.com/x", 'A "miracle" fruit cures colds.', 1.0, "1"),
        Pair('Astronaut says "the moon tastes like cheddar"', "The moon is made of cheese.", 1.0, "2"),
    ]
    assert task.splits["dev"] == [
        Pair("the old bridge fell down last year", "A bridge collapsed in 2019.", 1.0, "7"),
        Pair("kitten elected mayor", "Cats can vote.", 1.0, "8"),
    ]
    assert "test" not in task.splits


def test_read_pfcc_s_ranking_ranks_whole_corpus_and_merges_duplicate_claims(tmp_path):
    root = pfcc_dir(tmp_path)
    merged = read_pfcc_s_ranking(root, "dev")
    assert merged.candidates is None
    # tweet 9 has no qrels line, so it is not a query
    assert merged.queries == {"7": "the old bridge fell down last year", "8": "kitten elected mayor"}
    # claim 3 is claim 1 with a trailing space: one document, and the judgement moves to id 1
    assert list(merged.corpus) == ["0", "1", "2", "4"]
    assert merged.qrels == {"7": {"1": 1.0}, "8": {"4": 1.0}}
    separate = read_pfcc_s_ranking(root, "dev", merge_duplicate_claims=False)
    assert list(separate.corpus) == ["0", "1", "2", "3", "4"] and separate.qrels["7"] == {"3": 1.0}
    assert ranking_set("pfcc_s", root, read_pfcc_s(root), "dev") == merged

    # the two bridge copies embed identically and tie; unmerged, the tie rule puts id 1 (unjudged) first
    def embed(texts):
        topics = ("bridge", "cat", "kitten")
        return [[float(any(w in t.lower() for w in words)) for words in (topics[:1], topics[1:])] + [0.1]
                for t in texts]

    assert evaluate_ranking(merged, embed, ks=(1,))["hp@1"] == pytest.approx(1.0)
    assert evaluate_ranking(separate, embed, ks=(1,))["hp@1"] == pytest.approx(0.5)
    with pytest.raises(DataError, match="no 'test' split"):
        read_pfcc_s_ranking(root, "test")


def test_read_pfcc_s_malformed(tmp_path):
    root = pfcc_dir(tmp_path, **{"v3/dev/tweet-vclaim-pairs.qrels": "7\t0\t3\t1\n8\t0\t99\t1\n"})
    with raises_at(root / "v3/dev/tweet-vclaim-pairs.qrels", 2, "verified claim id '99' is not in"):
        read_pfcc_s(root)
    pfcc_dir(tmp_path, **{"v3/verified_claims.docs.tsv": PFCC_CLAIMS.replace("\tCan Cats Vote?", "")})
    with raises_at(root / "v3/verified_claims.docs.tsv", 6, "expected 3 tab-separated columns, got 2"):
        read_pfcc_s(root)
    pfcc_dir(tmp_path, **{"v3/verified_claims.docs.tsv": PFCC_CLAIMS.replace("title", "vclaim_title").replace(
        "\tvclaim\t", "\tclaim\t")})
    with raises_at(root / "v3/verified_claims.docs.tsv", 1, "no 'vclaim' column"):
        read_pfcc_s(root)


# --- fetch -----------------------------------------------------------------------------------


def test_fetch_pfcc_s_and_unsafe_archive(tmp_path):
    archive = zip_dir(pfcc_dir(tmp_path / "upstream"), tmp_path / "v3.zip")
    root = fetch_pfcc_s(tmp_path / "cache", url=archive.as_uri())
    assert len(read_pfcc_s(root).splits["train"]) == 2
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.txt", "x")
    with pytest.raises(DataError, match="unsafe member path"):
        fetch_pfcc_s(tmp_path / "cache2", url=evil.as_uri())
    assert not (tmp_path / "outside.txt").exists()
    assert not (tmp_path / "cache2" / "pfcc_s" / "evil").exists()
