"""Online pair sources (methods.md §4.6): SemEval Task 3 CQA-A and CQA-B. Run offline: every
fixture is a few invented rows in the upstream layout, written to ``tmp_path`` under the upstream
file names at test time; downloads use ``file://`` URLs."""

from __future__ import annotations

from pathlib import Path

from source_fixtures import line_of, raises_at, write, zip_dir

from sentemb.pairs.records import Pair
from sentemb.pairs.sources import fetch_cqa, ranking_set, read_cqa_a, read_cqa_b

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


# --- fetch -----------------------------------------------------------------------------------


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
