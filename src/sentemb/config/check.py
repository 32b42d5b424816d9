"""Validate a whole params file before any stage does real work (the ``check_params`` stage).

Loading already rejects unknown keys, wrong types and unknown names. This goes further, over
every run the matrix will start, without loading weights or data: each method as it resolves on
each backbone (loss and its arguments, objective arguments and what the loss needs from the data,
head and pooler combinations, references), every pair run (loss, metrics, shuffle, applicability)
and the aggregate's references. The first problem raises ConfigError naming the key path, with
the closest valid name where one exists, so a typo costs seconds, never a train stage.
"""

from __future__ import annotations

from typing import Any

from sentemb.config.load import suggest
from sentemb.config.resolve import TABLES, pair_job, pair_runs, pairs_backbone, resolve_method, train_runs
from sentemb.config.schema import MethodConfig, Params
from sentemb.errors import ConfigError
from sentemb.layout import check_name


def check_params(params: Params) -> None:
    """Raise ConfigError on the first problem of ``params`` (see the module docstring)."""
    _check_names(params)
    for backbone, b in params.backbones.items():
        for key in b.methods:
            if key not in params.methods and key not in TABLES:
                raise ConfigError(f"backbones.{backbone}.methods.{key}: not a method or a table (main, paradigm)"
                                  + suggest(key, [*params.methods, *TABLES]))
    for run in train_runs(params):
        if run.seed == params.seeds[0]:  # the recipe does not depend on the seed
            _check_method(params, run.method, run.backbone)
    _check_references(params)
    if params.pairs.tasks and params.pairs.methods:
        pairs_backbone(params)
        for prun in pair_runs(params):
            _check_pair(params, prun.task, prun.method)


def _check_names(params: Params) -> None:
    for kind, names in (("method", params.methods), ("backbone", params.backbones), ("baseline", params.baselines),
                        ("pair task", params.pairs.tasks), ("pair method", params.pairs.methods)):
        for name in names:
            check_name(kind, name)
    if set(params.methods) & set(TABLES):
        raise ConfigError(f"methods: {sorted(set(params.methods) & set(TABLES))} is reserved for table overrides")


def _check_method(params: Params, method: str, backbone: str) -> None:
    from sentemb.config.resolve import TrainRun, resolve_train

    where = f"methods.{method} on backbone '{backbone}'"
    m = resolve_method(params, method, backbone)
    resolve_train(params, TrainRun(method, backbone, params.seeds[0]))
    try:
        check_recipe(m)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_recipe(m: MethodConfig) -> None:
    """What a recipe needs to be trainable and exportable, checked without building a model."""
    from sentemb.losses import build_loss
    from sentemb.objectives import check_objective

    if m.eval_pooler == "cls" and (m.head != "mlp" or m.train_pooler != "cls_before_pooler"):
        raise ConfigError("eval_pooler 'cls' keeps the MLP as the model's pooler, which needs head: mlp and "
                          "train_pooler: cls_before_pooler")
    loss = build_loss(m.loss, **m.loss_args)
    check_objective(m.objective, m.objective_args, loss=loss, data_kind=m.data, head=m.head,
                    train_pooler=m.train_pooler)


def _check_references(params: Params) -> None:
    rows = set(params.methods) | set(params.baselines)
    for method, m in params.methods.items():
        if m.reference is not None and m.reference not in rows:
            raise ConfigError(f"methods.{method}.reference: '{m.reference}' is not a method or a baseline"
                              + suggest(m.reference, rows))
        if m.reference == method:
            raise ConfigError(f"methods.{method}.reference: a row cannot be its own reference")
    for key in ("main_reference", "paradigm_reference"):
        ref = getattr(params.aggregate, key)
        if ref is not None and ref not in params.baselines:
            raise ConfigError(f"aggregate.{key}: '{ref}' is not a baseline" + suggest(ref, params.baselines))
    for name, pm in params.pairs.methods.items():
        if pm.reference is not None and pm.reference not in params.pairs.methods:
            raise ConfigError(f"pairs.methods.{name}.reference: '{pm.reference}' is not a pair method"
                              + suggest(pm.reference, params.pairs.methods))


def _check_source_args(source: str, args: dict[str, Any], where: str) -> None:
    """Only an online source's reader takes arguments, and only those it names."""
    import inspect

    from sentemb.pairs.sources import PAIR_SOURCES

    if not args:
        return
    if source not in PAIR_SOURCES:
        raise ConfigError(f"{where}: only an online source ({', '.join(PAIR_SOURCES)}) takes arguments, not '{source}'")
    accepted = [n for n in inspect.signature(PAIR_SOURCES[source].read).parameters if n != "root"]
    for name in args:
        if name not in accepted:
            takes = ", ".join(accepted) or "none"
            raise ConfigError(f"{where}: '{source}' takes no argument '{name}'; it takes {takes}"
                              + suggest(name, accepted))


def _check_pair(params: Params, task: str, method: str) -> None:
    from sentemb.config.resolve import PairRun
    from sentemb.losses import build_loss
    from sentemb.pairs.metrics import check_metrics
    from sentemb.pairs.tasks import task_traits

    job = pair_job(params, PairRun(task, method))
    t, where = job.task, f"pairs.tasks.{task}"
    if t.metric not in t.table_metrics:
        raise ConfigError(f"{where}.table_metrics must include its metric '{t.metric}'")
    kind, _ = task_traits(t.source, t.kind)
    check_metrics(kind, t.table_metrics, f"{where}.table_metrics")
    if t.source == "file" and not t.path:
        raise ConfigError(f"{where}: source 'file' needs path (a directory with train/dev/test.tsv)")
    _check_source_args(t.source, t.source_args, f"{where}.source_args")
    if job.method.loss is not None and job.applicable:
        try:
            loss = build_loss(job.method.loss, **job.loss_args)
        except ConfigError as exc:
            raise ConfigError(f"pairs.methods.{method} on task '{task}': {exc}") from None
        needs_triplets = "hard_negative" in getattr(loss, "requires", ())
        if needs_triplets != (job.method.data == "triplets"):
            raise ConfigError(f"pairs.methods.{method}: loss '{job.method.loss}' "
                              f"{'needs' if needs_triplets else 'does not take'} explicit triplets; set data: "
                              f"{'triplets' if needs_triplets else 'pairs'}")
    if job.train.batch_size < 2:
        raise ConfigError(f"pairs.methods.{method} on task '{task}': batch_size must be >= 2 (in-batch negatives)")
