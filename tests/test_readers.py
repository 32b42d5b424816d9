"""Strict readers: SentEval semantics on the fixture mirror, and malformed input through prepare()."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MIRROR
from sentemb.config import DataConfig
from sentemb.data import readers
from sentemb.data.prepare import prepare
from sentemb.data.senteval import load_task, read_raw_task
from sentemb.data.tasks import TASKS, family
from sentemb.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
FIXTURE = MIRROR
DOWN = FIXTURE / "senteval" / "downstream"


@pytest.fixture(autouse=True)
def _no_mirror_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTEMB_DATA_MIRROR", raising=False)


def regenerate_sums(mirror: Path) -> None:
    """Rewrite SHA256SUMS so the parser, not the checksum check, meets a corrupted file."""
    files = sorted(p for p in mirror.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  ./{p.relative_to(mirror).as_posix()}\n"
             for p in files]
    (mirror / "SHA256SUMS").write_text("".join(lines))


def set_line(path: Path, number: int, new: bytes | None) -> None:
    """Replace (or with None delete) 1-based line ``number``, keeping a CRLF ending if it had one."""
    lines = path.read_bytes().split(b"\n")
    if new is None:
        del lines[number - 1]
    else:
        lines[number - 1] = new + (b"\r" if lines[number - 1].endswith(b"\r") else b"")
    path.write_bytes(b"\n".join(lines))


# --- readers on the fixture -----------------------------------------------------------------


def test_wiki_and_nli() -> None:
    wiki = readers.read_wiki(FIXTURE / "wiki1m_for_simcse.txt")
    assert len(wiki) == 20 and all(s == " ".join(s.split()) for s in wiki)
    assert wiki[0].endswith("guitar. and then it rested.")
    nli = readers.read_nli(FIXTURE / "nli_for_simcse.csv")  # CRLF, quoted commas, doubled quotes
    assert len(nli) == 10
    assert nli[2] == ("A man, smiling, plays a guitar.", "A man plays.", "Nobody plays, ever.")
    assert nli[4][0] == 'She said "hello" twice.'


def test_sts_drops_unscored_pairs_and_excludes_smt() -> None:
    folder = DOWN / "STS" / "STS12-en-test"
    pairs = readers.read_sts_subset(folder / "STS.input.MSRpar.txt", folder / "STS.gs.MSRpar.txt")
    assert [p.label for p in pairs] == [pytest.approx(0.37), 5.0, 0.0]  # line 3 has an empty gold
    assert pairs[0].text_a == "the problem likely will mean corrective changes ."
    assert pairs[0].text_b == "it said the problem needs fixing ."
    sts13 = read_raw_task("STS13", DOWN)
    assert list(sts13.splits) == ["FNWN", "headlines", "OnWN"] and sts13.kind == "sts"
    assert all(list(read_raw_task(t, DOWN).splits) == list(TASKS[t].splits) for t in family("sts"))


def test_stsb_is_never_csv_quoted_and_sick_skips_header() -> None:
    train = readers.read_stsb(DOWN / "STS" / "STSBenchmark" / "sts-train.csv")
    assert len(train) == 6
    quoted = ('" a quoted start .', 'the end " is here .', 2.6)
    assert (train[2].text_a, train[2].text_b, train[2].label) == quoted
    sick = readers.read_sick(DOWN / "SICK" / "SICK_test_annotated.txt")  # CRLF file
    assert len(sick) == 4 and all(1.0 <= ex.label <= 5.0 for ex in sick)
    assert not any("\r" in ex.text_b for ex in sick)
    task = read_raw_task("SICKRelatedness", DOWN)
    assert {k: len(v) for k, v in task.splits.items()} == {"train": 6, "dev": 4, "test": 4}


def test_binary_tasks_keep_blank_lines_and_read_latin1() -> None:
    mr = read_raw_task("MR", DOWN).splits["all"]
    assert [ex.label for ex in mr] == [1] * 6 + [0] * 5
    assert mr[5].text_a == "a café scene that works ."
    cr = read_raw_task("CR", DOWN).splits["all"]
    assert len(cr) == 9 and cr[3].text_a == "" and cr[3].label == 1
    subj = read_raw_task("SUBJ", DOWN).splits["all"]
    assert [ex.label for ex in subj] == [1] * 5 + [0] * 5  # objective first, label 1
    assert len(read_raw_task("MPQA", DOWN).splits["all"]) == 7


def test_sst2_trec_mrpc() -> None:
    sst = read_raw_task("SST2", DOWN)
    assert {k: len(v) for k, v in sst.splits.items()} == {"train": 8, "dev": 4, "test": 4}
    assert sst.splits["train"][1].label == 1 and not sst.splits["train"][1].text_a.endswith(" ")
    trec = read_raw_task("TREC", DOWN).splits["train"]
    assert [ex.label for ex in trec[:6]] == [0, 1, 2, 3, 4, 5]
    assert trec[3].text_a == "Who wrote `` Café Society '' ?"
    mrpc = read_raw_task("MRPC", DOWN)
    assert {k: len(v) for k, v in mrpc.splits.items()} == {"train": 6, "test": 4}
    assert mrpc.splits["train"][0].label == 0 and mrpc.splits["train"][0].text_b


def test_task_lists_and_unknown_task() -> None:
    assert list(TASKS) == family("sts") + family("transfer") and len(TASKS) == 14
    with pytest.raises(ConfigError, match="did you mean 'STS12'"):
        load_task("STS-12", DOWN)


# --- malformed input through prepare() ---------------------------------------------------------

D = "senteval/downstream/"
# (id, file relative to the mirror, 1-based line, new bytes for that line or None to delete it,
#  file the error must name (default: the corrupted one), line the error must name)
CASES: list[tuple[str, str, int, bytes | None, str | None, int]] = [
    ("sts_columns", D + "STS/STS14-en-test/STS.input.images.txt", 2, b"only one sentence .", None, 2),
    ("sts_three_columns", D + "STS/STS12-en-test/STS.input.MSRvid.txt", 3, b"a .\tb .\tc .", None, 3),
    ("sts_score_unparsable", D + "STS/STS15-en-test/STS.gs.belief.txt", 1, b"high", None, 1),
    ("sts_score_range", D + "STS/STS12-en-test/STS.gs.MSRvid.txt", 4, b"5.5", None, 4),
    ("sts_length_mismatch", D + "STS/STS16-en-test/STS.gs.headlines.txt", 4, None, None, 4),
    ("sts_input_shorter", D + "STS/STS13-en-test/STS.input.OnWN.txt", 1, None, None, 4),
    ("sts_empty_sentence", D + "STS/STS13-en-test/STS.input.headlines.txt", 1, b" \tsomething .", None, 1),
    ("sts_stray_break", D + "STS/STS14-en-test/STS.input.OnWN.txt", 2, "a\x85b .\tc .".encode(), None, 2),
    ("stsb_columns", D + "STS/STSBenchmark/sts-dev.csv", 3, b"a\tb\tc", None, 3),
    ("stsb_score", D + "STS/STSBenchmark/sts-test.csv", 2, b"g\tx\t2012\t0001\tn/a\ta .\tb .", None, 2),
    ("sick_score", D + "SICK/SICK_trial.txt", 3, b"9\tA b .\tC d .\t0.5\tNEUTRAL", None, 3),
    ("sick_crlf_columns", D + "SICK/SICK_test_annotated.txt", 4, b"12\tonly a sentence", None, 4),
    ("nli_columns", "nli_for_simcse.csv", 4, b"a,b", None, 4),
    ("nli_empty_cell", "nli_for_simcse.csv", 5, b"a,  ,c", None, 5),
    ("nli_header", "nli_for_simcse.csv", 1, b"premise,hypothesis,neg", None, 1),
    ("nli_unterminated_quote", "nli_for_simcse.csv", 11, b'a,b,"c', None, 11),
    ("wiki_empty_line", "wiki1m_for_simcse.txt", 7, b"", None, 7),
    ("wiki_blank_line", "wiki1m_for_simcse.txt", 12, b" \t ", None, 12),
    ("invalid_utf8", D + "SST/binary/sentiment-dev", 2, b"caf\xe9 ok \t1", None, 2),
    ("invalid_utf8_sts", D + "STS/STS16-en-test/STS.input.plagiarism.txt", 3, b"a \xff b .\tc .", None, 3),
    ("sst_label", D + "SST/binary/sentiment-test", 3, b"a fine film . \t2", None, 3),
    ("sst_columns", D + "SST/binary/sentiment-train", 5, b"no label here", None, 5),
    ("trec_class", D + "TREC/TREC_10.label", 2, b"FOO:bar What is this ?", None, 2),
    ("trec_no_question", D + "TREC/train_5500.label", 6, b"NUM:dist", None, 6),
    ("mrpc_label", D + "MRPC/msr_paraphrase_test.txt", 3, b"yes\t1\t2\tA b .\tC d .", None, 3),
    ("mrpc_columns", D + "MRPC/msr_paraphrase_train.txt", 2, b"1\t2\t3\tonly one", None, 2),
]


def _run_case(tmp_path: Path, rel: str, line: int, new: bytes | None) -> tuple[Path, Path, Path]:
    mirror = tmp_path / "mirror"
    shutil.copytree(FIXTURE, mirror)
    set_line(mirror / rel, line, new)
    regenerate_sums(mirror)
    return mirror, tmp_path / "out" / "prepared", tmp_path / "out" / "metrics" / "prepare.json"


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_input_is_reported_with_file_and_line(tmp_path: Path, case: tuple) -> None:
    _id, rel, line, new, named, expected_line = case
    mirror, out, metrics = _run_case(tmp_path, rel, line, new)
    cfg = DataConfig(source="mirror", mirror_dir=str(mirror), strict_upstream=False)
    with pytest.raises(DataError) as info:
        prepare(cfg, out, metrics)
    assert str(info.value).startswith(f"{mirror / (named or rel)}:{expected_line}: "), str(info.value)
    assert "\n" not in str(info.value)
    assert not out.exists() and not metrics.exists()
    assert list((tmp_path / "out").rglob("*")) == []  # no temp dir or staged metrics either


def test_distinct_case_count() -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 12


def test_stage_cli_reports_one_line_and_exit_2(tmp_path: Path) -> None:
    mirror, out, metrics = _run_case(tmp_path, D + "TREC/TREC_10.label", 3, b"XYZ:foo Why ?")
    job = tmp_path / "prepare.json"
    job.write_text(json.dumps({"source": "mirror", "mirror_dir": str(mirror), "strict_upstream": False}))
    env = {k: v for k, v in os.environ.items() if k != "SENTEMB_DATA_MIRROR"}
    result = subprocess.run(
        [sys.executable, str(REPO / "stages" / "prepare.py"), "--job", str(job), "--out", str(out),
         "--metrics", str(metrics)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    trec = mirror / D / "TREC" / "TREC_10.label"
    assert lines[0].startswith(f"error: {trec}:3: unknown class 'XYZ'")
    assert not out.exists() and not metrics.exists()


def test_read_lines_semantics(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"a\r\nb\n\nc")  # CRLF, a blank line, no final newline
    assert readers.read_lines(path) == ["a", "b", "", "c"]
    path.write_bytes(b"")
    assert readers.read_lines(path) == []
    with pytest.raises(DataError, match=r"f\.txt:2: stray line-break"):
        path.write_bytes(b"a\nb\rc\n")
        readers.read_lines(path)
    with pytest.raises(DataError, match="missing.txt: file not found"):
        readers.read_lines(tmp_path / "missing.txt")
