"""Online pair sources (docs/methods.md §4.6): SemEval Task 3 CQA-A and CQA-B. Run offline: every
fixture is a few invented rows in the upstream layout, written to ``tmp_path`` under the upstream
file names at test time; downloads use ``file://`` URLs."""

from __future__ import annotations

from pathlib import Path

from source_fixtures import (
    CQA_A_GOLD,
    CQA_A_GOLD_PATH,
    CQA_A_TEST,
    CQA_A_TEST_PATH,
    CQA_A_TRAIN,
    CQA_A_TRAIN_PATH,
    CQA_B_TRAIN,
    CQA_B_TRAIN_PATH,
    CQA_FILES,
    line_of,
    raises_at,
    write,
    zip_dir,
)

from sentemb.pairs.records import Pair
from sentemb.pairs.sources import fetch_cqa, ranking_set, read_cqa_a, read_cqa_b


def cqa_dir(root: Path, **overrides: str) -> Path:
    for rel, text in {**CQA_FILES, **overrides}.items():
        write(root / rel, text)
    return root


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
    root = cqa_dir(tmp_path, **{CQA_A_TRAIN_PATH: bad_label})
    with raises_at(root / CQA_A_TRAIN_PATH, line_of(bad_label, 'RELC_ID="Q1_R1_C2"'), "RELC_RELEVANCE2RELQ='Maybe'"):
        read_cqa_a(root)
    broken = CQA_A_TRAIN.replace("<RelCText>lol</RelCText>", "<RelCText>lol</RelComment>")
    cqa_dir(tmp_path, **{CQA_A_TRAIN_PATH: broken})
    with raises_at(root / CQA_A_TRAIN_PATH, line_of(broken, "lol</RelComment>"), "malformed XML: mismatched tag"):
        read_cqa_a(root)
    missing_id = CQA_A_TRAIN.replace(' RELQ_ID="Q2_R1"', "")
    cqa_dir(tmp_path, **{CQA_A_TRAIN_PATH: missing_id})
    with raises_at(root / CQA_A_TRAIN_PATH, line_of(missing_id, 'RELQ_CATEGORY="Travel"'), "has no RELQ_ID attribute"):
        read_cqa_a(root)


def test_read_cqa_a_test_gold_must_match_candidates(tmp_path):
    root = cqa_dir(tmp_path, **{CQA_A_GOLD_PATH: CQA_A_GOLD.splitlines(keepends=True)[0]})
    with raises_at(root / CQA_A_TEST_PATH, line_of(CQA_A_TEST, 'RELC_ID="Q300_R1_C2"'), "has no line in"):
        read_cqa_a(root)
    cqa_dir(tmp_path, **{CQA_A_GOLD_PATH: CQA_A_GOLD + "Q300_R1\tQ300_R1_C9\t0\t0.0\tfalse\n"})
    with raises_at(root / CQA_A_GOLD_PATH, 3, "matches no candidate"):
        read_cqa_a(root)
    cqa_dir(tmp_path, **{CQA_A_GOLD_PATH: CQA_A_GOLD.replace("true", "yes")})
    with raises_at(root / CQA_A_GOLD_PATH, 1, "label 'yes'"):
        read_cqa_a(root)


def test_read_cqa_a_empty_comment_error_or_skip(tmp_path):
    empty = CQA_A_TRAIN.replace("Try online.", "   ")
    root = cqa_dir(tmp_path, **{CQA_A_TRAIN_PATH: empty})
    with raises_at(root / CQA_A_TRAIN_PATH, line_of(empty, 'RELC_ID="Q1_R1_C2"'), "empty text"):
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
    root = cqa_dir(tmp_path, **{CQA_B_TRAIN_PATH: missing})
    with raises_at(root / CQA_B_TRAIN_PATH, line_of(missing, 'RELQ_RELEVANCE2ORGQ="Relevant"'), "has no RELQ_ID"):
        read_cqa_b(root)
    no_thread = CQA_B_TRAIN.replace("<OrgQuestion", "<Other").replace("</OrgQuestion>", "</Other>")
    cqa_dir(tmp_path, **{CQA_B_TRAIN_PATH: no_thread})
    with raises_at(root / CQA_B_TRAIN_PATH, 2, "no <OrgQuestion> elements under <root>"):
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
