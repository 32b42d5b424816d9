"""From ``params.yaml`` to the settings of each stage (docs/pipeline.md "Params and profiles").

The ``check_params`` stage validates the whole params file and writes one JSON per stage run
under ``metrics/config/<kind>/<run>.json`` (the *jobs* below). Every other stage reads only its
job, which is also its DVC dependency: a run is rerun exactly when a setting it uses changes,
and every knob that changes an output is in a tracked file.

Resolution order (later wins):

* method recipe: ``methods.<m>`` < ``backbones.<b>.methods.<table of m>`` < ``backbones.<b>.methods.<m>``
  (mappings merge key by key; any other value, ``null`` included, replaces);
* training settings: ``train`` < the method's ``train`` < ``backbones.<b>.train`` < the overrides' ``train``
  < the run's seed;
* pair runs: ``pairs.train`` < ``pairs.tasks.<t>.train`` < ``pairs.methods.<m>.train``; loss arguments:
  ``pairs.tasks.<t>.loss_args.<loss>`` < ``pairs.methods.<m>.loss_args``; shuffling:
  ``pairs.shuffle`` < ``pairs.tasks.<t>.shuffle``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sentemb.config.jobs import (
    AggregateJob,
    AnalyzeJob,
    DevConfig,
    EvalJob,
    ModelRef,
    PairColumnSpec,
    PairJob,
    PairRowSpec,
    RowSpec,
    TrainJob,
)
from sentemb.config.load import check_keys, from_dict, suggest
from sentemb.config.schema import MethodConfig, PairMethodConfig, PairTaskConfig, Params, ShuffleConfig, TrainConfig
from sentemb.errors import ConfigError
from sentemb.layout import BaselineRun, PairRun, TrainRun

TABLES = ("main", "paradigm")


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: nested mappings merge, every other value (``None`` too) replaces."""
    out = dict(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# --- runs ------------------------------------------------------------------------------------------


def train_runs(params: Params) -> list[TrainRun]:
    """Every trained run: method x backbone x seed, in params order (the dvc.yaml matrix)."""
    return [TrainRun(m, b, s) for m in params.methods for b in params.backbones for s in params.seeds]


def baseline_runs(params: Params) -> list[BaselineRun]:
    return [BaselineRun(r, b) for r in params.baselines for b in params.backbones]


def pair_runs(params: Params) -> list[PairRun]:
    return [PairRun(t, m) for t in params.pairs.tasks for m in params.pairs.methods]


def method_runs(params: Params, method: str, backbone: str) -> list[TrainRun]:
    """The seeds of one table row."""
    return [TrainRun(method, backbone, s) for s in params.seeds]


# --- methods and training settings ---------------------------------------------------------------


def _overrides(params: Params, method: str, backbone: str) -> list[dict[str, Any]]:
    """The backbone's overrides that apply to ``method``: its table's, then its own (keys checked
    where they are written)."""
    over = params.backbones[backbone].methods
    keys = [k for k in (params.methods[method].table, method) if k in over]
    for k in keys:
        check_keys(MethodConfig, over[k], f"backbones.{backbone}.methods.{k}")
    return [over[k] for k in keys]


def resolve_method(params: Params, method: str, backbone: str) -> MethodConfig:
    """The recipe of ``method`` as it runs on ``backbone`` (checked as strictly as params.yaml)."""
    if method not in params.methods:
        raise ConfigError(f"unknown method '{method}'" + suggest(method, params.methods))
    merged = asdict(params.methods[method])
    for over in _overrides(params, method, backbone):
        merged = deep_merge(merged, over)
    return from_dict(MethodConfig, merged, f"backbones.{backbone}.methods.{method}")


def resolve_train(params: Params, run: TrainRun) -> TrainConfig:
    """Training settings of one run (see the module docstring for the order)."""
    b, m = params.backbones[run.backbone], params.methods[run.method]
    check_keys(TrainConfig, m.train, f"methods.{run.method}.train")
    check_keys(TrainConfig, b.train, f"backbones.{run.backbone}.train")
    merged = asdict(params.train) | dict(m.train) | b.train
    for key in (m.table, run.method):
        over = b.methods.get(key, {}).get("train", {})
        check_keys(TrainConfig, over, f"backbones.{run.backbone}.methods.{key}.train")
        merged |= over
    return from_dict(TrainConfig, merged | {"seed": run.seed}, f"backbones.{run.backbone}.methods.{run.method}.train")


def pairs_backbone(params: Params) -> str:
    name = params.pairs.backbone or next(iter(params.backbones))
    if name not in params.backbones:
        raise ConfigError(f"pairs.backbone: '{name}' is not a backbone" + suggest(name, params.backbones))
    return name


def _ref(params: Params, backbone: str) -> ModelRef:
    b = params.backbones[backbone]
    return ModelRef(b.model, b.label, b.revision)


def train_job(params: Params, run: TrainRun) -> TrainJob:
    e = params.evaluate
    return TrainJob(run.name, run.method, _ref(params, run.backbone), resolve_method(params, run.method, run.backbone),
                    resolve_train(params, run), params.analyze, DevConfig(e.batch_size, e.max_length,
                                                                          e.first_layer_index))


def _eval_job(params: Params, run: str, model: ModelRef | None, pooler: str, first_layer: int | None,
              tasks: str | None, share: list[str]) -> EvalJob:
    e = params.evaluate
    return EvalJob(run, model, pooler, e.first_layer_index if first_layer is None else first_layer,  # type: ignore[arg-type]
                   tasks or e.tasks, e.mode, e.batch_size, e.max_length, e.seed, e.precision,  # type: ignore[arg-type]
                   e.cache_dir, params.data.strict_upstream, share)


def baseline_eval_job(params: Params, run: BaselineRun) -> EvalJob:
    row = params.baselines[run.baseline]
    siblings = [b.pooler for k, b in params.baselines.items()
                if k != run.baseline and b.first_layer_index == row.first_layer_index]
    return _eval_job(params, run.name, _ref(params, run.backbone), row.pooler, row.first_layer_index, None,
                     list(dict.fromkeys(p for p in siblings if p != row.pooler)))


def method_eval_job(params: Params, run: TrainRun) -> EvalJob:
    m = resolve_method(params, run.method, run.backbone)
    return _eval_job(params, run.name, None, m.eval_pooler, None, m.eval_tasks, [])


def baseline_analyze_job(params: Params, run: BaselineRun) -> AnalyzeJob:
    row = params.baselines[run.baseline]
    first = params.evaluate.first_layer_index if row.first_layer_index is None else row.first_layer_index
    return AnalyzeJob(run.name, _ref(params, run.backbone), row.pooler, first, params.analyze)  # type: ignore[arg-type]


def method_analyze_job(params: Params, run: TrainRun) -> AnalyzeJob:
    m = resolve_method(params, run.method, run.backbone)
    return AnalyzeJob(run.name, None, m.eval_pooler, params.evaluate.first_layer_index, params.analyze)


def pair_job(params: Params, run: PairRun) -> PairJob:
    p = params.pairs
    if run.task not in p.tasks:
        raise ConfigError(f"unknown pair task '{run.task}'" + suggest(run.task, p.tasks))
    if run.method not in p.methods:
        raise ConfigError(f"unknown pair method '{run.method}'" + suggest(run.method, p.methods))
    task, method = p.tasks[run.task], p.methods[run.method]
    check_keys(TrainConfig, task.train, f"pairs.tasks.{run.task}.train")
    check_keys(TrainConfig, method.train, f"pairs.methods.{run.method}.train")
    check_keys(ShuffleConfig, task.shuffle, f"pairs.tasks.{run.task}.shuffle")
    where = f"pairs.methods.{run.method}.train"
    train = from_dict(TrainConfig, asdict(p.train) | task.train | method.train, where)
    shuffle = from_dict(ShuffleConfig, asdict(p.shuffle) | task.shuffle, f"pairs.tasks.{run.task}.shuffle")
    loss_args = dict(task.loss_args.get(method.loss or "", {})) | dict(method.loss_args)
    applicable, reason = pair_applicability(task, method)
    return PairJob(run.name, run.task, run.method, _ref(params, pairs_backbone(params)), p.pooler, p.trials,
                   p.cache_dir, task, method, loss_args, train, shuffle, params.evaluate.batch_size,
                   applicable, reason)


def pair_applicability(task: PairTaskConfig, method: PairMethodConfig) -> tuple[bool, str]:
    """Explicit triplets need queries with labelled positive AND negative candidates; a task
    without them has no such triplets, and its cell is "n/a" rather than a made-up variant."""
    if method.data != "triplets":
        return True, ""
    from sentemb.pairs.tasks import task_traits

    kind, negatives = task_traits(task.source, task.kind)
    if kind != "ranking" or not negatives:
        return False, "no query has both labelled positive and negative candidates to form triplets"
    return True, ""


def jobs(params: Params) -> dict[str, dict[str, Any]]:
    """Every job of the pipeline: ``{kind: {run name: job}}`` (the files check_params writes)."""
    out: dict[str, dict[str, Any]] = {kind: {} for kind in ("train", "evaluate", "analyze", "pairs")}
    for run in train_runs(params):
        out["train"][run.name] = train_job(params, run)
        out["evaluate"][run.name] = method_eval_job(params, run)
        out["analyze"][run.name] = method_analyze_job(params, run)
    for brun in baseline_runs(params):
        out["evaluate"][brun.name] = baseline_eval_job(params, brun)
        out["analyze"][brun.name] = baseline_analyze_job(params, brun)
    for prun in pair_runs(params):
        out["pairs"][prun.name] = pair_job(params, prun)
    out["aggregate"] = {"aggregate": aggregate_job(params)}
    out["prepare"] = {"prepare": params.data}
    return out


def as_json(job: Any) -> dict[str, Any]:
    return dataclasses.asdict(job)


# --- the aggregate stage's job ---------------------------------------------------------------------


def loss_fields(name: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The loss's family and every constructor hyperparameter as it runs (defaults filled in)."""
    import inspect

    from sentemb.losses import LOSSES, build_loss

    loss = build_loss(name, **args)
    names = [p for p in inspect.signature(LOSSES[name]).parameters if hasattr(loss, p)]
    return loss.family, {p: getattr(loss, p) for p in names if isinstance(getattr(loss, p), (int, float, str, bool))}


def _method_row(params: Params, method: str, backbone: str) -> RowSpec:
    m = resolve_method(params, method, backbone)
    default = params.aggregate.main_reference if m.table == "main" else params.aggregate.paradigm_reference
    ref = m.reference or default
    runs = [r.name for r in method_runs(params, method, backbone)]
    family, fields = loss_fields(m.loss, m.loss_args)
    return RowSpec(f"{method}.{backbone}", f"{m.label} ({params.backbones[backbone].label})", "method", method,
                   backbone, m.table, m.eval_tasks or params.evaluate.tasks, runs,
                   f"{ref}.{backbone}" if ref else None, m.loss, m.loss_args, family, fields)


def aggregate_job(params: Params) -> AggregateJob:
    rows: list[RowSpec] = []
    for b, bb in params.backbones.items():
        rows += [RowSpec(f"{k}.{b}", f"{bb.label}, {r.label}", "baseline", k, b, None, params.evaluate.tasks,
                         [f"{k}.{b}"]) for k, r in params.baselines.items()]
        rows += [_method_row(params, m, b) for m in params.methods]
    a, p = params.aggregate, params.pairs
    columns = [PairColumnSpec(t, c.label, c.metric, c.table_metrics) for t, c in p.tasks.items()]
    pair_rows = []
    if p.tasks and p.methods:
        backbone_label = params.backbones[pairs_backbone(params)].label
        for name, pm in p.methods.items():
            runs = {t: PairRun(t, name).name for t in p.tasks}
            applicable = {t: pair_applicability(p.tasks[t], pm)[0] for t in p.tasks}
            label = pm.label if pm.loss is not None else f"{pm.label} ({backbone_label})"
            pair_rows.append(PairRowSpec(name, label, pm.loss, pm.shuffle, pm.reference, runs, applicable))
    return AggregateJob(params.evaluate.mode, a.sts_title, a.transfer_title, a.paradigm_title, p.title, rows,
                        {b: f"{a.paradigm_reference}.{b}" for b in params.backbones} if a.paradigm_reference else {},
                        columns, pair_rows, list(params.seeds), a.bootstrap_resamples, a.bootstrap_seed,
                        params.data.strict_upstream)


# --- job files -------------------------------------------------------------------------------------


def write_jobs(params: Params, out_dir: str | Path) -> int:
    """Write every job as ``<out_dir>/<kind>/<name>.json`` (deterministic JSON), replacing the
    directory atomically; returns the number of files."""
    from sentemb.utils.io import atomic_dir

    n = 0
    with atomic_dir(Path(out_dir)) as tmp:
        for kind, named in jobs(params).items():
            for name, job in named.items():
                path = tmp / kind / f"{name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(as_json(job), indent=2, sort_keys=True, allow_nan=False) + "\n",
                                encoding="utf-8")
                n += 1
    return n
