"""Readers for the organisers' and MTEB's layouts of the seven STS tasks (sentemb.data.formats).

Every fixture is written here, into tmp_path, with invented text in each layout's exact format.
The equivalence tests build official and MTEB copies of the offline mirror's files at test time
(never stored in the repository) and skip when the mirror is absent.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from conftest import REAL_MIRROR, needs_real_mirror
from sentemb.data import formats, readers, senteval
from sentemb.data.records import Example
from sentemb.data.tasks import TASKS, family
from sentemb.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]


MIRROR = REAL_MIRROR

NOTES = ("Source: invented forum thread 17, author nobody", "Source: invented forum thread 18")


def write(path: Path, lines: list[str], crlf: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    end = "\r\n" if crlf else "\n"
    path.write_bytes("".join(line + end for line in lines).encode("utf-8"))
    return path


def write_year(root: Path, task: str, pairs: dict[str, list[tuple[str, str, str]]], nested: bool = False) -> Path:
    """One year as its zip unpacks: (sentence 1, sentence 2, gold or '' for unscored) per subset."""
    year = formats.OFFICIAL_STS[task]
    folder = root / year.archive / year.folder if nested else root / year.folder
    for subset, rows in pairs.items():
        notes = "\t" + "\t".join(NOTES) if year.fields == 4 else ""
        write(folder / f"{year.prefix}.input.{subset}.txt", [f"{a}\t{b}{notes}" for a, b, _ in rows])
        write(folder / f"{year.prefix}.gs.{subset}.txt", [gold for _, _, gold in rows])
    return folder


def invented_pairs(task: str) -> dict[str, list[tuple[str, str, str]]]:
    """Three pairs per subset, the second unscored: enough to check order, dropping and subsets."""
    return {subset: [(f"The {subset} Cat  sat.", f"A cat sat ({i}).", "4.2"),
                     ("Nobody scored this.", "Nor this.", ""),
                     (f"Dogs bark in {subset}.", "Cats \"meow.", f"{i % 5}.5")]
            for i, subset in enumerate(TASKS[task].splits)}


def write_all_years(root: Path) -> None:
    for task in formats.OFFICIAL_STS:
        write_year(root, task, invented_pairs(task), nested=task == "STS14")


STSB_LINES = {
    "train": ["main-captions\tMSRvid\t2012train\t0001\t5.000\tA Man is playing a flute.\tA man plays the flute.",
              'main-forums\tdeft-forum\t2014\t0002\t1.250\tHe said "no.\tShe said yes."\tlicence: invented\tby-sa',
              "main-news\theadlines\t2013\t0003\t0.000\tStocks  fell.\tRain is wet.\tnote only"],
    "dev": ["main-captions\timages\t2014\t0004\t3.800\tA red bus.\tThe bus is red."],
    "test": ["main-forums\tanswer-answer\t2016\t0005\t2.000\t\"Quoted\" start.\tEnd \"quote\tx\ty"],
}


def write_stsb(root: Path) -> Path:
    folder = root / "stsbenchmark"
    for split, lines in STSB_LINES.items():
        write(folder / f"sts-{split}.csv", lines)
    return folder


SICK_ROWS = [  # (pair_ID, A, B, relatedness, SemEval_set), deliberately not in pair_ID order
    (7, "A dog runs in the grass", "A dog is running on grass", "4.7", "TRAIN"),
    (2, "A man cuts an onion", "Nobody cuts an onion", "3.1", "TRIAL"),
    (3, "Two kids play", "Two children are playing", "4.9", "TRAIN"),
    (9, "A woman sings", "A cat sleeps", "1", "TEST"),
    (5, "A plane lands", "An airplane is landing", "5", "TEST"),
]


def sick_line(pair_id: int, a: str, b: str, score: str, semeval_set: str) -> str:
    return "\t".join([str(pair_id), a, b, "NEUTRAL", score, "A_neutral_B", "B_neutral_A",
                      a + " (orig)", b + " (orig)", "FLICKR", "SEMEVAL", semeval_set])


def write_sick_txt(root: Path, rows: list[tuple] = SICK_ROWS) -> Path:
    return write(root / "SICK.txt", ["\t".join(formats.SICK_HEADER)] + [sick_line(*r) for r in rows], crlf=True)


def write_jsonl_gz(path: Path, objects: list, raw: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = raw if raw is not None else [json.dumps(o, ensure_ascii=False) for o in objects]
    path.write_bytes(gzip.compress("".join(line + "\n" for line in lines).encode("utf-8")))
    return path


def mteb_rows(n: int, tag: str) -> list[dict]:
    return [{"sentence1": f"{tag} Sentence {i}  one.", "sentence2": f"{tag} sentence {i} two", "score": 1.0 + i % 4}
            for i in range(n)]


def write_mteb(root: Path) -> None:
    for task, repo in formats.MTEB_REPOS.items():
        for split, stem in formats.MTEB_SPLITS[task].items():
            write_jsonl_gz(root / repo / f"{stem}.jsonl.gz", mteb_rows(3, f"{task}-{split}"))
    write_jsonl_gz(root / "sts12-sts" / "train.jsonl.gz", mteb_rows(7, "ignored"))


def sizes(task) -> dict[str, int]:
    return {split: len(examples) for split, examples in task.splits.items()}


# --- official layout ---------------------------------------------------------------------------


def test_official_sts16_four_fields_and_blank_gold(tmp_path: Path) -> None:
    write_year(tmp_path, "STS16", invented_pairs("STS16"))
    task = formats.read_task("STS16", tmp_path, "official")
    assert task.name == "STS16" and task.kind == "sts"
    assert list(task.splits) == list(TASKS["STS16"].splits)
    first = task.splits["answer-answer"]
    assert first == [Example("The answer-answer Cat sat.", 4.2, "A cat sat (0)."),
                     Example("Dogs bark in answer-answer.", 0.5, 'Cats "meow.')]  # raw case, notes ignored


def test_official_every_year_flat_or_in_archive_folder(tmp_path: Path) -> None:
    write_all_years(tmp_path)
    (tmp_path / "test-gs" / "STS.gs.SMT.txt").write_text("1.0\n2.0\n")  # shipped without input: unused
    for task in formats.OFFICIAL_STS:
        data = formats.read_task(task, tmp_path)  # layout detected
        assert sizes(data) == {s: 2 for s in TASKS[task].splits}
    assert formats.official_sts_dir("STS14", tmp_path) == tmp_path / "STS2014-en-test" / "sts-en-test-gs-2014"


def test_official_folder_missing_or_twice(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        formats.read_task("STS15", tmp_path, "official")
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'test_evaluation_task2a'}: STS15 folder not found (nor ")
    assert "unzip STS2015-en-test.zip" in msg and "\n" not in msg
    write_year(tmp_path, "STS12", invented_pairs("STS12"))
    write_year(tmp_path, "STS12", invented_pairs("STS12"), nested=True)
    with pytest.raises(DataError, match="STS12 folder found twice"):
        formats.read_task("STS12", tmp_path, "official")


def test_official_stsb_extra_columns_and_stray_quotes(tmp_path: Path) -> None:
    write_stsb(tmp_path)
    task = formats.read_task("STSBenchmark", tmp_path, "official")
    assert sizes(task) == {"train": 3, "dev": 1, "test": 1}
    assert task.splits["train"][1] == Example('He said "no.', 1.25, 'She said yes."')
    assert task.splits["train"][2].text_a == "Stocks fell."
    assert task.splits["test"][0] == Example('"Quoted" start.', 2.0, 'End "quote')
    shutil.move(tmp_path / "stsbenchmark", tmp_path / "Stsbenchmark" / "stsbenchmark")
    assert formats.read_task("STSBenchmark", tmp_path, "official") == task


def test_official_sick_txt_splits_in_pair_id_order(tmp_path: Path) -> None:
    write_sick_txt(tmp_path)
    task = formats.read_task("SICKRelatedness", tmp_path, "official")
    assert task.splits == {
        "train": [Example("Two kids play", 4.9, "Two children are playing"),
                  Example("A dog runs in the grass", 4.7, "A dog is running on grass")],
        "dev": [Example("A man cuts an onion", 3.1, "Nobody cuts an onion")],
        "test": [Example("A plane lands", 5.0, "An airplane is landing"),
                 Example("A woman sings", 1.0, "A cat sleeps")],
    }


def test_official_sick_semeval_files_or_both(tmp_path: Path) -> None:
    header = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"
    for name in formats.SICK_SEMEVAL.values():
        write(tmp_path / name, [header, "4\tA bird flies\tA bird is flying\t4.8\tENTAILMENT"])
    task = formats.read_task("SICKRelatedness", tmp_path, "official")
    assert sizes(task) == {"train": 1, "dev": 1, "test": 1}
    write_sick_txt(tmp_path)
    with pytest.raises(DataError, match="both SICK.txt and SICK_train.txt found"):
        formats.read_task("SICKRelatedness", tmp_path, "official")


# --- mteb layout ---------------------------------------------------------------------------------


def test_mteb_splits(tmp_path: Path) -> None:
    write_mteb(tmp_path)
    assert formats.detect_layout(tmp_path) == "mteb"
    sts12 = formats.read_task("STS12", tmp_path)
    assert sizes(sts12) == {"test": 3}  # train.jsonl.gz is not an evaluation split
    assert sts12.splits["test"][0] == Example("STS12-test Sentence 0 one.", 1.0, "STS12-test sentence 0 two")
    assert list(formats.read_task("STSBenchmark", tmp_path).splits) == ["train", "dev", "test"]
    assert formats.read_task("STSBenchmark", tmp_path).splits["dev"][0].text_a.startswith("STSBenchmark-dev ")
    sick = formats.read_task("SICKRelatedness", tmp_path)
    assert list(sick.splits) == [formats.MTEB_SICK_SPLIT] == ["full"]  # never "test": another pair set
    assert formats.known_sizes("SICKRelatedness", "mteb") == {"full": 9927}
    assert formats.known_sizes("SICKRelatedness", "official") == {"train": 4500, "dev": 500, "test": 4927}


def test_mteb_missing_repo_names_the_folder(tmp_path: Path) -> None:
    write_jsonl_gz(tmp_path / "sts12-sts" / "test.jsonl.gz", mteb_rows(2, "x"))
    with pytest.raises(DataError, match=r"sts16-sts: folder not found: download mteb/sts16-sts there"):
        formats.read_task("STS16", tmp_path, "mteb")
    (tmp_path / "stsbenchmark-sts").mkdir()
    with pytest.raises(DataError, match=r"stsbenchmark-sts/train.jsonl.gz: file not found"):
        formats.read_task("STSBenchmark", tmp_path, "mteb")


def test_mteb_copy_of_stsb_equals_csv_reader(tmp_path: Path) -> None:
    """MTEB-layout copy of an invented official STS-B: the same (text, gold) pair for pair."""
    write_stsb(tmp_path / "official")
    check_mteb_copy_of_stsb(tmp_path / "official" / "stsbenchmark", tmp_path / "mteb")


def check_mteb_copy_of_stsb(csv_dir: Path, mteb_root: Path) -> None:
    for split, stem in formats.MTEB_SPLITS["STSBenchmark"].items():
        rows = []
        for line in readers.read_lines(csv_dir / f"sts-{split}.csv"):
            cols = line.split("\t")
            rows.append({"sentence1": cols[5], "sentence2": cols[6], "score": float(cols[4])})  # as given
        write_jsonl_gz(mteb_root / "stsbenchmark-sts" / f"{stem}.jsonl.gz", rows)
    mteb = formats.read_task("STSBenchmark", mteb_root, "mteb")
    csv = {split: readers.read_stsb(csv_dir / f"sts-{split}.csv") for split in ("train", "dev", "test")}
    assert mteb.splits == csv


# --- detection and dispatch ------------------------------------------------------------------


def test_detect_layout(tmp_path: Path) -> None:
    official, mteb, sick_only = tmp_path / "o", tmp_path / "m", tmp_path / "s"
    write_all_years(official)
    write_mteb(mteb)
    write_sick_txt(sick_only)
    assert formats.detect_layout(official) == "official" and formats.detect_layout(sick_only) == "official"
    assert formats.detect_layout(mteb) == "mteb"
    senteval_root = tmp_path / "d"
    write(senteval_root / "STS" / "STS12-en-test" / "STS.input.MSRpar.txt", ["a\tb"])
    assert formats.detect_layout(senteval_root) == "senteval"
    write_mteb(senteval_root)
    with pytest.raises(DataError, match=r"several layouts \(senteval, mteb\); pass the layout explicitly"):
        formats.detect_layout(senteval_root)
    empty = tmp_path / "e"
    (empty / "senteval" / "downstream").mkdir(parents=True)
    with pytest.raises(DataError) as err:
        formats.detect_layout(empty)
    msg = str(err.value)
    assert msg.startswith(f"{empty}: no known data layout: looked for SentEval's STS/STS12-en-test/")
    assert "MTEB's sts12-sts/" in msg and "its senteval/downstream folder" in msg and "\n" not in msg
    with pytest.raises(DataError, match="data directory not found"):
        formats.detect_layout(tmp_path / "nowhere")


def test_read_task_names(tmp_path: Path) -> None:
    write_mteb(tmp_path)
    with pytest.raises(ConfigError, match=r"unknown task 'STS-16' \(did you mean 'STS16'\?\)"):
        formats.read_task("STS-16", tmp_path)
    with pytest.raises(ConfigError, match=r"task 'MRPC' is not in the mteb layout.*layout 'senteval'"):
        formats.read_task("MRPC", tmp_path)
    with pytest.raises(ConfigError, match=r"unknown data layout 'oficial' \(did you mean 'official'\?\)"):
        formats.read_task("STS12", tmp_path, "oficial")


# --- malformed input: every case names the file and line ---------------------------------------

STS12_OK = [("A b.", "C d.", "1.0"), ("E f.", "G h.", "2.0"), ("I j.", "K l.", "3.0")]
STS16_OK = [("A b.", "C d.", "1.0"), ("E f.", "G h.", ""), ("I j.", "K l.", "3.0")]


def _year_file(root: Path, task: str, kind: str, rows=None) -> Path:
    rows = rows or (STS16_OK if task == "STS16" else STS12_OK)
    subset = list(TASKS[task].splits)[0]
    for other in TASKS[task].splits:
        write_year(root, task, {other: rows})
    year = formats.OFFICIAL_STS[task]
    return root / year.folder / f"{year.prefix}.{kind}.{subset}.txt"


def _replace(path: Path, number: int, new: str | None) -> None:
    lines = path.read_bytes().decode("utf-8", "surrogateescape").split("\n")
    if new is None:
        del lines[number - 1]
    else:
        lines[number - 1] = new
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))


# (id, task, builder returning the file to corrupt, line, new text or None to delete, error line, match)
OFFICIAL_CASES = [
    ("sts16_three_fields", "STS16", "input", 2, "a .\tb .\tonly one note", 2, "expected 4 tab-separated fields"),
    ("sts16_five_fields", "STS16", "input", 1, "a\tb\tc\td\te", 1, r"2 sentences and 2 source notes\), got 5"),
    ("sts12_three_fields", "STS12", "input", 3, "a .\tb .\tc .", 3, r"expected 2 tab-separated fields \(2 sent"),
    ("sts_gold_text", "STS15", "gs", 2, "high", 2, "score 'high' is not a number"),
    ("sts_gold_range", "STS14", "gs", 1, "5.5", 1, r"outside \[0, 5\]"),
    ("sts_gold_blank_spaces", "STS13", "gs", 3, "  ", 3, "is not a number"),
    ("sts_empty_sentence", "STS12", "input", 1, " \tsomething .", 1, "empty sentence"),
    ("sts_stray_cr", "STS15", "input", 2, "a\rb\tc", 2, "stray line-break"),
    ("sts_invalid_utf8", "STS16", "input", 3, "caf\udce9\tb\tn1\tn2", 3, "invalid UTF-8"),
    ("sts_gold_shorter", "STS16", "gs", 2, None, 3, "file ends after 2 lines"),
    ("sts_input_shorter", "STS13", "input", 1, None, 3, "file ends after 2 lines"),
]


@pytest.mark.parametrize("case", OFFICIAL_CASES, ids=[c[0] for c in OFFICIAL_CASES])
def test_official_sts_malformed(tmp_path: Path, case: tuple) -> None:
    _id, task, kind, number, new, line, match = case
    path = _year_file(tmp_path, task, kind)
    _replace(path, number, new)
    with pytest.raises(DataError, match=match) as err:
        formats.read_task(task, tmp_path, "official")
    assert (err.value.path, err.value.line) == (str(path), line)
    assert str(err.value).startswith(f"{path}:{line}: ")


SICK_CASES = [
    ("header", 1, "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment", 1, "12 SICK.txt columns"),
    ("columns", 3, "2\tA man\tA woman\tNEUTRAL\t3.1", 3, "expected 12 tab-separated columns, got 5"),
    ("pair_id", 2, sick_line("x7", "a", "b", "4", "TRAIN"), 2, "pair_ID 'x7' is not a positive integer"),
    ("semeval_set", 4, sick_line(3, "a", "b", "4", "DEV"), 4, "SemEval_set 'DEV' is not one of"),
    ("score", 5, sick_line(9, "a", "b", "0.5", "TEST"), 5, r"outside \[1, 5\]"),
    ("empty_sentence", 6, sick_line(5, "a", "  ", "4", "TEST"), 6, "empty sentence"),
    ("duplicate", 6, sick_line(7, "a", "b", "4", "TEST"), 6, r"pair_ID 7 repeated \(first on line 2\)"),
]


@pytest.mark.parametrize("case", SICK_CASES, ids=[c[0] for c in SICK_CASES])
def test_sick_txt_malformed(tmp_path: Path, case: tuple) -> None:
    _id, number, new, line, match = case
    path = write_sick_txt(tmp_path)
    _replace(path, number, new)
    with pytest.raises(DataError, match=match) as err:
        formats.read_task("SICKRelatedness", tmp_path, "official")
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_sick_txt_missing_split_and_stsb_malformed(tmp_path: Path) -> None:
    path = write_sick_txt(tmp_path, [r for r in SICK_ROWS if r[4] != "TRIAL"])
    with pytest.raises(DataError, match="no dev rows"):
        formats.read_task("SICKRelatedness", tmp_path, "official")
    folder = write_stsb(tmp_path)
    _replace(folder / "sts-train.csv", 2, "main\tfile\t2012\t0002\tn/a\ta .\tb .")
    with pytest.raises(DataError, match="score 'n/a' is not a number") as err:
        formats.read_task("STSBenchmark", tmp_path, "official")
    assert str(err.value).startswith(f"{folder / 'sts-train.csv'}:2: ")
    _replace(folder / "sts-train.csv", 2, "main\tfile\t2012\t0002\t3.0\tonly one sentence")
    with pytest.raises(DataError, match="at least 7 tab-separated columns") as err:
        formats.read_task("STSBenchmark", tmp_path, "official")
    assert str(err.value).startswith(f"{folder / 'sts-train.csv'}:2: ")
    assert path.exists()


GOOD = '{"sentence1": "A b.", "sentence2": "C d.", "score": 2.5}'
MTEB_CASES = [
    ("bad_json", '{"sentence1": "a", "sentence2": "b", "score": 2.5', "invalid JSON"),
    ("not_object", '["a", "b", 2.5]', "expected a JSON object, got list"),
    ("missing_key", '{"sentence1": "a", "sentence2": "b"}', r"missing key\(s\) score"),
    ("score_string", '{"sentence1": "a", "sentence2": "b", "score": "2.5"}', "score '2.5' is not a number"),
    ("score_bool", '{"sentence1": "a", "sentence2": "b", "score": true}', "score True is not a number"),
    ("score_null", '{"sentence1": "a", "sentence2": "b", "score": null}', "score None is not a number"),
    ("score_range", '{"sentence1": "a", "sentence2": "b", "score": 5.01}', r"outside \[0, 5\]"),
    ("score_nan", '{"sentence1": "a", "sentence2": "b", "score": NaN}', r"score nan outside \[0, 5\]"),
    ("empty_sentence", '{"sentence1": "   ", "sentence2": "b", "score": 1}', "empty sentence"),
    ("sentence_number", '{"sentence1": 3, "sentence2": "b", "score": 1}', "sentence1 is int, not a string"),
    ("blank_line", "", "empty line"),
]


@pytest.mark.parametrize("case", MTEB_CASES, ids=[c[0] for c in MTEB_CASES])
def test_mteb_malformed(tmp_path: Path, case: tuple) -> None:
    _id, bad, match = case
    path = write_jsonl_gz(tmp_path / "sts13-sts" / "test.jsonl.gz", [], raw=[GOOD, GOOD, bad, GOOD])
    with pytest.raises(DataError, match=match) as err:
        formats.read_task("STS13", tmp_path, "mteb")
    assert str(err.value).startswith(f"{path}:3: ")


def test_mteb_sick_scale_utf8_and_gzip(tmp_path: Path) -> None:
    sick = tmp_path / "sickr-sts" / "test.jsonl.gz"
    write_jsonl_gz(sick, [{"sentence1": "a", "sentence2": "b", "score": 4}, {"sentence1": "a", "sentence2": "b",
                                                                             "score": 0.5}])
    with pytest.raises(DataError, match=r"outside \[1, 5\]") as err:
        formats.read_task("SICKRelatedness", tmp_path, "mteb")
    assert str(err.value).startswith(f"{sick}:2: ")
    path = tmp_path / "sts14-sts" / "test.jsonl.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(GOOD.encode() + b"\n" + b'{"sentence1": "caf\xe9"}\n'))
    with pytest.raises(DataError, match="invalid UTF-8") as err:
        formats.read_task("STS14", tmp_path, "mteb")
    assert str(err.value).startswith(f"{path}:2: ")
    path.write_bytes(gzip.compress(GOOD.encode())[:-6])  # truncated: no line to name, the file is named
    with pytest.raises(DataError, match=r"test.jsonl.gz: not a complete gzip file"):
        formats.read_task("STS14", tmp_path, "mteb")
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(DataError, match=r"test.jsonl.gz: empty file"):
        formats.read_task("STS14", tmp_path, "mteb")


# --- equivalence with SentEval's processed copy (acceptance) ----------------------------------


def _copy_year_as_published(down: Path, task: str, root: Path) -> None:
    """The mirror's processed files renamed as the zip ships them; STS16 inputs get two source notes."""
    year = formats.OFFICIAL_STS[task]
    src, dst = down / "STS" / f"{task}-en-test", root / year.folder
    dst.mkdir(parents=True)
    for subset in TASKS[task].splits:
        lines = readers.read_lines(src / f"STS.input.{subset}.txt")
        if year.fields == 4:
            lines = [f"{line}\t{NOTES[0]} #{i}\t{NOTES[1]}" for i, line in enumerate(lines)]
        write(dst / f"{year.prefix}.input.{subset}.txt", lines)
        shutil.copyfile(src / f"STS.gs.{subset}.txt", dst / f"{year.prefix}.gs.{subset}.txt")


def _sick_txt_from_semeval(down: Path, root: Path) -> None:
    """A 12-column SICK.txt holding the three SemEval files' rows, interleaved in pair_ID order."""
    rows = []
    for semeval_set, name in zip(formats.SICK_SETS, ("SICK_train.txt", "SICK_trial.txt", "SICK_test_annotated.txt")):
        for line in readers.read_lines(down / "SICK" / name)[1:]:
            pair_id, a, b, score = line.split("\t")[:4]
            rows.append((int(pair_id), a, b, score, semeval_set))
    write_sick_txt(root, sorted(rows))


@needs_real_mirror
def test_official_copy_of_mirror_equals_senteval(tmp_path: Path) -> None:
    """Read as published, every year gives SentEval's pairs: count, order, gold (and text, copied)."""
    down = MIRROR / "senteval" / "downstream"
    for task in formats.OFFICIAL_STS:
        _copy_year_as_published(down, task, tmp_path)
    shutil.copytree(down / "STS" / "STSBenchmark", tmp_path / "stsbenchmark")
    _sick_txt_from_semeval(down, tmp_path)
    assert formats.detect_layout(tmp_path) == "official"
    for task in family("sts"):
        ours, theirs = formats.read_task(task, tmp_path), senteval.read_raw_task(task, down)
        assert sizes(ours) == sizes(theirs) == {s: x.size for s, x in TASKS[task].splits.items()}, task
        assert ours.splits == theirs.splits, task


@needs_real_mirror
def test_mteb_copy_of_mirror_stsb_equals_csv_reader(tmp_path: Path) -> None:
    check_mteb_copy_of_stsb(MIRROR / "senteval" / "downstream" / "STS" / "STSBenchmark", tmp_path)
    assert sizes(formats.read_task("STSBenchmark", tmp_path, "mteb")) == formats.known_sizes("STSBenchmark", "mteb")
