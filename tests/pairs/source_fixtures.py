"""Fixtures of the online pair-source tests (tests/pairs/test_sources_*.py, test_pair_cache.py).

Every fixture is a few invented rows in the upstream layout, written under the upstream file
names at test time; downloads use ``file://`` URLs. Nothing here poses as upstream data: only
headers, file names, folder layouts and label vocabularies coincide with upstream. pytest puts
this directory on ``sys.path`` (rootdir-relative "prepend" imports, no ``__init__.py``), so the
test modules import it as ``source_fixtures``; a test elsewhere can import it the same way after
putting tests/pairs on ``sys.path``.

* The per-source constants (``QQP_TRAIN``, ``ANTIQUE``, ``CQA_FILES``, ``PFCC_FILES``, ...) are
  the small fixtures of the reader tests; their exact rows are asserted there.
* ``populate_pair_cache`` fills a pair download cache (``pairs.cache_dir``) with those rows plus
  a few more per source, so that the pipeline's own ``load_pair_task`` / ``fetch_<name>`` (with
  the real upstream URLs) and the ranking evaluation run offline on them.
"""

from __future__ import annotations

import importlib
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock
from xml.sax.saxutils import escape

import pytest

from sentemb.errors import DataError
from sentemb.pairs.sources import (
    CQA_A_FILES,
    CQA_B_FILES,
    CQA_GOLD_URL,
    CQA_TEST_URL,
    CQA_TRAINDEV_URL,
    CQA_URLS,
    PAIR_SOURCES,
    PFCC_S_CLAIMS,
    PFCC_S_QRELS,
    PFCC_S_QUERIES,
    PFCC_S_URL,
    QQP_DEV_SIZE,
    QQP_HEADER,
    QQP_TRAIN_SIZE,
    QQP_URL,
)
from sentemb.pairs.sources import CQA_A_GOLD as CQA_A_GOLD_NAME
from sentemb.pairs.sources import CQA_B_GOLD as CQA_B_GOLD_NAME

# the module, not the function of the same name that the package re-exports
_download = importlib.import_module("sentemb.pairs.sources.download")


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


def zip_files(archive: Path, files: dict[str, str]) -> Path:
    """An archive of ``files`` (member path -> text), byte-identical on every run."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member, text in sorted(files.items()):
            zf.writestr(zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)), text.encode("utf-8"),
                        compress_type=zipfile.ZIP_DEFLATED)
    return archive


def raises_at(path: Path, line: int, match: str = ""):
    """``pytest.raises`` for a DataError whose message starts with ``path:line:``."""
    return pytest.raises(DataError, match=rf"^{path}:{line}: .*{match}")


# --- QQP (test_sources_qqp.py) ----------------------------------------------------------------

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

# --- Antique (test_sources_antique.py) --------------------------------------------------------

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

# --- SemEval Task 3 CQA-A / CQA-B (test_sources_cqa.py) ---------------------------------------

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<root>\n'
XML_TAIL = "</root>\n"
CQA_A_TRAIN_Q1 = """<Thread THREAD_SEQUENCE="Q1_R1">
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
"""
CQA_A_TRAIN_Q2 = """<Thread THREAD_SEQUENCE="Q2_R1">
  <RelQuestion RELQ_ID="Q2_R1" RELQ_CATEGORY="Travel">
    <RelQSubject>Visa</RelQSubject>
    <RelQBody></RelQBody>
  </RelQuestion>
  <RelComment RELC_ID="Q2_R1_C1" RELC_RELEVANCE2RELQ="Bad">
    <RelCText>lol</RelCText>
  </RelComment>
</Thread>
"""
CQA_A_TRAIN = XML_HEAD + CQA_A_TRAIN_Q1 + CQA_A_TRAIN_Q2 + XML_TAIL
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

# member paths inside the three archives: v3.2/ (2016 train+dev), English/ (2017 test), _gold/ (scorer)
CQA_ARCHIVE_TOP = {CQA_TRAINDEV_URL: "v3.2", CQA_TEST_URL: "English", CQA_GOLD_URL: "_gold"}
CQA_A_TRAIN_PATH = f"v3.2/train/{CQA_A_FILES['train'][0]}"
CQA_A_DEV_PATH = f"v3.2/dev/{CQA_A_FILES['dev'][0]}"
CQA_A_TEST_PATH = f"English/{CQA_A_FILES['test'][0]}"
CQA_A_GOLD_PATH = f"_gold/{CQA_A_GOLD_NAME}"
CQA_B_TRAIN_PATH = f"v3.2/train/{CQA_B_FILES['train'][0]}"
CQA_B_DEV_PATH = f"v3.2/dev/{CQA_B_FILES['dev'][0]}"
CQA_B_TEST_PATH = f"English/{CQA_B_FILES['test'][0]}"
CQA_B_GOLD_PATH = f"_gold/{CQA_B_GOLD_NAME}"
CQA_FILES = {
    CQA_A_TRAIN_PATH: CQA_A_TRAIN,
    CQA_A_DEV_PATH: CQA_A_DEV,
    CQA_A_TEST_PATH: CQA_A_TEST,
    CQA_A_GOLD_PATH: CQA_A_GOLD,
    CQA_B_TRAIN_PATH: CQA_B_TRAIN,
    CQA_B_DEV_PATH: CQA_B_DEV,
    CQA_B_TEST_PATH: CQA_B_TEST,
    CQA_B_GOLD_PATH: CQA_B_GOLD,
}

# --- PFCC-S (test_sources_pfcc.py) ------------------------------------------------------------

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
PFCC_CLAIMS_PATH = f"v3/{PFCC_S_CLAIMS}"
PFCC_FILES = {
    PFCC_CLAIMS_PATH: PFCC_CLAIMS,
    f"v3/train/{PFCC_S_QUERIES}": PFCC_TRAIN_TWEETS,
    f"v3/train/{PFCC_S_QRELS}": PFCC_TRAIN_QRELS,
    f"v3/dev/{PFCC_S_QUERIES}": PFCC_DEV_TWEETS,
    f"v3/dev/{PFCC_S_QRELS}": PFCC_DEV_QRELS,
}


# --- a pair download cache for the pipeline (populate_pair_cache) -----------------------------
#
# Each source's reader fixture above, plus a few invented rows so that every split is big
# enough to train on (8+ pairs) and every ranking query of every split has a relevant and a
# non-relevant candidate (under the paper profile's relevant_at).

# QQP: GLUE's QQP/{train,dev,test}.tsv. load_pair_task reads them with read_qqp's default sample
# sizes (the paper's 10k / 3k, which no config key changes), so the files hold exactly that many
# rows: the reader-test rows, then generated ones alternating duplicate / not duplicate.
QQP_SUBJECTS = ("chess", "the guitar", "French", "cooking", "swimming", "painting", "yoga", "photography",
                "running", "knitting", "coding", "gardening", "the piano", "dancing", "poetry", "tennis",
                "baking", "hiking", "singing", "drawing")
QQP_PARAPHRASES = (
    ("How do I get better at {}?", "What is the best way to improve at {}?"),
    ("Is {} hard to learn?", "How difficult is it to learn {}?"),
    ("Why do people enjoy {}?", "What makes {} so popular?"),
    ("How much time should I spend on {}?", "How many hours a week is enough for {}?"),
    ("What do I need to start {}?", "Which things should a beginner at {} buy?"),
)
QQP_TEST = "id\tquestion1\tquestion2\n0\tHow do I boil an egg?\tHow long should an egg boil?\n1\tIs it cold?\tWhy?\n"


def qqp_rows(header_and_rows: str, size: int, first_id: int) -> str:
    """``header_and_rows`` (a QQP TSV) topped up with generated rows to ``size`` data rows."""
    lines = header_and_rows.splitlines()
    assert tuple(lines[0].split("\t")) == QQP_HEADER and len(lines) - 1 <= size
    for k in range(size - (len(lines) - 1)):
        ident = first_id + k
        subject = QQP_SUBJECTS[k % len(QQP_SUBJECTS)]
        first, second = QQP_PARAPHRASES[(k // len(QQP_SUBJECTS)) % len(QQP_PARAPHRASES)]
        if k % 2 == 0:  # a paraphrase: duplicate
            question2, label = second.format(subject), 1
        else:  # the next template about another subject: not a duplicate
            other = QQP_PARAPHRASES[(k // len(QQP_SUBJECTS) + 1) % len(QQP_PARAPHRASES)][1]
            question2, label = other.format(QQP_SUBJECTS[(k + 7) % len(QQP_SUBJECTS)]), 0
        lines.append(f"{ident}\t{2 * ident}\t{2 * ident + 1}\t{first.format(subject)}\t{question2}\t{label}")
    return "\n".join(lines) + "\n"


def qqp_cache_files() -> dict[str, str]:
    """GLUE's QQP folder: QQP_TRAIN_SIZE train rows and QQP_DEV_SIZE dev rows (both classes)."""
    return {"QQP/train.tsv": qqp_rows(QQP_TRAIN, QQP_TRAIN_SIZE, 1_000),
            "QQP/dev.tsv": qqp_rows(QQP_DEV, QQP_DEV_SIZE, 100_000),
            "QQP/test.tsv": QQP_TEST}  # GLUE's unlabelled test, which nothing reads


# Antique: (query id, query, [(grade 1..4, answer), ...]); doc ids are "<qid>_<i>". With query 100
# of ANTIQUE, 15 training queries: ensure_splits moves round(10 %) = 2 of them to dev.
ANTIQUE_MORE = {
    "train": [
        ("101", "how do you remove a coffee stain", [(4, "Blot it with cold water and a little dish soap."),
                                                     (1, "Coffee is my favourite drink.")]),
        ("102", "why do cats purr", [(4, "Cats purr when they are content or soothing themselves."),
                                     (2, "My cat never stops meowing.")]),
        ("103", "how can i sleep better", [(4, "Keep a regular bedtime and avoid screens late at night."),
                                           (3, "Try counting sheep."), (1, "Sleep is for the weak.")]),
        ("104", "what is the best way to learn to swim", [(4, "Take lessons with an instructor in a shallow pool."),
                                                          (1, "Fish are good swimmers.")]),
        ("105", "how do i keep basil alive", [(4, "Give it sun, water it when the soil is dry, pinch off flowers."),
                                              (2, "Basil goes well with tomatoes.")]),
        ("106", "why does bread go stale", [(4, "The starch dries out and recrystallises over time."),
                                            (1, "I buy bread every day.")]),
        ("107", "how do you fix a squeaky door", [(4, "Put a few drops of oil on the hinges."),
                                                  (2, "Doors can be painted any colour.")]),
        ("108", "what should i pack for a hiking trip", [(4, "Water, a map, a rain jacket and some snacks."),
                                                         (1, "Hiking is fun.")]),
        ("109", "how can i save money on groceries", [(4, "Plan your meals and write a shopping list first."),
                                                      (3, "Buy store brands."), (1, "Money does not grow on trees.")]),
        ("110", "why is the ocean salty", [(4, "Rivers carry dissolved minerals from rocks into the sea."),
                                           (2, "The ocean is very big.")]),
        ("111", "how do i stop hiccups", [(4, "Hold your breath for a few seconds or sip cold water."),
                                          (1, "Hiccups sound funny.")]),
        ("112", "how do you make tea", [(4, "Pour boiling water over the leaves and steep for three minutes."),
                                        (2, "Tea comes from China.")]),
        ("113", "what makes a good password", [(4, "A long phrase of unrelated words that you use nowhere else."),
                                               (1, "My password is secret.")]),
        ("114", "how do i clean a cast iron pan", [(4, "Scrub it with hot water, dry it and rub in some oil."),
                                                   (2, "Cast iron is heavy.")]),
    ],
    "test": [
        ("201", "how do you tie a tie", [(4, "Cross the wide end over, loop it round and pull it through the knot."),
                                         (3, "Watch a video, it is easier."), (1, "Ties are out of fashion.")]),
    ],
}


def antique_cache_files() -> dict[str, str]:
    """ANTIQUE's five files with ANTIQUE_MORE's queries, answers and judgements appended."""
    files = dict(ANTIQUE)
    for split, queries in ANTIQUE_MORE.items():
        for qid, query, answers in queries:
            files[f"antique-{split}-queries.txt"] += f"{qid}\t{query}\n"
            for i, (grade, answer) in enumerate(answers):
                files["antique-collection.txt"] += f"{qid}_{i}\t{answer}\n"
                files[f"antique-{split}.qrel"] += f"{qid} U0 {qid}_{i} {grade}\n"
    return files


# CQA: (query id, subject, body, [(label, text), ...]); in a test split the label is the scorer's
# true / false, written to the gold file instead of the XML (the 2017 test input has no labels).
CQA_A_MORE = {
    "train": [
        ("Q3_R1", "Driving school", "Which driving school is good?",
         [("Good", "The one near the stadium has patient teachers."), ("Bad", "haha"),
          ("PotentiallyUseful", "Ask at the traffic office.")]),
        ("Q4_R1", "Phone plan", "Cheapest mobile data plan?",
         [("Good", "The prepaid plan of the red company is the cheapest."), ("Bad", "I use wifi only."),
          ("PotentiallyUseful", "Compare them online.")]),
        ("Q5_R1", "Dentist", "Can anyone recommend a dentist?",
         [("Good", "The clinic in the old town is excellent."), ("Bad", "Brush your teeth."), ("Bad", "lol")]),
        ("Q6_R1", "Weekend trip", "Where to go for a weekend?",
         [("Good", "The mountains are two hours away and lovely."), ("PotentiallyUseful", "Depends on your budget."),
          ("Bad", "Stay home.")]),
    ],
    "dev": [
        ("Q10_R1", "Laundry", "Is there a laundry service nearby?",
         [("Good", "There is one next to the bakery."), ("Bad", "Wash it yourself."),
          ("PotentiallyUseful", "Try the hotel.")]),
        ("Q11_R1", "Football", "Where can I play football?",
         [("Good", "The sports club has pitches every evening."), ("Bad", "I prefer tennis.")]),
    ],
    "test": [
        ("Q301_R1", "Bus", "How do I get a bus card?",
         [("true", "Buy it at any metro station."), ("false", "Walk instead."), ("false", "Buses are slow.")]),
    ],
}
CQA_B_MORE = {
    "train": [
        ("Q2", "Work visa", "How long does a work visa take?",
         [("PerfectMatch", "Visa time [SEP] How many weeks for a work visa?"),
          ("Irrelevant", "Beach [SEP] Best beach in town?"),
          ("Relevant", "Residence permit [SEP] Documents for a residence permit?")]),
        ("Q3", "Internet", "Which internet provider is fastest?",
         [("PerfectMatch", "Fast internet [SEP] Fastest home internet provider?"),
          ("Irrelevant", "Cooking [SEP] Where to buy spices?"), ("Irrelevant", "Cars [SEP] Selling my car?")]),
        ("Q4", "School", "Good international school?",
         [("Relevant", "Schools [SEP] Which school has the best teachers?"),
          ("Irrelevant", "Gym [SEP] Cheap gym membership?"),
          ("PerfectMatch", "International school [SEP] Recommend an international school?")]),
    ],
    "dev": [
        ("Q6", "Flat", "Where to rent a cheap flat?",
         [("PerfectMatch", "Cheap flats [SEP] Affordable flats to rent?"), ("Irrelevant", "Cars [SEP] Used cars?"),
          ("Irrelevant", "Pets [SEP] A vet for my dog?")]),
        ("Q7", "Doctor", "Is there an English speaking doctor?",
         [("Relevant", "Clinic [SEP] A clinic with English staff?"), ("Irrelevant", "Shopping [SEP] Best mall?")]),
    ],
    "test": [
        ("Q401", "Taxi", "Is a taxi expensive here?",
         [("true", "Taxi fares [SEP] How much is a taxi ride?"), ("false", "Weather [SEP] When does summer start?")]),
    ],
}


def _cqa_a_xml(threads: list, test: bool) -> tuple[str, str]:
    """Subtask A ``<Thread>`` elements (and, for a test split, the gold lines) of CQA_A_MORE rows."""
    xml, gold = "", ""
    for qid, subject, body, comments in threads:
        xml += (f'<Thread THREAD_SEQUENCE="{qid}">\n  <RelQuestion RELQ_ID="{qid}"><RelQSubject>{escape(subject)}'
                f"</RelQSubject><RelQBody>{escape(body)}</RelQBody></RelQuestion>\n")
        for i, (label, text) in enumerate(comments, 1):
            cid = f"{qid}_C{i}"
            attribute = "" if test else f' RELC_RELEVANCE2RELQ="{label}"'
            xml += f'  <RelComment RELC_ID="{cid}"{attribute}><RelCText>{escape(text)}</RelCText></RelComment>\n'
            gold += f"{qid}\t{cid}\t0\t0.0\t{label}\n" if test else ""
        xml += "</Thread>\n"
    return xml, gold


def _cqa_b_xml(questions: list, test: bool) -> tuple[str, str]:
    """Full-format ``<OrgQuestion>`` elements, one per related question, of CQA_B_MORE rows."""
    xml, gold = "", ""
    for qid, subject, body, related in questions:
        for i, (label, text) in enumerate(related, 1):
            rid = f"{qid}_R{i}"
            rel_subject, rel_body = text.split(" [SEP] ")
            attribute = "" if test else f' RELQ_RELEVANCE2ORGQ="{label}"'
            xml += (f'<OrgQuestion ORGQ_ID="{qid}"><OrgQSubject>{escape(subject)}</OrgQSubject>'
                    f"<OrgQBody>{escape(body)}</OrgQBody>\n"
                    f'  <Thread THREAD_SEQUENCE="{rid}"><RelQuestion RELQ_ID="{rid}"{attribute}>\n'
                    f"    <RelQSubject>{escape(rel_subject)}</RelQSubject><RelQBody>{escape(rel_body)}</RelQBody>"
                    "</RelQuestion></Thread>\n</OrgQuestion>\n")
            gold += f"{qid} {rid} {i} 0.0 {label}\n" if test else ""
    return xml, gold


def _append(xml: str, elements: str) -> str:
    assert xml.endswith(XML_TAIL)
    return xml[: -len(XML_TAIL)] + elements + XML_TAIL


def cqa_cache_files() -> dict[str, str]:
    """Both subtasks' files, keyed like CQA_FILES. The reader fixtures' queries whose candidates
    are all relevant or all not (CQA-A Q2_R1 and Q9_R1, CQA-B Q5) are left out."""
    a = {split: _cqa_a_xml(rows, split == "test") for split, rows in CQA_A_MORE.items()}
    b = {split: _cqa_b_xml(rows, split == "test") for split, rows in CQA_B_MORE.items()}
    return {
        CQA_A_TRAIN_PATH: XML_HEAD + CQA_A_TRAIN_Q1 + a["train"][0] + XML_TAIL,
        CQA_A_DEV_PATH: XML_HEAD + a["dev"][0] + XML_TAIL,
        CQA_A_TEST_PATH: _append(CQA_A_TEST, a["test"][0]),
        CQA_A_GOLD_PATH: CQA_A_GOLD + a["test"][1],
        CQA_B_TRAIN_PATH: _append(CQA_B_TRAIN, b["train"][0]),
        CQA_B_DEV_PATH: XML_HEAD + b["dev"][0] + XML_TAIL,
        CQA_B_TEST_PATH: _append(CQA_B_TEST, b["test"][0]),
        CQA_B_GOLD_PATH: CQA_B_GOLD + b["test"][1],
    }


# PFCC-S: (claim id, verified claim, title) and (tweet id, tweet, claim id it is debunked by). With
# tweets 1 and 2, 15 training tweets (2 move to dev); the official dev (tweets 7, 8, 30, 31) is test.
PFCC_MORE_CLAIMS = [
    ("5", "Drinking coffee stunts your growth.", "Does Coffee Stunt Growth?"),
    ("6", "A shark was found swimming on a flooded highway.", "Shark on a Highway?"),
    ("7", "The Great Wall of China is visible from space.", "Is the Great Wall Visible from Space?"),
    ("8", "A city banned umbrellas on Sundays.", "Umbrella Ban?"),
    ("9", "Eating carrots gives you night vision.", "Do Carrots Improve Night Vision?"),
    ("10", "A lottery winner gave all the money away to strangers.", "Lottery Giveaway?"),
    ("11", "Bananas are being recalled for containing glass.", "Banana Recall?"),
    ("12", "A penguin was elected to a town council.", "Penguin on the Council?"),
    ("13", "Phones charge faster in the freezer.", "Freezer Charging?"),
    ("14", "A statue in the park cried real tears.", "Crying Statue?"),
    ("15", "Wearing socks to bed cures insomnia.", "Socks for Sleep?"),
    ("16", "A volcano erupted in the middle of a city.", "City Volcano?"),
    ("17", "Goldfish have a three-second memory.", "Goldfish Memory?"),
    ("18", "A museum hung a painting upside down for decades.", "Upside-Down Painting?"),
    ("19", "Swallowed chewing gum stays in your stomach for seven years.", "Gum for Seven Years?"),
]
PFCC_MORE_TWEETS = {
    "train": [
        ("10", "my mom says coffee will keep me short lol", "5"),
        ("11", "SHARK ON THE FREEWAY after the storm!! pic.twitter.com/y", "6"),
        ("12", "you can totally see the great wall from orbit", "7"),
        ("13", "no umbrellas allowed on sunday?? what city is this", "8"),
        ("14", "eat your carrots and you will see in the dark", "9"),
        ("15", "this lottery winner just handed out millions to random people", "10"),
        ("16", "recall alert: glass found in bananas", "11"),
        ("17", "a penguin won the local election", "12"),
        ("18", "tip: put your phone in the freezer to charge it faster", "13"),
        ("19", "the statue in the park is crying, people are lining up", "14"),
        ("20", "socks at night = no more insomnia", "15"),
        ("21", "volcano erupts downtown, streets covered in ash", "16"),
        ("22", "goldfish forget everything after 3 seconds", "17"),
    ],
    "dev": [
        ("30", "that famous painting was hanging upside down the whole time", "18"),
        ("31", "swallowed my gum, guess it is in there for 7 years now", "19"),
    ],
}


def pfcc_cache_files() -> dict[str, str]:
    """PFCC_FILES with PFCC_MORE_CLAIMS and PFCC_MORE_TWEETS (and their qrels) appended."""
    files = dict(PFCC_FILES)
    files[PFCC_CLAIMS_PATH] += "".join(f"{key}\t{claim}\t{title}\n" for key, claim, title in PFCC_MORE_CLAIMS)
    for split, tweets in PFCC_MORE_TWEETS.items():
        files[f"v3/{split}/{PFCC_S_QUERIES}"] += "".join(f"{key}\t{tweet}\n" for key, tweet, _ in tweets)
        files[f"v3/{split}/{PFCC_S_QRELS}"] += "".join(f"{key}\t0\t{claim}\t1\n" for key, _, claim in tweets)
    return files


def _stage_qqp(staging: Path) -> str:
    return zip_files(staging / _download._filename(QQP_URL), qqp_cache_files()).as_uri()


def _stage_antique(staging: Path) -> str:  # fetch_antique's base_url: it appends the file names
    for name, text in antique_cache_files().items():
        write(staging / name, text)
    return staging.as_uri() + "/"


def _stage_cqa(staging: Path) -> tuple[str, ...]:
    files = cqa_cache_files()
    return tuple(zip_files(staging / _download._filename(url),
                           {k: v for k, v in files.items() if k.split("/", 1)[0] == CQA_ARCHIVE_TOP[url]}).as_uri()
                 for url in CQA_URLS)


def _stage_pfcc(staging: Path) -> str:
    return zip_files(staging / _download._filename(PFCC_S_URL), pfcc_cache_files()).as_uri()


# A merge patch (RFC 7386, as profiles are applied) onto the paper profile for a short pipeline run
# on a populated cache: every online task trains a few steps of batch 4 in one epoch and trial.
# The tasks' own train overrides must be patched too (QQP's and Antique's batch 50, the 6-7 epochs
# of QQP, CQA-B and PFCC-S), and QQP needs max_train_pairs: read_qqp always samples the paper's
# 10k / 3k, so its train split holds 9k pairs; its dev (1k, carved from train) and test (3k) sizes
# cannot be reduced by any config key. The ranking tasks keep max_train_pairs null: 12-29 pairs,
# and a random subset could leave the triplet method no query with both a positive and a negative.
PAPER_PAIRS_SCALED_DOWN = {"pairs": {
    "trials": 1,
    "train": {"batch_size": 4, "epochs": 1},
    "tasks": {
        "qqp": {"max_train_pairs": 16, "train": {"batch_size": 4, "epochs": 1},
                "source_args": {"train_size": 80, "dev_size": 12}},  # dev: 8 pairs carved from train
        "antique": {"train": {"batch_size": 4}},
        "cqa_b": {"train": {"epochs": 1}},
        "pfcc_s": {"train": {"epochs": 1}},
    },
}}


# source -> writes its upstream files (named as its real URLs name them) into a folder and returns
# the file:// stand-in for the URL argument of its fetch_<name> (url, base_url or urls)
STAGE: dict[str, Callable[[Path], str | tuple[str, ...]]] = {
    "qqp": _stage_qqp, "antique": _stage_antique, "cqa_a": _stage_cqa, "cqa_b": _stage_cqa, "pfcc_s": _stage_pfcc}


@contextmanager
def no_downloads() -> Iterator[list[str]]:
    """Make every download of the pair sources fail; yields the URLs that were attempted."""
    attempted: list[str] = []

    def refuse(url: str, *args: object, **kwargs: object) -> str:
        attempted.append(url)
        raise AssertionError(f"offline pair cache: fetch tried to download {url}")

    with mock.patch.object(_download, "download", refuse):
        yield attempted


def populate_pair_cache(cache_dir: Path, sources: Iterable[str] | None = None) -> None:
    """Fill the pair download cache ``cache_dir`` (what ``pairs.cache_dir`` names) with invented data.

    For each online source (keys of ``PAIR_SOURCES``; default all: qqp, antique, cqa_a, cqa_b,
    pfcc_s), writes what ``PAIR_SOURCES[source].fetch(cache_dir)`` -- the call
    ``run.load_pair_task`` makes -- would have downloaded and unpacked from the real upstream
    URLs: the files and archives under the names those URLs end in, archives in ``downloads/``
    and unpacked next to it, and a ``provenance.json`` naming the real URLs. The source's own
    fetch does the writing (fed ``file://`` copies), so the layout is the code's, not a copy of
    it; then the fetch is called again with its default URLs, downloads refused, to check that
    it finds everything. Files already in the cache are kept, as fetch keeps them. Fails if a
    source's real digest is ever pinned in ``PINNED_SHA256`` (invented bytes cannot match it).
    """
    cache_dir = Path(cache_dir)
    names = list(PAIR_SOURCES) if sources is None else list(dict.fromkeys(sources))
    unknown = [n for n in names if n not in PAIR_SOURCES]
    if unknown:
        raise ValueError(f"not online pair sources: {', '.join(unknown)} (known: {', '.join(PAIR_SOURCES)})")
    with tempfile.TemporaryDirectory(prefix="sentemb-pair-upstream-") as tmp, \
            mock.patch.object(_download.log, "disabled", True):  # no "not pinned" warning per file:// copy
        for name in names:
            staging = Path(tmp) / name
            staging.mkdir()
            PAIR_SOURCES[name].fetch(cache_dir, STAGE[name](staging))  # type: ignore[call-arg]
    with no_downloads():
        for name in names:
            PAIR_SOURCES[name].fetch(cache_dir)
