"""SentEval transfer tasks (MR, CR, SUBJ, MPQA, SST2, TREC, MRPC), as SimCSE's SentEval runs them.

docs/methods.md §0.3 and docs/protocol.md §B.3 give the protocol; the quirks of docs/protocol.md §B.5 are kept
on purpose (mean-reduced loss, early-stopping counter never reset, nested CV with a hard-coded
``random_state=1111``, the classifier reseeded before every fit). The only departure is speed:
fits that SentEval runs one after another are trained in lockstep by
:func:`sentemb.evaluation.classifier.fit_groups`, which reproduces each fit's trajectory.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from sentemb.data.records import Example, TaskData
from sentemb.data.tasks import Task, get_task
from sentemb.errors import ConfigError
from sentemb.evaluation.classifier import (
    Features,
    FitGroup,
    TrainConfig,
    fit_groups,
    make_features,
    predict,
)

logger = logging.getLogger(__name__)

# SentEval's PyTorch-path grid: [10**t for t in range(-5, -1)]
REGS = tuple(10**t for t in range(-5, -1))
INNER_KFOLD_STATE = 1111  # InnerKFoldClassifier ignores the seed (docs/protocol.md §B.5 item 6)
VALIDATION_SPLIT = 0.05

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class ModeConfig:
    """SimCSE ``--mode`` settings for transfer tasks (docs/methods.md §0.3 table)."""

    kfold: int
    optim: str
    batch_size: int
    tenacity: int
    epoch_size: int
    max_epoch: int = 200


_FAST = ModeConfig(kfold=5, optim="rmsprop", batch_size=128, tenacity=3, epoch_size=2)
MODES = {
    "test": ModeConfig(kfold=10, optim="adam", batch_size=64, tenacity=5, epoch_size=4),
    "fasttest": _FAST,
    "dev": _FAST,
}


def _check_name(value: str, allowed: Sequence[str], what: str) -> None:
    """Raise ConfigError with a difflib suggestion for an unknown task or mode."""
    if value in allowed:
        return
    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.0)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"unknown transfer {what} {value!r} (expected one of {', '.join(allowed)}){hint}")


def evaluate_transfer(task: TaskData, embed: Embed, mode: str, seed: int = 1111) -> dict:
    """Evaluate one transfer task as SimCSE's SentEval does (docs/methods.md §0.3, docs/protocol.md
    §B.3), with the protocol, feature form and classes of its registry entry (``data/tasks.py``).

    ``embed(texts)`` returns a float32 ``(len(texts), d)`` array. Returns a dict with ``task,
    mode, acc, devacc, ndev, ntest, l2`` (and ``f1`` where the entry asks for it); accuracies are
    x100 and rounded to 2 decimals as SentEval rounds them. ``_pred`` and ``_label`` hold the test
    predictions and labels per example (every example for the cross-validated tasks, each from the
    outer fold that held it out), in SentEval's example order: what a paired bootstrap resamples.
    """
    entry = get_task(task.name)
    if entry.family != "transfer":
        raise ConfigError(f"{task.name} is an STS task, not a transfer task")
    _check_name(mode, tuple(MODES), "mode")
    m = MODES[mode]
    cfg = TrainConfig(m.optim, m.batch_size, m.tenacity, m.epoch_size, m.max_epoch, seed)
    run = {"nested_kfold": _run_nested, "dev_selection": _run_dev_selection, "kfold_then_test": _run_kfold}
    out = run[entry.protocol](task, entry, embed, m.kfold, cfg)
    logger.info("%s (%s): devacc %.2f acc %.2f", task.name, mode, out["devacc"], out["acc"])
    return {"task": task.name, "mode": mode, **out}


# --- task data: SentEval's ordering before encoding ------------------------------------------


def senteval_sort(examples: Sequence[Example]) -> list[Example]:
    """Stable sort by ``(len(tokens), label)``, SentEval's order before encoding.

    It fixes which rows land in which CV fold, so it must be replicated exactly. Pairs
    (MRPC) sort by ``(len(a_tokens), len(b_tokens), label)``.
    """
    if any(ex.text_b is not None for ex in examples):
        return sorted(examples, key=lambda e: (len(e.text_a.split()), len((e.text_b or "").split()), e.label))
    return sorted(examples, key=lambda e: (len(e.text_a.split()), e.label))


def _split(task: TaskData, name: str) -> list[Example]:
    if name not in task.splits:
        raise ValueError(f"{task.name}: missing split {name!r} (have {sorted(task.splits)})")
    return senteval_sort(task.splits[name])


def _labels(examples: Sequence[Example]) -> np.ndarray:
    return np.array([int(ex.label) for ex in examples], dtype=np.int64)


def _encode(embed: Embed, texts: list[str], task_name: str) -> np.ndarray:
    """Embed texts in SentEval's order; reject malformed output and NaN."""
    arr = np.asarray(embed(texts), dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != len(texts):
        raise ValueError(f"{task_name}: embed returned shape {arr.shape} for {len(texts)} texts")
    if np.isnan(arr).any():
        raise ValueError(f"{task_name}: embeddings contain NaN")
    return arr


def _features_single(task: TaskData, embed: Embed, split_names: Sequence[str]
                     ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Embeddings of several splits stacked into one matrix, with each split's row range."""
    blocks, labels, rows, start = [], [], [], 0
    for name in split_names:
        examples = _split(task, name)
        blocks.append(_encode(embed, [ex.text_a for ex in examples], task.name))
        labels.append(_labels(examples))
        rows.append(np.arange(start, start + len(examples)))
        start += len(examples)
    return np.concatenate(blocks), np.concatenate(labels), rows


def _features_pairs(task: TaskData, embed: Embed, split_names: Sequence[str]
                    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Pair features ``[|u - v|, u * v]`` (MRPC, docs/protocol.md §B.3), split by split."""
    blocks, labels, rows, start = [], [], [], 0
    for name in split_names:
        examples = _split(task, name)
        if any(ex.text_b is None for ex in examples):
            raise ValueError(f"{task.name}: split {name!r} has examples without text_b")
        u = _encode(embed, [ex.text_a for ex in examples], task.name)
        v = _encode(embed, [ex.text_b or "" for ex in examples], task.name)
        blocks.append(np.c_[np.abs(u - v), u * v])
        labels.append(_labels(examples))
        rows.append(np.arange(start, start + len(examples)))
        start += len(examples)
    return np.concatenate(blocks), np.concatenate(labels), rows


# --- validation schemes (senteval/tools/validation.py) ---------------------------------------


def outer_inner_folds(y: np.ndarray, kfold: int) -> list[tuple[np.ndarray, np.ndarray, list]]:
    """InnerKFoldClassifier's folds: ``(outer_train, outer_test, [(in_train, in_test)...])``.

    Inner indices are mapped back to rows of ``y``. Both splitters use the hard-coded
    ``random_state=1111`` (docs/protocol.md §B.5 item 6).
    """
    skf = StratifiedKFold(n_splits=kfold, shuffle=True, random_state=INNER_KFOLD_STATE)
    inner = StratifiedKFold(n_splits=kfold, shuffle=True, random_state=INNER_KFOLD_STATE)
    out = []
    for tr, te in skf.split(np.zeros(len(y)), y):
        pairs = [(tr[a], tr[b]) for a, b in inner.split(np.zeros(len(tr)), y[tr])]
        out.append((tr, te, pairs))
    return out


def kfold_folds(y: np.ndarray, kfold: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """KFoldClassifier's folds over the training set (``random_state=seed``)."""
    skf = StratifiedKFold(n_splits=kfold, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(y)), y))


def _reg_scores(results: Sequence, n_regs: int) -> list:
    """``round(100 * np.mean(fold accuracies), 2)`` per reg, SentEval's selection score."""
    return [round(100 * np.mean([res.dev_accuracy(r) for res in results]), 2) for r in range(n_regs)]


def _accuracy(correct: int, n: int) -> float:
    """``round(100 * clf.score(X, y), 2)`` with Python floats, as SentEval computes it."""
    return round(100 * (1.0 * correct / n), 2)


def inner_kfold(feats: Features, y: np.ndarray, kfold: int, cfg: TrainConfig) -> dict:
    """Nested CV of MR/CR/SUBJ/MPQA (InnerKFoldClassifier, docs/protocol.md §B.3).

    All ``kfold x kfold`` inner fits of every outer fold (4 regs each) train in one lockstep
    run; the ``kfold`` outer refits (5 % validation split) in a second one.
    """
    folds = outer_inner_folds(y, kfold)
    groups = [FitGroup(a, REGS, dev_idx=b) for _, _, pairs in folds for a, b in pairs]
    search = fit_groups(feats, groups, cfg)
    optregs, devresults = [], []
    for o in range(len(folds)):
        scores = _reg_scores(search[o * kfold : (o + 1) * kfold], len(REGS))
        optregs.append(REGS[int(np.argmax(scores))])  # first best, as np.argmax
        devresults.append(np.max(scores))
    refit_groups = [FitGroup(tr, (reg,), validation_split=VALIDATION_SPLIT)
                    for (tr, _, _), reg in zip(folds, optregs)]
    refits = fit_groups(feats, refit_groups, cfg)
    pred = np.full(len(y), -1, dtype=np.int64)  # every example is in exactly one outer test fold
    for res, (_, te, _) in zip(refits, folds):
        pred[te] = predict(res.params[0], feats, te)
    testresults = [_accuracy(int((pred[te] == y[te]).sum()), len(te)) for _, te, _ in folds]
    return {"devacc": float(round(np.mean(devresults), 2)),
            "acc": float(round(np.mean(testresults), 2)), "l2": [float(r) for r in optregs], "_pred": pred}


def kfold_classifier(feats: Features, train: np.ndarray, test: np.ndarray, kfold: int,
                     cfg: TrainConfig) -> tuple[dict, np.ndarray]:
    """TREC/MRPC scheme (KFoldClassifier): k-fold on train picks L2, refit, test once.

    Returns the result dict and the test predictions (for MRPC's F1).
    """
    y_train = feats.y.numpy()[train]
    folds = kfold_folds(y_train, kfold, cfg.seed)
    search = fit_groups(feats, [FitGroup(train[a], REGS, dev_idx=train[b]) for a, b in folds], cfg)
    scores = _reg_scores(search, len(REGS))
    optreg = REGS[int(np.argmax(scores))]
    refit = fit_groups(feats, [FitGroup(train, (optreg,), validation_split=VALIDATION_SPLIT)], cfg)[0]
    yhat = predict(refit.params[0], feats, test)
    correct = int((yhat == feats.y.numpy()[test]).sum())
    out = {"devacc": float(np.max(scores)), "acc": float(_accuracy(correct, len(test))), "l2": float(optreg),
           "_pred": yhat}
    return out, yhat


def split_classifier(feats: Features, train: np.ndarray, dev: np.ndarray, test: np.ndarray,
                     cfg: TrainConfig) -> dict:
    """SST2 scheme (SplitClassifier): L2 picked on dev, final model early-stops on dev.

    SentEval's final refit (same seed, data, dev set and L2) replays the search fit of the
    chosen L2 exactly, so that fit's parameters are reused instead of training it again.
    """
    res = fit_groups(feats, [FitGroup(train, REGS, dev_idx=dev)], cfg)[0]
    scores = [_accuracy(int(res.dev_correct[r]), res.ndev) for r in range(len(REGS))]
    best = int(np.argmax(scores))
    pred = predict(res.params[best], feats, test)
    correct = int((pred == feats.y.numpy()[test]).sum())
    return {"devacc": float(np.max(scores)), "acc": float(_accuracy(correct, len(test))),
            "l2": float(REGS[best]), "_pred": pred}


# --- tasks -----------------------------------------------------------------------------------


def _features(task: TaskData, entry: Task, embed: Embed, splits: tuple[str, ...]
              ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    if entry.features == "pair":
        return _features_pairs(task, embed, splits)
    return _features_single(task, embed, splits)


def _run_nested(task: TaskData, entry: Task, embed: Embed, kfold: int, cfg: TrainConfig) -> dict:
    x, y, _ = _features(task, entry, embed, ("all",))
    out = inner_kfold(make_features(x, y, entry.classes), y, kfold, cfg)
    return {**out, "ndev": len(y), "ntest": len(y), "_label": y}


def _run_dev_selection(task: TaskData, entry: Task, embed: Embed, kfold: int, cfg: TrainConfig) -> dict:
    x, y, (train, dev, test) = _features(task, entry, embed, ("train", "dev", "test"))
    out = split_classifier(make_features(x, y, entry.classes), train, dev, test, cfg)
    return {**out, "ndev": len(dev), "ntest": len(test), "_label": y[test]}


def _run_kfold(task: TaskData, entry: Task, embed: Embed, kfold: int, cfg: TrainConfig) -> dict:
    x, y, (train, test) = _features(task, entry, embed, ("train", "test"))
    out, yhat = kfold_classifier(make_features(x, y, entry.classes), train, test, kfold, cfg)
    if entry.f1:  # SentEval-era sklearn returned np.float64, so numpy's rounding applies
        out["f1"] = float(round(100 * np.float64(f1_score(y[test], yhat)), 2))
    return {**out, "ndev": len(train), "ntest": len(test), "_label": y[test]}
