"""dvc.yaml and src/sentemb/layout.py agree on every name of a run.

* The outs and metrics of every train, evaluate(_variant), analyze(_variant) and finetune_pairs
  stage are exactly the files layout.py names for the stage's run, under the directories its cmd
  passes: the model directory (``ModelDir.root``, persistent) and every file of the run's
  ``RunFiles`` (its ``metrics`` file as the DVC metric, the others as outs).
* The stage names DVC generates from the matrices are the ones layout.py gives each run
  (``TrainRun.stage``, ``BaselineRun.stage``, ``PairRun.stage``; ``TrainRun.parse`` reads the run
  back from the file names in the cmd), and for the current params.yaml the matrices expand to
  exactly the runs the resolver lists (``train_runs``, ``baseline_runs``, ``pair_runs``).
* Run names parse back to their runs, and malformed names are rejected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from dvc_stages import Out, Stage, load_stages
from sentemb.config import Params, load_params
from sentemb.config.resolve import baseline_runs, pair_runs, train_runs
from sentemb.errors import ConfigError
from sentemb.layout import (
    BaselineRun,
    ModelDir,
    PairRun,
    RunFiles,
    TrainRun,
    analysis_files,
    eval_files,
    pair_files,
    train_files,
)

ROOT = Path(__file__).resolve().parents[1]
Run = TrainRun | BaselineRun | PairRun


@dataclasses.dataclass(frozen=True)
class Spec:
    """How a stage kind's outputs are named: layout's function for its run files, the cmd option
    giving their directory and, for a stage that writes a model, the option giving its directory."""

    files: Callable[[Path, str], RunFiles]
    files_dir: str
    model_dir: str | None = None


SPECS = {
    "train": Spec(train_files, "--metrics-dir", "--model-dir"),
    "evaluate": Spec(eval_files, "--output-dir"),
    "evaluate_variant": Spec(eval_files, "--output-dir"),
    "analyze": Spec(analysis_files, "--output-dir"),
    "analyze_variant": Spec(analysis_files, "--output-dir"),
    "finetune_pairs": Spec(pair_files, "--metrics-dir", "--model-dir"),
}
TRAINED = ("train", "evaluate_variant", "analyze_variant")  # one stage per TrainRun
BASELINE = ("evaluate", "analyze")  # one stage per BaselineRun
# The runs each stage kind has, for a params file (the resolver's lists).
RUNS: dict[str, Callable[[Params], list[Run]]] = {
    **{kind: train_runs for kind in TRAINED}, **{kind: baseline_runs for kind in BASELINE},
    "finetune_pairs": pair_runs,
}


def stage_name(kind: str, run: Run) -> str:
    return run.stage() if isinstance(run, PairRun) else run.stage(kind)


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return load_stages(ROOT)


@pytest.fixture(scope="module")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="module")
def runs(params: Params) -> dict[str, Run]:
    """Every run of params.yaml, by the name layout.py gives its stage."""
    return {stage_name(kind, run): run for kind, of in RUNS.items() for run in of(params)}


def _join(paths: set[str]) -> str:
    return ", ".join(sorted(paths))


def output_problems(stage: Stage, run: Run) -> list[str]:
    """How the stage's declared outs and metrics differ from the files layout.py names for ``run``."""
    spec = SPECS[stage.kind]
    problems = []
    files_dir = stage.option(spec.files_dir)
    if files_dir is None:
        return [f"its cmd passes no {spec.files_dir}"]
    files = spec.files(Path(files_dir), run.name)
    outs = {getattr(files, f.name).as_posix(): False for f in dataclasses.fields(RunFiles)
            if f.name not in ("metrics", "dvc_metric") and getattr(files, f.name) is not None}  # path -> persist
    if not files.dvc_metric:
        outs[files.metrics.as_posix()] = False
    if spec.model_dir is not None:
        model_dir = stage.option(spec.model_dir)
        if model_dir is None:
            return [f"its cmd passes no {spec.model_dir}"]
        outs[ModelDir(Path(model_dir)).root.as_posix()] = True
    metrics = {files.metrics.as_posix()} if files.dvc_metric else set()

    declared = {o.path: o.persist for o in stage.outs if not o.metric}
    declared_metrics = {o.path for o in stage.outs if o.metric}
    for what, want, have in (("outs", set(outs), set(declared)), ("metrics", metrics, declared_metrics)):
        if want - have:
            problems.append(f"{what} missing {_join(want - have)}")
        if have - want:
            problems.append(f"{what} extra {_join(have - want)}")
    wrong = {p for p in set(outs) & set(declared) if outs[p] != declared[p]}
    if wrong:
        problems.append("persist should be " + "; ".join(f"{outs[p]} on {p}" for p in sorted(wrong)))
    if any(o.persist for o in stage.outs if o.metric):
        problems.append("a metric persists")
    return problems


# --- outs and metrics ------------------------------------------------------------------------------


def test_every_kind_layout_names_has_stages(stages: dict[str, Stage]) -> None:
    assert set(SPECS) <= {s.kind for s in stages.values()}


def test_outs_and_metrics_are_the_files_layout_names(stages: dict[str, Stage], runs: dict[str, Run]) -> None:
    problems = {}
    for name, stage in sorted(stages.items()):
        if stage.kind not in SPECS:
            continue
        if name not in runs:
            problems[name] = ["no run of params.yaml has this stage name"]
        elif found := output_problems(stage, runs[name]):
            problems[name] = found
    assert not problems, "dvc.yaml and src/sentemb/layout.py disagree on the outputs of:\n" + "\n".join(
        f"  {name}: {'; '.join(found)}" for name, found in problems.items())


def test_the_check_reports_a_stray_and_a_missing_out(stages: dict[str, Stage], runs: dict[str, Run]) -> None:
    name = TrainRun("simcse_unsup", "minilm", 42).stage("train")
    stage, run = stages[name], runs[name]
    model, details = "data/models/simcse_unsup.minilm.s42", "metrics/train/simcse_unsup.minilm.s42.details.json"

    def broken(out: Out) -> Out:
        if out.path == model:
            return dataclasses.replace(out, persist=False)
        return dataclasses.replace(out, path="metrics/train/x.json") if out.path == details else out

    assert output_problems(stage, run) == []
    assert output_problems(dataclasses.replace(stage, outs=tuple(map(broken, stage.outs))), run) == [
        f"outs missing {details}", "outs extra metrics/train/x.json", f"persist should be True on {model}"]


def test_variants_read_the_model_their_train_run_writes(stages: dict[str, Stage], runs: dict[str, Run]) -> None:
    for name, stage in stages.items():
        if stage.kind in ("evaluate_variant", "analyze_variant"):
            run = runs.get(name)
            assert isinstance(run, TrainRun), f"{name}: no trained run of params.yaml has this stage name"
            train = stages.get(run.stage("train"))
            assert train is not None, f"{name}: no stage {run.stage('train')} trains its model"
            model = stage.option("--model")
            assert model == train.option("--model-dir") and model in stage.deps, (name, model)
        elif stage.kind in BASELINE:
            assert stage.option("--model") is None, name  # an untrained row loads its backbone from its job


# --- stage names and run names ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(RUNS))
def test_the_matrix_expands_to_the_resolvers_runs(kind: str, stages: dict[str, Stage], params: Params) -> None:
    expected = [stage_name(kind, run) for run in RUNS[kind](params)]
    assert len(set(expected)) == len(expected)  # distinct runs have distinct stage names
    assert {n for n, s in stages.items() if s.kind == kind} == set(expected)


def test_run_names_in_the_cmd_are_the_stage_names_run(stages: dict[str, Stage], runs: dict[str, Run]) -> None:
    """The run name a stage's job file carries (the matrix writes it with '.', the stage name with
    '-') is the run whose stage name DVC generated; TrainRun.parse reads it back."""
    for name, stage in stages.items():
        if stage.kind not in RUNS:
            continue
        job = stage.option("--job")
        assert job is not None and job.endswith(".json"), (name, job)
        run_name = Path(job).name.removesuffix(".json")
        if stage.kind in TRAINED:
            assert TrainRun.parse(run_name).stage(stage.kind) == name, (name, job)
            model = stage.option("--model-dir" if stage.kind == "train" else "--model")
            assert model is not None and TrainRun.parse(Path(model).name).stage(stage.kind) == name, (name, model)
        assert name in runs, f"{name}: no run of params.yaml has this stage name"
        assert runs[name].name == run_name, (name, job)


def test_run_names_round_trip(params: Params) -> None:
    for run in [*train_runs(params), TrainRun("a_b", "c1", 0), TrainRun("M", "b_2", 1234)]:
        assert TrainRun.parse(run.name) == run


@pytest.mark.parametrize("bad", [
    "simcse_unsup.minilm.42",  # no 's' before the seed
    "simcse_unsup.minilm.sx",  # the seed is not a number
    "simcse_unsup.minilm",  # a table row, not a run
    "simcse-unsup.minilm.s42",  # '-' separates stage name parts
    "simcse_unsup.minilm.s42.json",  # a file name
    "a.b.c.s1",
    "train@simcse_unsup-minilm-42",  # a stage name
    "",
])
def test_malformed_run_names_are_rejected(bad: str) -> None:
    with pytest.raises(ConfigError, match="is not a run name"):
        TrainRun.parse(bad)


def test_aggregate_declares_every_plot_family_layout_names(stages: dict[str, Stage]) -> None:
    from sentemb.layout import MetricsRoot

    aggregate = next(s for s in stages.values() if s.kind == "aggregate")
    declared = {o.path for o in aggregate.outs}
    assert {d.as_posix() for d in MetricsRoot(Path("metrics")).plot_dirs()} <= declared
