"""dvc.yaml declares what each stage really reads, so a change reruns exactly the stages it affects.

* Code: the ``src/`` and ``stages/`` deps of every stage (directories expanded to their .py files)
  are exactly the project modules its script imports, transitively, and the script itself
  (tests/import_closure.py; ``python tests/import_closure.py`` prints the list for each script).
* Settings: every stage but check_params depends on exactly one job file, the one check_params
  writes for that stage's run (and the one its cmd passes as ``--job``); check_params tracks the
  whole params file and no other stage tracks params directly.

The stages are DVC's own expansion of dvc.yaml (every matrix item), read without a dvc.lock. The
checks are plain functions returning problems per stage, so the last tests can show, on a broken
copy of dvc.yaml, that they report what is broken.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest
import yaml

from dvc_stages import Stage, load_stages
from import_closure import closure, package_files
from sentemb.config import load_params
from sentemb.config.resolve import baseline_runs, jobs, pair_runs, train_runs
from sentemb.layout import MetricsRoot

ROOT = Path(__file__).resolve().parents[1]
CODE = ("src/", "stages/")
CHECK = "check_params"
PARAMS_FILE = "params.yaml"
# The job kind (metrics/config/<kind>/) of each stage kind (the part of a stage name before '@').
JOB_KIND = {"prepare": "prepare", "train": "train", "evaluate": "evaluate", "evaluate_variant": "evaluate",
            "analyze": "analyze", "analyze_variant": "analyze", "finetune_pairs": "pairs", "aggregate": "aggregate"}
HINT = "run `python tests/import_closure.py --write` to rewrite them in dvc.yaml (without --write: print them)"


# --- the checks ------------------------------------------------------------------------------------


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@functools.cache
def _dir_files(directory: str) -> frozenset[str]:
    return frozenset(_rel(p) for p in package_files(ROOT / directory))


@functools.cache
def _script_closure(script: str) -> frozenset[str]:
    """The script and every project module it imports (matrix stages share a script: parse once)."""
    return frozenset({script} | {_rel(p) for p in closure(ROOT / script)})


def declared_code(stage: Stage) -> tuple[set[str], list[str]]:
    """The project .py files the stage's code deps name (directories expanded), and the code deps
    that name nothing."""
    files: set[str] = set()
    dangling: list[str] = []
    for dep in stage.deps:
        if not dep.startswith(CODE):
            continue
        path = ROOT / dep
        if path.is_dir():
            files |= _dir_files(dep)
        elif path.is_file():
            files.add(dep)
        else:
            dangling.append(dep)
    return files, dangling


def expected_code(stage: Stage) -> set[str] | None:
    """The stage script and every project module it imports, transitively (None: no script)."""
    if stage.script is None or not stage.script.startswith("stages/") or not (ROOT / stage.script).is_file():
        return None
    return set(_script_closure(stage.script))


def code_dep_problems(stages: dict[str, Stage]) -> dict[str, str]:
    """``{stage: "missing ...; extra ..."}`` for every stage whose code deps are not its closure."""
    problems: dict[str, str] = {}
    for name, stage in stages.items():
        expected = expected_code(stage)
        if expected is None:
            problems[name] = f"its cmd runs no script under stages/ ({stage.cmd!r})"
            continue
        declared, dangling = declared_code(stage)
        parts = []
        if expected - declared:
            parts.append("missing " + ", ".join(sorted(expected - declared)))
        if declared - expected:
            parts.append("extra " + ", ".join(sorted(declared - expected)))
        if dangling:
            parts.append("no such file or directory " + ", ".join(dangling))
        if parts:
            problems[name] = f"{stage.script}: " + "; ".join(parts)
    return problems


def metrics_root(stages: dict[str, Stage]) -> MetricsRoot:
    """The metrics root whose ``config/`` check_params writes the jobs to (its ``--out``)."""
    out_dir = stages[CHECK].option("--out")
    assert out_dir is not None, f"{CHECK}: its cmd passes no --out"
    metrics = MetricsRoot(Path(out_dir).parent)
    assert metrics.config == Path(out_dir), f"{CHECK} --out {out_dir}: not <metrics root>/config"
    return metrics


def expected_jobs(stages: dict[str, Stage]) -> dict[str, str]:
    """The job file of every stage run of the project's params.yaml, by DVC stage name, as layout.py
    names both (a broken copy of dvc.yaml below keeps the same params)."""
    metrics = metrics_root(stages)
    params = load_params(ROOT / PARAMS_FILE)
    runs: dict[str, str] = {"prepare": "prepare", "aggregate": "aggregate"}
    for run in train_runs(params):
        runs |= {run.stage(kind): run.name for kind in ("train", "evaluate_variant", "analyze_variant")}
    for brun in baseline_runs(params):
        runs |= {brun.stage(kind): brun.name for kind in ("evaluate", "analyze")}
    runs |= {prun.stage(): prun.name for prun in pair_runs(params)}
    return {stage: metrics.job(JOB_KIND[stage.split("@")[0]], name).as_posix() for stage, name in runs.items()}


def job_problems(stages: dict[str, Stage]) -> dict[str, str]:
    """Every stage but check_params depends on exactly its own job file, which check_params writes."""
    out_dir = metrics_root(stages).config.as_posix()
    expected = expected_jobs(stages)
    problems: dict[str, str] = {}
    for name, stage in stages.items():
        under = [d for d in stage.deps if (d + "/").startswith(out_dir + "/")]
        if name == CHECK:
            if under:
                problems[name] = f"depends on the jobs it writes: {', '.join(under)}"
            continue
        if name not in expected:
            problems[name] = ("no job file is known for it: not the stage of a run of params.yaml (see "
                              "tests/test_layout.py), or a new stage kind missing from JOB_KIND here")
        elif under != [expected[name]]:
            problems[name] = f"job deps {under}, expected exactly ['{expected[name]}']"
        elif stage.option("--job") != expected[name]:
            problems[name] = f"its cmd passes --job {stage.option('--job')}, but it depends on {expected[name]}"
    return problems


def _params(stage: Stage) -> str:
    return "; ".join(f"{file}: {', '.join(keys) or '(whole file)'}" for file, keys in stage.params) or "none"


def params_problems(stages: dict[str, Stage]) -> dict[str, str]:
    """check_params tracks the whole params file (no key list); no other stage tracks params."""
    problems: dict[str, str] = {}
    for name, stage in stages.items():
        if name == CHECK:
            if stage.params != ((PARAMS_FILE, ()),):
                problems[name] = (f"tracks params {_params(stage)}; expected the whole {PARAMS_FILE} "
                                  f"(`- {PARAMS_FILE}:`)")
            elif stage.option("--params") != PARAMS_FILE:
                problems[name] = f"tracks {PARAMS_FILE} but its cmd passes --params {stage.option('--params')}"
        elif stage.params:
            problems[name] = f"tracks params {_params(stage)} directly; its settings belong in its job file"
    return problems


def report(what: str, problems: dict[str, str], hint: str = "") -> str:
    lines = [f"{len(problems)} stage(s): {what}" + (f" ({hint})" if hint else "")]
    lines += [f"  {name}: {problem}" for name, problem in sorted(problems.items())]
    return "\n".join(lines)


# --- the real dvc.yaml -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return load_stages(ROOT)


def test_every_stage_and_matrix_item_is_collected(stages: dict[str, Stage]) -> None:
    raw = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert {s.kind for s in stages.values()} == set(raw)
    for kind, entry in raw.items():
        names = [n for n, s in stages.items() if s.kind == kind]
        if "matrix" in entry:
            assert names and all(n.startswith(kind + "@") for n in names), (kind, names)
        else:
            assert names == [kind]
    assert not [s for s in stages.values() if "${" in s.cmd + "".join(s.deps)]  # every variable resolved


def test_code_deps_are_exactly_the_import_closure(stages: dict[str, Stage]) -> None:
    problems = code_dep_problems(stages)
    assert not problems, report("code deps differ from the import closure of the stage script", problems, HINT)


def test_every_stage_reads_its_own_job_file(stages: dict[str, Stage]) -> None:
    problems = job_problems(stages)
    assert not problems, report("job file deps are wrong", problems)


def test_job_files_are_the_ones_check_params_writes(stages: dict[str, Stage]) -> None:
    written = {metrics_root(stages).job(kind, name).as_posix()
               for kind, named in jobs(load_params(ROOT / PARAMS_FILE)).items() for name in named}
    assert set(expected_jobs(stages).values()) == written


def test_only_check_params_tracks_params(stages: dict[str, Stage]) -> None:
    problems = params_problems(stages)
    assert not problems, report("params are tracked wrongly", problems)


# --- the checks catch a broken dvc.yaml ------------------------------------------------------------


def _broken_copy(tmp: Path) -> Path:
    """dvc.yaml and params.yaml copied, then one thing broken in each of several stages."""
    data = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    st = data["stages"]
    st["train"]["deps"].remove("src/sentemb/layout.py")  # a dep deleted
    st["aggregate"]["deps"].append("src/sentemb/training/loop.py")  # an extra file
    st["prepare"]["deps"].append("src/sentemb/pairs/sources")  # an extra directory
    st["evaluate"]["deps"].append("src/sentemb/no_such_module.py")  # a dep naming nothing
    st["analyze_variant"]["params"] = [{PARAMS_FILE: ["seeds"]}]  # a setting tracked outside the job
    st[CHECK]["params"] = [{PARAMS_FILE: ["train"]}]  # part of the params file only
    jobs_of = st["finetune_pairs"]["deps"]  # another run's job file
    jobs_of[jobs_of.index("metrics/config/pairs/${item.task}-${item.method}.json")] = "metrics/config/pairs/x-y.json"
    (tmp / "dvc.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    shutil.copy(ROOT / PARAMS_FILE, tmp / PARAMS_FILE)
    return tmp


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Stage]:
    return load_stages(_broken_copy(tmp_path_factory.mktemp("broken-dvc-yaml")))


def _of(problems: dict[str, str], kind: str, stages: dict[str, Stage]) -> dict[str, str]:
    assert {n for n in problems if stages[n].kind == kind} == {n for n, s in stages.items() if s.kind == kind}
    return {n: p for n, p in problems.items() if stages[n].kind == kind}


def test_a_deleted_dep_is_reported_as_missing(broken: dict[str, Stage]) -> None:
    problems = _of(code_dep_problems(broken), "train", broken)
    assert all(p == "stages/train.py: missing src/sentemb/layout.py" for p in problems.values()), problems
    message = report("code deps differ", problems, HINT)
    assert "train@simcse_unsup-minilm-42: stages/train.py: missing src/sentemb/layout.py" in message
    assert "python tests/import_closure.py" in message


def test_extra_deps_are_reported_file_by_file(broken: dict[str, Stage]) -> None:
    problems = code_dep_problems(broken)
    assert problems["aggregate"] == "stages/aggregate.py: extra src/sentemb/training/loop.py"
    sources = sorted(_rel(p) for p in package_files(ROOT / "src/sentemb/pairs/sources"))
    assert problems["prepare"] == "stages/prepare.py: extra " + ", ".join(sources)
    assert all(p.endswith("no such file or directory src/sentemb/no_such_module.py")
               for p in _of(problems, "evaluate", broken).values())
    # nothing else is reported: every other stage's code deps are still its closure
    assert {broken[n].kind for n in problems} == {"train", "aggregate", "prepare", "evaluate"}


def test_a_wrong_job_file_and_stray_params_are_reported(broken: dict[str, Stage]) -> None:
    jobs_wrong = job_problems(broken)
    assert set(jobs_wrong) == {n for n, s in broken.items() if s.kind == "finetune_pairs"}
    assert "expected exactly ['metrics/config/pairs/stsb-bsc.json']" in jobs_wrong["finetune_pairs@stsb-bsc"]
    params_wrong = params_problems(broken)
    assert set(params_wrong) == {CHECK} | {n for n, s in broken.items() if s.kind == "analyze_variant"}
    assert "expected the whole params.yaml" in params_wrong[CHECK]


def test_write_mode_restores_removed_and_drops_stray_code_deps() -> None:
    from import_closure import ROOT, rewrite_code_deps

    text = (ROOT / "dvc.yaml").read_text(encoding="utf-8")
    assert rewrite_code_deps(text) == text  # the committed file is what --write produces
    broken = text.replace("      - src/sentemb/provenance.py\n", "", 1).replace(
        "      - stages/prepare.py\n", "      - stages/prepare.py\n      - src/sentemb/reporting\n", 1)
    assert broken != text and rewrite_code_deps(broken) == text
