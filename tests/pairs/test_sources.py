"""Online pair sources (methods.md §4.6), run offline: every fixture is a few invented rows in the
upstream layout, written to ``tmp_path`` under the upstream file names at test time; downloads
use ``file://`` URLs."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import pytest

import sentemb.pairs.sources as sources
from sentemb.errors import DataError
from sentemb.pairs.ranking import evaluate_ranking
from sentemb.pairs.records import Pair
from sentemb.pairs.sources import (
    PAIR_SOURCES,
    antique_gain,
    download,
    fetch_antique,
    fetch_cqa,
    fetch_pfcc_s,
    fetch_qqp,
    ranking_set,
    read_antique,
    read_cqa_a,
    read_cqa_b,
    read_pfcc_s,
    read_pfcc_s_ranking,
    read_qqp,
)
from sentemb.utils.io import sha256_file


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def line_of(text: str, marker: str) -> int:
    """1-based line of the first occurrence of ``marker`` in ``text``."""
    return text[: text.index(marker)].count("\n") + 1


def zip_dir(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return archive


def raises_at(path: Path, line: int, match: str = ""):
    """``pytest.raises`` for a DataError whose message starts with ``path:line:``."""
    return pytest.raises(DataError, match=rf"^{path}:{line}: .*{match}")


# --- download --------------------------------------------------------------------------------


def test_download_file_url_with_correct_sha256(tmp_path):
    source = write(tmp_path / "src" / "blob.bin", "some bytes\n")
    digest = sha256_file(source)
    dest = tmp_path / "cache" / "blob.bin"
    assert download(source.as_uri(), dest, digest) == digest
    assert dest.read_bytes() == b"some bytes\n"
    assert download(source.as_uri(), dest, digest.upper()) == digest  # hex case does not matter


def test_download_wrong_sha256_raises_and_leaves_nothing(tmp_path):
    source = write(tmp_path / "src" / "blob.bin", "some bytes\n")
    dest = tmp_path / "cache" / "blob.bin"
    with pytest.raises(DataError, match="sha256 mismatch"):
        download(source.as_uri(), dest, "0" * 64)
    assert list((tmp_path / "cache").iterdir()) == []  # neither dest nor a temporary file


def test_download_unpinned_returns_digest_and_logs(tmp_path, caplog):
    source = write(tmp_path / "src" / "blob.bin", "some bytes\n")
    with caplog.at_level(logging.WARNING, logger="sentemb.pairs.sources"):
        digest = download(source.as_uri(), tmp_path / "blob.bin", None)
    assert digest == sha256_file(source)
    assert "not pinned" in caplog.text and digest in caplog.text


def test_download_rejects_malformed_digest_and_reports_missing_source(tmp_path):
    with pytest.raises(ValueError, match="64 hex digits"):
        download((tmp_path / "x").as_uri(), tmp_path / "y", "abc")
    with pytest.raises(DataError, match="download failed"):
        download((tmp_path / "missing.bin").as_uri(), tmp_path / "y", None)
    assert not (tmp_path / "y").exists()


# --- QQP -------------------------------------------------------------------------------------

QQP_TRAIN = (
    "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
    "11\t1\t2\tHow do I cook rice?\tWhat is the way to cook rice?\t1\n"
    "12\t3\t4\tWhy is the sky blue?\tHow tall is a giraffe?\t0\n"
    "13\t5\t6\tWhat is a  prime number?\tDefine a prime number.\t1\n"
    "14\t7\t8\tIs tea healthy?\tCan cats swim?\t0\n"
    "15\t9\t10\tHow to learn chess?\tBest way to learn chess?\t1\n"
    "16\t11\t12\tWho wrote Hamlet?\tWhat is a volcano?\t0\n"
)
QQP_DEV = (
    "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
    "21\t31\t32\tIs water wet?\tIs the ocean salty?\t0\n"
    "22\t33\t34\tHow do magnets work?\tWhy do magnets attract?\t1\n"
)


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


# --- Antique ---------------------------------------------------------------------------------

ANTIQUE = {
    "antique-collection.txt": (
        "100_0\tBoil it in salted water.\n"
        "100_1\tRice   is a grain.\n"
        "100_2\tAsk your grandmother.\n"
        "200_0\tBecause of Rayleigh scattering.\n"
        "200_1\tIt is not.\n"
    ),
    "antique-train-queries.txt": "100\thow do you cook rice\n300\tan unjudged query\n",
    "antique-train.qrel": "100 U0 100_0 4\n100 U0 100_1 2\n100 U0 100_2 3\n",
    "antique-test-queries.txt": "200\twhy is the sky blue\n",
    "antique-test.qrel": "200 U0 200_0 4\n200 U0 200_1 1\n",
}


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


# --- SemEval Task 3 CQA ----------------------------------------------------------------------

CQA_A_TRAIN = """<?xml version="1.0" encoding="UTF-8"?>
<root>
<Thread THREAD_SEQUENCE="Q1_R1">
  <RelQuestion RELQ_ID="Q1_R1" RELQ_CATEGORY="Pets">
    <RelQSubject>Dog food</RelQSubject>
    <RelQBody>Where can I buy dog food &amp; treats?</RelQBody>
  </RelQuestion>
  <RelComment RELC_ID="Q1_R1_C1" RELC_RELEVANCE2RELQ="Good">
    <RelCText>The pet shop in the mall.</RelCText>
  </RelComment>
  <RelComment RELC_ID="Q1_R1_C2" RELC_RELEVANCE2RELQ="PotentiallyUseful">
    <RelCText>Try online.</RelCText>
  </RelComment>
</Thread>
<Thread THREAD_SEQUENCE="Q2_R1">
  <RelQuestion RELQ_ID="Q2_R1" RELQ_CATEGORY="Travel">
    <RelQSubject>Visa</RelQSubject>
    <RelQBody></RelQBody>
  </RelQuestion>
  <RelComment RELC_ID="Q2_R1_C1" RELC_RELEVANCE2RELQ="Bad">
    <RelCText>lol</RelCText>
  </RelComment>
</Thread>
</root>
"""
CQA_A_DEV = """<?xml version="1.0" encoding="UTF-8"?>
<root>
<Thread THREAD_SEQUENCE="Q9_R1">
  <RelQuestion RELQ_ID="Q9_R1"><RelQSubject>Beach</RelQSubject><RelQBody>Best beach?</RelQBody></RelQuestion>
  <RelComment RELC_ID="Q9_R1_C1" RELC_RELEVANCE2RELQ="Good"><RelCText>The north one.</RelCText></RelComment>
</Thread>
</root>
"""
CQA_A_TEST = """<?xml version="1.0" encoding="UTF-8"?>
<root>
<Thread THREAD_SEQUENCE="Q300_R1">
  <RelQuestion RELQ_ID="Q300_R1"><RelQSubject>Bank</RelQSubject><RelQBody>Which bank?</RelQBody></RelQuestion>
  <RelComment RELC_ID="Q300_R1_C1" RELC_RELEVANCE2RELQ="?"><RelCText>The blue one.</RelCText></RelComment>
  <RelComment RELC_ID="Q300_R1_C2"><RelCText>No idea.</RelCText></RelComment>
</Thread>
</root>
"""
CQA_A_GOLD = "Q300_R1\tQ300_R1_C1\t0\t1.0\ttrue\nQ300_R1\tQ300_R1_C2\t0\t0.0\tfalse\n"

CQA_B_TRAIN = """<?xml version="1.0" encoding="UTF-8"?>
<root>
<OrgQuestion ORGQ_ID="Q1">
  <OrgQSubject>Driving licence</OrgQSubject>
  <OrgQBody>How to convert my licence?</OrgQBody>
  <Thread THREAD_SEQUENCE="Q1_R1">
    <RelQuestion RELQ_ID="Q1_R1" RELQ_RELEVANCE2ORGQ="PerfectMatch">
      <RelQSubject>Licence</RelQSubject><RelQBody>Convert a foreign licence?</RelQBody>
    </RelQuestion>
    <RelComment RELC_ID="Q1_R1_C1" RELC_RELEVANCE2RELQ="Good"><RelCText>Go to traffic dept.</RelCText></RelComment>
  </Thread>
</OrgQuestion>
<OrgQuestion ORGQ_ID="Q1">
  <OrgQSubject>Driving licence</OrgQSubject>
  <OrgQBody>How to convert my licence?</OrgQBody>
  <Thread THREAD_SEQUENCE="Q1_R2">
    <RelQuestion RELQ_ID="Q1_R2" RELQ_RELEVANCE2ORGQ="Relevant">
      <RelQSubject>Driving test</RelQSubject><RelQBody>Is the test hard?</RelQBody>
    </RelQuestion>
  </Thread>
</OrgQuestion>
<OrgQuestion ORGQ_ID="Q1">
  <OrgQSubject>Driving licence</OrgQSubject>
  <OrgQBody>How to convert my licence?</OrgQBody>
  <Thread THREAD_SEQUENCE="Q1_R3">
    <RelQuestion RELQ_ID="Q1_R3" RELQ_RELEVANCE2ORGQ="Irrelevant">
      <RelQSubject>Pizza</RelQSubject><RelQBody>Best pizza?</RelQBody>
    </RelQuestion>
  </Thread>
</OrgQuestion>
</root>
"""
CQA_B_DEV = """<?xml version="1.0" encoding="UTF-8"?>
<root>
<OrgQuestion ORGQ_ID="Q5"><OrgQSubject>Rent</OrgQSubject><OrgQBody>Cheap flats?</OrgQBody>
  <Thread THREAD_SEQUENCE="Q5_R1"><RelQuestion RELQ_ID="Q5_R1" RELQ_RELEVANCE2ORGQ="Irrelevant">
    <RelQSubject>Cars</RelQSubject><RelQBody>Used cars?</RelQBody></RelQuestion></Thread>
</OrgQuestion>
</root>
"""
CQA_B_TEST = """<?xml version="1.0" encoding="UTF-8"?>
<root>
<OrgQuestion ORGQ_ID="Q400"><OrgQSubject>Gym</OrgQSubject><OrgQBody>Good gym?</OrgQBody>
  <Thread THREAD_SEQUENCE="Q400_R5"><RelQuestion RELQ_ID="Q400_R5">
    <RelQSubject>Fitness</RelQSubject><RelQBody>Which gym is good?</RelQBody></RelQuestion></Thread>
</OrgQuestion>
<OrgQuestion ORGQ_ID="Q400"><OrgQSubject>Gym</OrgQSubject><OrgQBody>Good gym?</OrgQBody>
  <Thread THREAD_SEQUENCE="Q400_R7"><RelQuestion RELQ_ID="Q400_R7">
    <RelQSubject>Food</RelQSubject><RelQBody>Sushi?</RelQBody></RelQuestion></Thread>
</OrgQuestion>
</root>
"""
CQA_B_GOLD = "Q400 Q400_R5 1 0.9 true\nQ400 Q400_R7 2 0.1 false\n"

CQA_FILES = {
    "v3.2/train/SemEval2016-Task3-CQA-QL-train-part1-subtaskA.xml": CQA_A_TRAIN,
    "v3.2/dev/SemEval2016-Task3-CQA-QL-dev-subtaskA.xml": CQA_A_DEV,
    "English/SemEval2017-task3-English-test-subtaskA.xml": CQA_A_TEST,
    "_gold/SemEval2017-Task3-CQA-QL-test-subtaskA.xml.subtaskA.relevancy": CQA_A_GOLD,
    "v3.2/train/SemEval2016-Task3-CQA-QL-train-part1.xml": CQA_B_TRAIN,
    "v3.2/dev/SemEval2016-Task3-CQA-QL-dev.xml": CQA_B_DEV,
    "English/SemEval2017-task3-English-test.xml": CQA_B_TEST,
    "_gold/SemEval2017-Task3-CQA-QL-test.xml.subtaskB.relevancy": CQA_B_GOLD,
}


def cqa_dir(root: Path, **overrides: str) -> Path:
    for rel, text in {**CQA_FILES, **overrides}.items():
        write(root / rel, text)
    return root


A_TRAIN = "v3.2/train/SemEval2016-Task3-CQA-QL-train-part1-subtaskA.xml"
A_TEST = "English/SemEval2017-task3-English-test-subtaskA.xml"
A_GOLD = "_gold/SemEval2017-Task3-CQA-QL-test-subtaskA.xml.subtaskA.relevancy"
B_TRAIN = "v3.2/train/SemEval2016-Task3-CQA-QL-train-part1.xml"


def test_read_cqa_a(tmp_path):
    task = read_cqa_a(cqa_dir(tmp_path))
    assert task.name == "cqa_a" and task.kind == "ranking"
    q1 = "Dog food [SEP] Where can I buy dog food & treats?"
    assert task.splits["train"] == [
        Pair(q1, "The pet shop in the mall.", 1.0, "Q1_R1"),  # Good
        Pair(q1, "Try online.", 0.0, "Q1_R1"),  # PotentiallyUseful
        Pair("Visa [SEP]", "lol", 0.0, "Q2_R1"),  # Bad; empty body kept as the BSC code joins it
    ]
    assert task.splits["dev"] == [Pair("Beach [SEP] Best beach?", "The north one.", 1.0, "Q9_R1")]
    # test labels come from the gold file, whatever the XML attribute says
    assert task.splits["test"] == [
        Pair("Bank [SEP] Which bank?", "The blue one.", 1.0, "Q300_R1"),
        Pair("Bank [SEP] Which bank?", "No idea.", 0.0, "Q300_R1"),
    ]


def test_read_cqa_a_malformed(tmp_path):
    bad_label = CQA_A_TRAIN.replace('"PotentiallyUseful"', '"Maybe"')
    root = cqa_dir(tmp_path, **{A_TRAIN: bad_label})
    with raises_at(root / A_TRAIN, line_of(bad_label, 'RELC_ID="Q1_R1_C2"'), "RELC_RELEVANCE2RELQ='Maybe'"):
        read_cqa_a(root)
    broken = CQA_A_TRAIN.replace("<RelCText>lol</RelCText>", "<RelCText>lol</RelComment>")
    cqa_dir(tmp_path, **{A_TRAIN: broken})
    with raises_at(root / A_TRAIN, line_of(broken, "lol</RelComment>"), "malformed XML: mismatched tag"):
        read_cqa_a(root)
    missing_id = CQA_A_TRAIN.replace(' RELQ_ID="Q2_R1"', "")
    cqa_dir(tmp_path, **{A_TRAIN: missing_id})
    with raises_at(root / A_TRAIN, line_of(missing_id, 'RELQ_CATEGORY="Travel"'), "has no RELQ_ID attribute"):
        read_cqa_a(root)


def test_read_cqa_a_test_gold_must_match_candidates(tmp_path):
    root = cqa_dir(tmp_path, **{A_GOLD: CQA_A_GOLD.splitlines(keepends=True)[0]})
    with raises_at(root / A_TEST, line_of(CQA_A_TEST, 'RELC_ID="Q300_R1_C2"'), "has no line in"):
        read_cqa_a(root)
    cqa_dir(tmp_path, **{A_GOLD: CQA_A_GOLD + "Q300_R1\tQ300_R1_C9\t0\t0.0\tfalse\n"})
    with raises_at(root / A_GOLD, 3, "matches no candidate"):
        read_cqa_a(root)
    cqa_dir(tmp_path, **{A_GOLD: CQA_A_GOLD.replace("true", "yes")})
    with raises_at(root / A_GOLD, 1, "label 'yes'"):
        read_cqa_a(root)


def test_read_cqa_a_empty_comment_error_or_skip(tmp_path):
    empty = CQA_A_TRAIN.replace("Try online.", "   ")
    root = cqa_dir(tmp_path, **{A_TRAIN: empty})
    with raises_at(root / A_TRAIN, line_of(empty, 'RELC_ID="Q1_R1_C2"'), "empty text"):
        read_cqa_a(root)
    train = read_cqa_a(root, skip_empty_comments=True).splits["train"]
    assert [p.text_b for p in train] == ["The pet shop in the mall.", "lol"]


def test_read_cqa_b(tmp_path):
    task = read_cqa_b(cqa_dir(tmp_path))
    assert task.name == "cqa_b" and task.kind == "ranking"
    org = "Driving licence [SEP] How to convert my licence?"
    assert task.splits["train"] == [
        Pair(org, "Licence [SEP] Convert a foreign licence?", 1.0, "Q1"),  # PerfectMatch
        Pair(org, "Driving test [SEP] Is the test hard?", 1.0, "Q1"),  # Relevant
        Pair(org, "Pizza [SEP] Best pizza?", 0.0, "Q1"),  # Irrelevant
    ]
    assert task.splits["dev"] == [Pair("Rent [SEP] Cheap flats?", "Cars [SEP] Used cars?", 0.0, "Q5")]
    assert task.splits["test"] == [
        Pair("Gym [SEP] Good gym?", "Fitness [SEP] Which gym is good?", 1.0, "Q400"),
        Pair("Gym [SEP] Good gym?", "Food [SEP] Sushi?", 0.0, "Q400"),
    ]
    ranking = ranking_set("cqa_b", tmp_path, task, "train")
    assert ranking.candidates == {"Q1": ["Q1#0", "Q1#1", "Q1#2"]}


def test_read_cqa_b_malformed(tmp_path):
    missing = CQA_B_TRAIN.replace(' RELQ_ID="Q1_R2"', "")
    root = cqa_dir(tmp_path, **{B_TRAIN: missing})
    with raises_at(root / B_TRAIN, line_of(missing, 'RELQ_RELEVANCE2ORGQ="Relevant"'), "has no RELQ_ID"):
        read_cqa_b(root)
    no_thread = CQA_B_TRAIN.replace("<OrgQuestion", "<Other").replace("</OrgQuestion>", "</Other>")
    cqa_dir(tmp_path, **{B_TRAIN: no_thread})
    with raises_at(root / B_TRAIN, 2, "no <OrgQuestion> elements under <root>"):
        read_cqa_b(root)


# --- PFCC-S ----------------------------------------------------------------------------------

PFCC_CLAIMS = (
    "\tvclaim\ttitle\n"
    '0\t"A ""miracle"" fruit cures colds."\tDoes Fruit Cure Colds?\n'
    "1\tA bridge collapsed in 2019.\tDid a Bridge Collapse?\n"
    "2\tThe moon is made of cheese.\tIs the Moon Cheese?\n"
    "3\tA bridge collapsed in 2019. \tDid a Bridge Collapse? (again)\n"
    "4\tCats can vote.\tCan Cats Vote?\n"
)
PFCC_TRAIN_TWEETS = (
    "\ttweet_content\n"
    "1\tmiracle fruit!!! no more colds pic.twitter.com/x\n"
    '2\t"Astronaut says ""the moon tastes like cheddar"""\n'
)
PFCC_TRAIN_QRELS = "1\t0\t0\t1\n2\t0\t2\t1\n"
PFCC_DEV_TWEETS = "\ttweet_content\n7\tthe old bridge fell down last year\n8\tkitten elected mayor\n9\tno claim here\n"
PFCC_DEV_QRELS = "7\t0\t3\t1\n8\t0\t4\t1\n"


def pfcc_dir(root: Path, **overrides: str) -> Path:
    files = {
        "v3/verified_claims.docs.tsv": PFCC_CLAIMS,
        "v3/train/tweets.queries.tsv": PFCC_TRAIN_TWEETS,
        "v3/train/tweet-vclaim-pairs.qrels": PFCC_TRAIN_QRELS,
        "v3/dev/tweets.queries.tsv": PFCC_DEV_TWEETS,
        "v3/dev/tweet-vclaim-pairs.qrels": PFCC_DEV_QRELS,
    }
    for rel, text in {**files, **overrides}.items():
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


def test_fetch_antique_from_file_base_url(tmp_path):
    upstream = antique_dir(tmp_path / "upstream")
    root = fetch_antique(tmp_path / "cache", base_url=upstream.as_uri() + "/")
    assert sorted(p.name for p in root.iterdir()) == sorted([*ANTIQUE, "provenance.json"])
    assert read_antique(root) == read_antique(upstream)


def test_fetch_cqa_from_three_archives(tmp_path):
    upstream = cqa_dir(tmp_path / "upstream")
    urls = []
    for part in ("v3.2", "English", "_gold"):
        folder = tmp_path / "parts" / part
        folder.mkdir(parents=True)
        (upstream / part).rename(folder / part)
        urls.append(zip_dir(tmp_path / "parts" / part, tmp_path / f"{part.strip('_')}.zip").as_uri())
    root = fetch_cqa(tmp_path / "cache", urls=tuple(urls))
    assert read_cqa_a(root).splits["test"][0].label == 1.0
    assert len(read_cqa_b(root).splits["train"]) == 3


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


# --- dispatch --------------------------------------------------------------------------------


def test_pair_sources_table_and_ranking_set_dispatch(tmp_path):
    assert {name: src.kind for name, src in PAIR_SOURCES.items()} == {
        "qqp": "classification", "antique": "ranking", "cqa_a": "ranking", "cqa_b": "ranking", "pfcc_s": "ranking"}
    fetch, read, kind = PAIR_SOURCES["antique"]
    assert (fetch, read, kind) == (fetch_antique, read_antique, "ranking")
    root = antique_dir(tmp_path)
    rset = ranking_set("antique", root, read_antique(root), "test")
    assert rset.queries == {"200": "why is the sky blue"} and rset.candidates == {"200": ["200#0", "200#1"]}
    with pytest.raises(ValueError, match="not a ranking task"):
        ranking_set("qqp", root, read_antique(root), "test")
    with pytest.raises(ValueError, match="unknown pair source"):
        ranking_set("nope", root, read_antique(root), "test")
