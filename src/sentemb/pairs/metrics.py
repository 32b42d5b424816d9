"""Task metrics of the pair stage (docs/methods.md §4.6): regression, classification, ranking.

Scales follow the paper's tables: Spearman and F1/accuracy x100, ranking metrics in [0, 1].

* regression: Spearman (headline) and Pearson of cosine against the gold score.
* classification: F1 of the positive class and accuracy, each at a cosine threshold chosen on
  **dev** (the one that maximises that metric there, as SBERT's BinaryClassificationEvaluator
  picks them) and applied unchanged to test, so test labels never choose the threshold.
* ranking: ``sentemb.pairs.ranking``.

A metric that cannot be computed (constant scores, one class only) raises; nothing is returned
as NaN or 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import pearsonr, spearmanr

from sentemb.config import suggest
from sentemb.errors import ConfigError
from sentemb.evaluation.sts import cosine_scores
from sentemb.pairs.records import Pair, PairTask

Embed = Callable[[Sequence[str]], np.ndarray]
METRICS = {"regression": ("spearman", "pearson"), "classification": ("f1", "accuracy"),
           "ranking": ("mrr", "map", "p@1", "ndcg@1", "hp@1", "hp@5", "hp@50")}


def check_metrics(kind: str, names: Sequence[str], key: str) -> None:
    """Every name in ``names`` is a metric that a ``kind`` task reports (ConfigError otherwise)."""
    for name in names:
        if name not in METRICS[kind]:
            raise ConfigError(f"{key}: '{name}' is not a {kind} metric; known: {', '.join(METRICS[kind])}"
                              + suggest(name, METRICS[kind]))


def pair_cosines(pairs: list[Pair], embed: Embed) -> np.ndarray:
    return cosine_scores(embed([p.text_a for p in pairs]), embed([p.text_b for p in pairs]))


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name} is not finite")
    return float(value)


def regression_metrics(scores: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    if np.ptp(scores) == 0 or np.ptp(gold) == 0:
        raise ValueError("correlation undefined: constant scores or gold labels")
    return {"spearman": _finite("spearman", 100 * spearmanr(scores, gold)[0]),
            "pearson": _finite("pearson", 100 * pearsonr(scores, gold)[0])}


def _confusion(scores: np.ndarray, gold: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    pred = scores >= threshold
    tp = int((pred & gold).sum())
    fp = int((pred & ~gold).sum())
    fn = int((~pred & gold).sum())
    return tp, fp, fn, int(len(gold) - tp - fp - fn)


def f1_at(scores: np.ndarray, gold: np.ndarray, threshold: float) -> float:
    tp, fp, fn, _ = _confusion(scores, gold, threshold)
    return 100 * 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def accuracy_at(scores: np.ndarray, gold: np.ndarray, threshold: float) -> float:
    tp, _, _, tn = _confusion(scores, gold, threshold)
    return 100 * (tp + tn) / len(gold)


def best_threshold(scores: np.ndarray, gold: np.ndarray, metric: Callable[..., float]) -> float:
    """The cut that maximises ``metric`` on (scores, gold): candidates are midpoints between
    consecutive distinct scores plus the two ends; the smallest best cut wins ties."""
    values = np.unique(scores)
    cuts = np.concatenate([[values[0]], (values[:-1] + values[1:]) / 2, [values[-1] + 1.0]])
    results = [metric(scores, gold, float(c)) for c in cuts]
    return float(cuts[int(np.argmax(results))])


def _binary(gold: np.ndarray, where: str) -> np.ndarray:
    labels = gold >= 0.5
    if labels.all() or not labels.any():
        raise ValueError(f"{where}: F1/accuracy need both classes")
    return labels


def classification_metrics(dev_scores: np.ndarray, dev_gold: np.ndarray, scores: np.ndarray,
                           gold: np.ndarray) -> dict[str, float]:
    """F1 and accuracy on (scores, gold) at thresholds chosen on the dev pairs."""
    dev_labels, labels = _binary(dev_gold, "dev"), _binary(gold, "evaluated split")
    f1_cut = best_threshold(dev_scores, dev_labels, f1_at)
    acc_cut = best_threshold(dev_scores, dev_labels, accuracy_at)
    return {"f1": f1_at(scores, labels, f1_cut), "accuracy": accuracy_at(scores, labels, acc_cut),
            "f1_threshold": f1_cut, "accuracy_threshold": acc_cut}


def evaluate_split(task: PairTask, split: str, embed: Embed, relevant_at: float = 0.5,
                   items: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """All metrics of ``task`` on ``split`` (classification thresholds always come from dev).

    ``items``, when given, receives the per-item outputs of the split for a paired bootstrap:
    ``cos`` and ``gold`` (regression), ``pred_f1``, ``pred_accuracy`` (the predictions at each
    metric's dev threshold) and ``label`` (classification), ``per_query/<metric>`` (ranking)."""
    pairs = task.split(split)
    if task.kind == "ranking":
        from sentemb.pairs.ranking import evaluate_ranking, ranking_from_pairs

        return evaluate_ranking(ranking_from_pairs(pairs), embed, relevant_at=relevant_at, items=items)
    scores = pair_cosines(pairs, embed)
    gold = np.array([p.label for p in pairs])
    if task.kind == "regression":
        if items is not None:
            items |= {"cos": scores, "gold": gold}
        return regression_metrics(scores, gold)
    dev = task.split("dev")
    dev_scores = scores if split == "dev" else pair_cosines(dev, embed)
    out = classification_metrics(dev_scores, np.array([p.label for p in dev]), scores, gold)
    if items is not None:
        items |= {"pred_f1": (scores >= out["f1_threshold"]).astype(np.int8),
                  "pred_accuracy": (scores >= out["accuracy_threshold"]).astype(np.int8),
                  "label": _binary(gold, "evaluated split").astype(np.int8)}
    return out
