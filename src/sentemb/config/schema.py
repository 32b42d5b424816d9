"""The typed schema of ``params.yaml`` (docs/pipeline.md "Params and profiles").

Every section is a frozen dataclass whose fields carry a one-line help text. ``params.yaml`` is
the embedded default profile; ``profiles/paper.yaml`` is an overlay applied with
``sentemb profile`` (``config/profile.py``). A **method** (``methods.<name>``) is written once: its
objective, loss and arguments, head, poolers, table, label and reference row. A **backbone**
(``backbones.<name>``) brings the model and the scale, and may override any method field on that
backbone (``backbones.<b>.methods.<method or table>``). Every method is trained on every backbone
with every seed: the DVC matrix is method x backbone x seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from sentemb.errors import ConfigError

Pooler = Literal["cls", "cls_before_pooler", "avg", "avg_top2", "avg_first_last"]
Mode = Literal["test", "fasttest", "dev"]
TaskFamily = Literal["sts", "transfer", "all"]
Source = Literal["auto", "mirror", "hub"]
FirstLayer = Literal[0, 1]
Head = Literal["none", "mlp", "linear", "bn_mlp"]
TableName = Literal["main", "paradigm"]
Precision = Literal["auto", "fp32", "bf16"]
Shuffle = Literal["none", "random", "example_knn", "shingle", "cluster"]
PairSource = Literal["STSBenchmark", "SICKRelatedness", "MRPC", "qqp", "antique", "cqa_a", "cqa_b", "pfcc_s", "file"]
PairData = Literal["pairs", "triplets"]


def _help(text: str, default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    if default is dataclasses.MISSING and "default_factory" not in kw:
        return field(metadata={"help": text}, **kw)
    return field(default=default, metadata={"help": text}, **kw)


@dataclass(frozen=True)
class DataConfig:
    source: Source = _help("where raw data comes from: auto (mirror if present, else hub), mirror, hub", "auto")
    mirror_dir: str = _help("offline mirror laid out like the hub repo; SENTEMB_DATA_MIRROR overrides it",
                            "../shared/data/datasets-for-simcse")
    hub_repo: str = _help("HF dataset repo holding wiki1m, NLI and senteval.tar", "princeton-nlp/datasets-for-simcse")
    hub_revision: str = _help("pinned commit of hub_repo", "e145e8b")
    wiki_max_sentences: int | None = _help("sample at most this many wiki sentences (null: all)", None)
    nli_max_triplets: int | None = _help("sample at most this many NLI triplets (null: all)", None)
    seed: int = _help("seed of the wiki/NLI subsampling", 42)
    strict_upstream: bool = _help(
        "assert the pinned upstream checksums of the evaluation files and the known pair counts "
        "(false only for small fixture mirrors in tests; outputs then say 'unverified data')", True)


@dataclass(frozen=True)
class EvaluateConfig:
    mode: Mode = _help("SentEval mode: test (paper numbers), fasttest, dev", "test")
    tasks: TaskFamily = _help("which task family to evaluate: sts, transfer or all", "all")
    batch_size: int = _help("sentences per encoder forward pass (also the dev evaluation during training)", 128)
    max_length: int | None = _help("tokenizer truncation at evaluation (null: none, as SimCSE)", None)
    first_layer_index: FirstLayer = _help(
        "avg_first_last: 0 = embedding output (paper baselines), 1 = first transformer layer (SimCSE HEAD)", 1)
    seed: int = _help("SentEval seed", 1111)
    precision: Literal["fp32", "bf16"] = _help(
        "encoder precision at evaluation: fp32 keeps the exact protocol; bf16 (CUDA) is faster and marked", "fp32")
    cache_dir: str = _help("on-disk embedding cache, keyed by model checksum, pooler and max length",
                           "data/cache/embeddings")

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"evaluate.batch_size must be >= 1, got {self.batch_size}")
        if self.max_length is not None and self.max_length < 1:
            raise ConfigError(f"evaluate.max_length must be >= 1 or null, got {self.max_length}")


@dataclass(frozen=True)
class TrainConfig:
    """The one training loop's settings, for the SimCSE family, the paradigm rows and pair tasks."""

    max_seq_length: int = _help("truncation at training time (SimCSE: 32; evaluation never truncates)", 32)
    batch_size: int = _help("GLOBAL batch per optimizer step, split evenly across processes (SimCSE's 512 = "
                            "4 GPUs x 128); every process's rows are in-batch negatives of all others", 64)
    lr: float = _help("peak learning rate of AdamW", 3e-5)
    epochs: int = _help("passes over the training data", 1)
    max_steps: int | None = _help("stop after this many optimizer steps (null: epochs decide)", None)
    warmup_ratio: float = _help("fraction of steps with linear warm-up, rounded up (SimCSE: 0; SBERT: 0.1)", 0.0)
    weight_decay: float = _help("AdamW weight decay, not applied to biases and LayerNorm (SimCSE: 0)", 0.0)
    adam_eps: float = _help("AdamW epsilon (HF Trainer: 1e-8; SBERT fit: 1e-6)", 1e-8)
    adam_bias_correction: bool = _help(
        "AdamW bias correction; false = transformers' legacy AdamW(correct_bias=False), as the BSC paper for "
        "its non-CQA tasks", True)
    max_grad_norm: float = _help("gradient clipping norm, after gradients are averaged over processes", 1.0)
    eval_steps: int | None = _help("dev evaluation at every multiple of this many steps (HF semantics: no extra "
                                   "evaluation at the last step); null: at the end of every epoch", 125)
    save_steps: int | None = _help("resumable checkpoint every this many steps; null: at every epoch end", 250)
    seed: int = _help("seed of init, data order, dropout and augmentation", 42)
    precision: Precision = _help("auto: fp32 on CPU, bf16 autocast on CUDA (losses always in fp32)", "auto")
    dropout: float | None = _help("override hidden and attention dropout (null: the checkpoint's)", None)
    gather_negatives: bool = _help("under torchrun, gather in-batch negatives from every process", True)
    freeze_embeddings: bool = _help("freeze the embedding layer (Li et al. 2024 setup)", False)
    grad_diagnostics: bool = _help("log the measured gradient components GD/W/R of the loss every step", True)

    def __post_init__(self) -> None:
        for name in ("max_seq_length", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("eval_steps", "save_steps", "max_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1 or null, got {value}")
        if not 0.0 <= self.warmup_ratio <= 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1], got {self.warmup_ratio}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1) or null, got {self.dropout}")


@dataclass(frozen=True)
class MethodConfig:
    """One method's recipe, written once and trained on every backbone of the profile."""

    objective: str = _help("objective name: two_view | esimcse | diffcse")
    data: Literal["wiki", "nli"] = _help("training data: wiki sentences (unsupervised) or NLI triplets")
    label: str = _help("display name in tables and figures, e.g. 'Unsup. SimCSE'")
    loss: str = _help("loss name (see sentemb.losses.LOSSES)", "infonce")
    loss_args: dict[str, Any] = _help("keyword arguments of the loss constructor", default_factory=dict)
    objective_args: dict[str, Any] = _help("keyword arguments of the objective", default_factory=dict)
    head: Head = _help("training-time head on the pooled vector: mlp = SimCSE Linear+tanh; linear = Li et al. "
                       "2024, no activation; bn_mlp = DiffCSE's BatchNorm projector", "mlp")
    train_pooler: Pooler = _help("pooler feeding the head during training", "cls_before_pooler")
    eval_pooler: Pooler = _help(
        "pooler of the exported model and of checkpoint selection: cls_before_pooler drops the head "
        "(mlp_only_train); cls keeps the MLP as the model's pooler", "cls_before_pooler")
    eval_tasks: TaskFamily | None = _help("task family evaluated for this row (null: evaluate.tasks)", None)
    table: TableName = _help("results table: main (SimCSE-style tables) or paradigm (Li et al. 2024)", "main")
    reference: str | None = _help(
        "row this one is compared with (a method or a baseline on the same backbone); null: the table's", None)
    train: dict[str, Any] = _help("recipe-level train settings (e.g. freeze_embeddings); the backbone's scale "
                                  "overrides them", default_factory=dict)


@dataclass(frozen=True)
class BackboneConfig:
    """A model the profile trains every method on, its scale, and its per-method hyperparameters."""

    model: str = _help("hub id, local directory, or sentence-transformers/all-MiniLM-L6-v2 (offline)")
    label: str = _help("display name, e.g. 'BERT-base'")
    revision: str | None = _help("pinned hub revision (hub ids only)", None)
    train: dict[str, Any] = _help("scale on this backbone: overrides of the common train section",
                                  default_factory=dict)
    methods: dict[str, dict[str, Any]] = _help(
        "per-method overrides on this backbone, keyed by method name or by table (main | paradigm); the "
        "method's own key wins over its table's", default_factory=dict)


@dataclass(frozen=True)
class BaselineConfig:
    """An untrained row, evaluated on every backbone of the profile."""

    pooler: Pooler = _help("pooler used to read sentence embeddings off the untrained model")
    label: str = _help("display name after the backbone's, e.g. 'mean pooling, no training'")
    first_layer_index: FirstLayer | None = _help("override evaluate.first_layer_index for this row", None)


@dataclass(frozen=True)
class AnalyzeConfig:
    """Geometry analysis of every row, and over training steps (docs/methods.md §6.1, §7.1)."""

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


@dataclass(frozen=True)
class AggregateConfig:
    sts_title: str = _help("caption of the STS table", "STS test sets, Spearman x100 ('all' aggregation)")
    transfer_title: str = _help("caption of the transfer table", "SentEval transfer tasks, test accuracy")
    paradigm_title: str = _help("caption of the unified-paradigm table",
                                "Unified gradient paradigm: STS test Spearman x100 and mean measured GD/W/R")
    main_reference: str | None = _help("baseline every main-table row is compared with unless the method "
                                       "names its own reference; null: no comparison", None)
    paradigm_reference: str | None = _help(
        "baseline shown first in the paradigm table and compared with (the untrained starting point)", None)
    bootstrap_resamples: int = _help("paired bootstrap resamples per comparison (1,000-10,000)", 2000)
    bootstrap_seed: int = _help("seed of the bootstrap resampling", 0)

    def __post_init__(self) -> None:
        if not 1000 <= self.bootstrap_resamples <= 10000:
            raise ConfigError(f"bootstrap_resamples must be in [1000, 10000], got {self.bootstrap_resamples}")


@dataclass(frozen=True)
class ShuffleConfig:
    """Batch construction of pair fine-tuning (docs/methods.md §4.4); a task may override any key."""

    group_size: int = _help("largest group of distinct texts (paper s: 4 MRPC, 5 CQA-B, 8 others)", 8)
    knn_candidates: int = _help("neighbours retrieved per example for example_knn (paper n=500, code 200)", 200)
    allow_identical: bool = _help("example_knn: identical texts may share a group without counting toward its "
                                  "size (the official notebooks: allow_same=True)", True)
    shingle_size: int = _help("shingle shuffle: consecutive non-stop-words per key", 2)
    n_clusters: int = _help("cluster shuffle: k-means clusters (capped at the number of pairs)", 300)
    reorder_first_epoch: bool = _help("also reorder before epoch 1; false = the official code: epoch 1 in file "
                                      "order, model-based reordering from epoch 2", False)
    dropout_after_reorder: bool = _help(
        "keep dropout on after a model-based reorder; false = the official code, whose reorder encodes with the "
        "model in eval mode and leaves it there for the rest of the epoch", False)


@dataclass(frozen=True)
class PairTaskConfig:
    source: PairSource = _help("offline SentEval task, an online loader (pairs/sources/) or 'file'")
    metric: str = _help("headline metric: selects the best epoch on dev and leads the table")
    label: str = _help("column title in the BSC table")
    table_metrics: list[str] = _help("metrics shown for this task in the BSC table", default_factory=list)
    path: str | None = _help("source 'file': directory with train.tsv, dev.tsv, test.tsv", None)
    kind: Literal["regression", "classification", "ranking"] | None = _help(
        "source 'file': which metrics apply (the offline and online sources know their kind)", None)
    max_train_pairs: int | None = _help("seeded sample of at most this many training pairs (null: all)", None)
    source_args: dict[str, Any] = _help("arguments of an online source's reader (pairs/sources/; e.g. qqp: "
                                        "train_size, dev_size, seed)", default_factory=dict)
    relevant_at: float = _help("ranking: normalised label at or above which a candidate is relevant", 0.5)
    loss_args: dict[str, dict[str, Any]] = _help(
        "per-loss arguments for this task (e.g. bsc: {temperature, norm}), under the method's own",
        default_factory=dict)
    train: dict[str, Any] = _help("overrides of pairs.train for this task (under the method's)", default_factory=dict)
    shuffle: dict[str, Any] = _help("overrides of pairs.shuffle for this task (e.g. group_size)",
                                    default_factory=dict)


@dataclass(frozen=True)
class PairMethodConfig:
    loss: str | None = _help("pair loss (bsc | combo | cosine_mse | triplet | triplet_batch_hard); null = no "
                             "fine-tuning")
    label: str = _help("row title in the BSC table")
    loss_args: dict[str, Any] = _help("loss arguments (over the task's loss_args)", default_factory=dict)
    shuffle: Shuffle = _help("batch construction (docs/methods.md §4.4)", "random")
    data: PairData = _help("pairs: (text_a, text_b, label) batches; triplets: explicit (query, positive, "
                           "negative) triplets built from each query's labelled candidates", "pairs")
    reference: str | None = _help("pair method this row is compared with (null: none)", None)
    train: dict[str, Any] = _help("overrides of pairs.train for this method", default_factory=dict)


@dataclass(frozen=True)
class PairsConfig:
    backbone: str | None = _help("key of `backbones` to fine-tune (null: the first backbone)", None)
    pooler: Pooler = _help("sentence embedding of the bi-encoder (SBERT: avg)", "avg")
    trials: int = _help("independent runs with seeds seed, seed+1, ...; the best on dev is kept (paper: 5)", 1)
    cache_dir: str = _help("download cache of the online pair datasets", "data/cache/pairs")
    title: str = _help("caption of the BSC table", "Pair-task fine-tuning (BSC): test metrics")
    train: TrainConfig = _help("the loop's settings for pair runs (SBERT fit values)", default_factory=TrainConfig)
    shuffle: ShuffleConfig = _help("batch construction shared by every pair run", default_factory=ShuffleConfig)
    tasks: dict[str, PairTaskConfig] = _help("pair tasks (columns of the BSC table)", default_factory=dict)
    methods: dict[str, PairMethodConfig] = _help("loss/shuffle methods (rows)", default_factory=dict)

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"pairs.trials must be >= 1, got {self.trials}")


@dataclass(frozen=True)
class Params:
    profile: str = _help("which profile this file is: default, or the overlay applied by `sentemb profile`",
                         "default")
    data: DataConfig = _help("prepare stage", default_factory=DataConfig)
    evaluate: EvaluateConfig = _help("evaluate stages", default_factory=EvaluateConfig)
    backbones: dict[str, BackboneConfig] = _help("models every method is trained on", default_factory=dict)
    baselines: dict[str, BaselineConfig] = _help("untrained rows, evaluated on every backbone",
                                                 default_factory=dict)
    train: TrainConfig = _help("training settings shared by every method", default_factory=TrainConfig)
    methods: dict[str, MethodConfig] = _help("trained methods, one row per backbone each", default_factory=dict)
    seeds: list[int] = _help("every method is trained once per seed (dvc.yaml matrix); tables show "
                             "mean ± std over them", default_factory=lambda: [42])
    analyze: AnalyzeConfig = _help("geometry analysis stages", default_factory=AnalyzeConfig)
    aggregate: AggregateConfig = _help("aggregate stage", default_factory=AggregateConfig)
    pairs: PairsConfig = _help("pair-task fine-tuning stage (BSC)", default_factory=PairsConfig)

    def __post_init__(self) -> None:
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: expected a non-empty list of distinct integers, got {self.seeds}")
        if not self.backbones:
            raise ConfigError("backbones: at least one backbone is needed")
        clash = set(self.methods) & set(self.baselines)
        if clash:
            raise ConfigError(f"methods and baselines share the name(s) {sorted(clash)}: row names must be unique")
