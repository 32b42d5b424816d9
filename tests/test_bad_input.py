"""Every bad input to ``sentemb evaluate`` ends in one line on stderr, exit status 2 and nothing
written (no result, no per-item file, no cache), before any encoding. Each case is run in
process through the real command line (``sentemb.cli.main``).

The malformed-file cases of test_readers.py (run there through ``prepare``) are replayed here
through ``evaluate --data-dir <a SentEval downstream dir>``: the same file and line must be named.
The verification of a raw downstream dir (a cut STS12 is refused, or flagged everywhere when
allowed) runs on the real offline mirror.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import MIRROR, REAL_MIRROR, needs_real_mirror
from sentemb.cli import DATA_DIR_HELP, main
from test_readers import CASES as MALFORMED
from test_readers import set_line

DOWN = MIRROR / "senteval" / "downstream"


pytestmark = pytest.mark.usefixtures("restore_root_logging")


@dataclass
class Ctx:
    tmp: Path
    model: Path  # the tiny BERT of conftest
    out: Path = field(init=False)

    def __post_init__(self) -> None:
        self.out = self.tmp / "out"

    def model_copy(self) -> Path:
        return Path(shutil.copytree(self.model, self.tmp / "model"))

    def data_copy(self) -> Path:
        return Path(shutil.copytree(DOWN, self.tmp / "downstream"))


def base_args(ctx: Ctx) -> dict[str, str | None]:
    """A good invocation: each case changes one thing of it (``None`` drops a flag)."""
    return {"--model": str(ctx.model), "--pooler": "avg", "--tasks": "STS12", "--data-dir": str(DOWN),
            "--output": str(ctx.out / "result.json"), "--items": str(ctx.out / "items.npz"),
            "--cache-dir": str(ctx.out / "cache"), "--allow-unverified": ""}


def argv(args: dict[str, str | None]) -> list[str]:
    out = ["evaluate"]
    for flag, value in args.items():
        if value is not None:
            out += [flag] if value == "" else [flag, value]
    return out


def _model_without(name: str) -> Callable[[Ctx], dict]:
    def setup(ctx: Ctx) -> dict:
        model = ctx.model_copy()
        (model / name).unlink()
        return {"--model": str(model)}
    return setup


def _model_config(edit: Callable[[dict], object] | str) -> Callable[[Ctx], dict]:
    def setup(ctx: Ctx) -> dict:
        model = ctx.model_copy()
        path = model / "config.json"
        if isinstance(edit, str):
            path.write_text(edit)
        else:
            config = json.loads(path.read_text())
            edit(config)
            path.write_text(json.dumps(config, indent=2))
        return {"--model": str(model)}
    return setup


def _empty_model(ctx: Ctx) -> dict:
    (ctx.tmp / "empty").mkdir()
    return {"--model": str(ctx.tmp / "empty")}


def _truncated_weights(ctx: Ctx) -> dict:
    model = ctx.model_copy()
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    return {"--model": str(model)}


def _model_without_pooler_layer(ctx: Ctx) -> dict:
    from safetensors.torch import load_file, save_file

    model = ctx.model_copy()
    weights = load_file(model / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("pooler.")}, model / "model.safetensors",
              metadata={"format": "pt"})
    return {"--model": str(model), "--pooler": "cls"}


def _gold_all_equal(ctx: Ctx) -> dict:
    data = ctx.data_copy()
    gold = data / "STS" / "STS12-en-test" / "STS.gs.MSRvid.txt"
    gold.write_text("".join("3.0\n" for _ in gold.read_text().splitlines()))
    return {"--data-dir": str(data)}


def _file_as_parent(flag: str, name: str) -> Callable[[Ctx], dict]:
    def setup(ctx: Ctx) -> dict:
        ctx.tmp.joinpath("a-file").write_text("not a directory")
        return {flag: str(ctx.tmp / "a-file" / name)}
    return setup


def _directory_as_output(ctx: Ctx) -> dict:
    (ctx.tmp / "a-dir").mkdir()
    return {"--output": str(ctx.tmp / "a-dir")}


def _no_layout(ctx: Ctx) -> dict:
    (ctx.tmp / "stuff").mkdir()
    (ctx.tmp / "stuff" / "notes.txt").write_text("nothing a reader knows\n")
    return {"--data-dir": str(ctx.tmp / "stuff")}


def _const(**changes: str | None) -> Callable[[Ctx], dict]:
    return lambda ctx: dict(changes)


# (id, setup returning the flags it changes, regex the one stderr line must match after "error: ")
BAD: list[tuple[str, Callable[[Ctx], dict], str]] = [
    ("model_missing", lambda c: {"--model": str(c.tmp / "nope")}, r".*/nope: no such model directory$"),
    ("model_not_on_the_hub", _const(**{"--model": "nosuchorg/nosuchmodel"}),
     r"model 'nosuchorg/nosuchmodel': not a local directory and could not be fetched from the hub"),
    ("model_is_a_file", lambda c: {"--model": str(c.model / "config.json")},
     r".*/config\.json: not a model directory$"),
    ("model_dir_empty", _empty_model, r".*/empty/config\.json: missing: .*\(the directory is empty\)$"),
    ("model_without_config", _model_without("config.json"), r".*/model/config\.json: missing: not a Hugging Face"),
    ("model_broken_config", _model_config('{"model_type": "bert",\n  "hidden_size": }\n'),
     r".*/model/config\.json:2: invalid JSON"),
    ("model_config_not_a_model", _model_config(lambda c: c.pop("model_type")), r".*/model: cannot be loaded"),
    ("model_without_weights", _model_without("model.safetensors"), r".*/model: no weights file"),
    ("model_weights_mismatch", _model_config(lambda c: c.update(intermediate_size=40)),
     r".*/model: the weights do not match the config"),
    ("model_weights_missing", _model_config(lambda c: c.update(num_hidden_layers=3)),
     r".*/model: the weights do not match the config: \d+ parameters missing"),
    ("model_weights_truncated", _truncated_weights, r".*/model: cannot be loaded"),
    ("pooler_cls_without_pooler_layer", _model_without_pooler_layer, r"pooler 'cls' reads the model's pooler layer"),
    ("pooler_typo", _const(**{"--pooler": "clss"}), r"--pooler: invalid value 'clss'.*did you mean 'cls'"),
    ("batch_size_zero", _const(**{"--batch-size": "0"}), r"--batch-size must be >= 1, got 0$"),
    ("batch_size_negative", _const(**{"--batch-size": "-4"}), r"--batch-size must be >= 1, got -4$"),
    ("max_length_zero", _const(**{"--max-length": "0"}), r"--max-length must be >= 1 .*, got 0$"),
    ("max_length_negative", _const(**{"--max-length": "-1"}), r"--max-length must be >= 1 .*, got -1$"),
    ("first_layer_index", _const(**{"--first-layer-index": "2"}), r"--first-layer-index: invalid value 2"),
    ("precision", _const(**{"--precision": "fp16"}), r"--precision must be fp32 or bf16, got 'fp16'$"),
    ("mode_typo", _const(**{"--mode": "tests"}), r"--mode: invalid value 'tests'.*did you mean 'test'"),
    ("task_unknown", _const(**{"--tasks": "STS-12"}), r".*unknown task 'STS-12'.*did you mean 'STS12'"),
    ("tasks_empty", _const(**{"--tasks": " , "}), r"--tasks: empty selection"),
    ("task_without_dev_split", _const(**{"--tasks": "STS12", "--mode": "dev"}), r"--tasks: STS12 has no dev split"),
    ("data_dir_missing", lambda c: {"--data-dir": str(c.tmp / "nowhere")}, r".*/nowhere: not a directory \(give"),
    ("data_dir_old_help_suggestion", _const(**{"--data-dir": "data/prepared/senteval"}),
     r"data/prepared/senteval: not a directory"),
    ("data_dir_no_layout", _no_layout, r".*/stuff: no known data layout: looked for SentEval.s STS/STS12-en-test/"),
    ("gold_all_equal", _gold_all_equal,
     r"STS12 subset MSRvid: all \d+ gold scores are equal \(3\): the correlation is undefined$"),
    ("output_parent_is_a_file", _file_as_parent("--output", "r.json"), r"--output: .*a-file/r\.json cannot be written"),
    ("output_is_a_directory", _directory_as_output, r"--output: .*/a-dir is a directory, not a file$"),
    ("items_parent_is_a_file", _file_as_parent("--items", "i.npz"), r"--items: .*a-file/i\.npz cannot be written"),
    ("cache_dir_is_under_a_file", _file_as_parent("--cache-dir", "cache"), r"--cache-dir: .*a-file/cache cannot be"),
    ("unverified_without_flag", _const(**{"--allow-unverified": None}),
     r".*/downstream: STS12 MSRpar: expected 750 examples, got 3; pass --allow-unverified"),
]


def _run(args: dict, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(argv(args))
    except SystemExit as exc:
        return int(exc.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().err


def _error_line(err: str) -> str:
    """The one line on stderr that is not a log record."""
    lines = [line for line in err.splitlines() if not re.match(r"\d\d:\d\d:\d\d (INFO|WARNING) ", line)]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0][len("error: "):]


def _written(ctx: Ctx) -> list[Path]:
    return sorted(ctx.out.rglob("*")) if ctx.out.exists() else []


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case: tuple, tiny_model_dir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _id, setup, pattern = case
    monkeypatch.chdir(tmp_path)  # relative paths (the old --help suggestion) must not meet a checkout's data/
    ctx = Ctx(tmp_path, tiny_model_dir)
    code, err = _run(base_args(ctx) | setup(ctx), capsys)
    assert code == 2, err
    assert re.match(pattern, _error_line(err)), _error_line(err)
    assert _written(ctx) == []


def _task_of(rel: str) -> str | None:
    """The evaluation task a downstream file belongs to (None: a training file, not evaluated)."""
    from sentemb.data.tasks import TASKS

    for name, task in TASKS.items():
        if any(rel.removeprefix("senteval/downstream/") in split.files for split in task.splits.values()):
            return name
    return None


EVAL_MALFORMED = [c for c in MALFORMED if _task_of(c[1]) is not None]


@pytest.mark.parametrize("case", EVAL_MALFORMED, ids=[c[0] for c in EVAL_MALFORMED])
def test_malformed_downstream_file_names_file_and_line(case: tuple, tiny_model_dir: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _id, rel, line, new, named, expected_line = case
    ctx = Ctx(tmp_path, tiny_model_dir)
    data = ctx.data_copy()
    set_line(data / rel.removeprefix("senteval/downstream/"), line, new)
    args = base_args(ctx) | {"--data-dir": str(data), "--tasks": _task_of(rel)}
    code, err = _run(args, capsys)
    assert code == 2, err
    named_path = data / (named or rel).removeprefix("senteval/downstream/")
    assert _error_line(err).startswith(f"{named_path}:{expected_line}: ")
    assert _written(ctx) == []


def test_every_malformed_evaluation_file_case_is_replayed() -> None:
    assert len(EVAL_MALFORMED) == 20 and len(BAD) + len(EVAL_MALFORMED) >= 26 + 20


# --- inputs that are not errors: handled, and said ------------------------------------------------


def test_mean_is_an_alias_of_avg(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = Ctx(tmp_path, tiny_model_dir)
    code, err = _run(base_args(ctx) | {"--pooler": "mean"}, capsys)
    assert code == 0, err
    doc = json.loads((ctx.out / "result.json").read_text())
    assert doc["provenance"]["pooler"] == "avg" and "STS12" in doc["scores"]


def test_a_corrupt_cache_shard_is_named_in_one_line_and_re_encoded(tiny_model_dir: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    ctx = Ctx(tmp_path, tiny_model_dir)
    assert _run(base_args(ctx), capsys)[0] == 0
    first = json.loads((ctx.out / "result.json").read_text())
    shard = sorted((ctx.out / "cache").rglob("shard-*.npz"))[0]
    shard.write_bytes(shard.read_bytes()[:-50])
    code, err = _run(base_args(ctx), capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if " WARNING sentemb.evaluation.cache: " in line]
    assert len(warnings) == 1 and str(shard) in warnings[0], err
    again = json.loads((ctx.out / "result.json").read_text())
    assert again["scores"] == first["scores"] and again["provenance"]["sentences_encoded"] > 0


def test_help_names_data_dirs_that_exist() -> None:
    assert "data/prepared/senteval" not in DATA_DIR_HELP
    assert DATA_DIR_HELP.startswith("data/prepared (the prepare stage's output)")


# --- verification of a raw SentEval downstream dir (the real offline mirror) -----------------------


def _cut_sts12(tmp_path: Path) -> Path:
    """A copy of the real STS12 with MSRvid cut to 600 of its 750 pairs, in both files."""
    down = tmp_path / "downstream"
    sts12 = "STS/STS12-en-test"
    shutil.copytree(REAL_MIRROR / "senteval" / "downstream" / sts12, down / sts12)
    for name in ("STS.input.MSRvid.txt", "STS.gs.MSRvid.txt"):
        path = down / sts12 / name
        path.write_text("".join(line + "\n" for line in path.read_text(encoding="utf-8").splitlines()[:600]),
                        encoding="utf-8")
    return down


@needs_real_mirror
def test_a_cut_downstream_dir_is_refused_or_flagged_everywhere(tiny_model_dir: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    ctx = Ctx(tmp_path, tiny_model_dir)
    down = _cut_sts12(tmp_path)
    args = base_args(ctx) | {"--data-dir": str(down), "--allow-unverified": None}
    code, err = _run(args, capsys)
    assert code == 2 and _written(ctx) == []
    assert re.match(r".*STS12 MSRvid: expected 750 examples, got 600; pass --allow-unverified", _error_line(err))

    code, err = _run(args | {"--allow-unverified": ""}, capsys)
    assert code == 0, err
    doc = json.loads((ctx.out / "result.json").read_text())
    assert doc["data"]["verified"] is False
    assert any("expected 750 examples, got 600" in p for p in doc["data"]["problems"])
    assert "unverified data" in err


@needs_real_mirror
def test_the_real_downstream_dir_is_verified(tiny_model_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    ctx = Ctx(tmp_path, tiny_model_dir)
    args = base_args(ctx) | {"--data-dir": str(REAL_MIRROR / "senteval" / "downstream"), "--allow-unverified": None}
    code, err = _run(args, capsys)
    assert code == 0, err
    doc = json.loads((ctx.out / "result.json").read_text())
    assert doc["data"]["layout"] == "senteval" and doc["data"]["verified"] is True and not doc["data"]["problems"]
    assert doc["details"]["STS12"]["n"] == 3108
