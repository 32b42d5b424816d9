"""Unsupervised STS scoring exactly as SimCSE's SentEval fork (docs/methods.md §0.2, docs/protocol.md §B.1-B.2).

For every task, each split (a subset for STS12-16; train/dev/test for STS-B and SICK-R) gets
the Pearson and Spearman correlation between gold scores and the cosine of the two sentence
embeddings (NaN cosines, i.e. zero vectors, count as 0 as in SentEval). No regressor is trained,
also not for STS-B and SICK-R. The aggregations are all computed and named explicitly:

* ``all``: one correlation over the concatenation of every split: SimCSE's headline for STS12-16;
* ``mean``: plain average of per-split correlations; ``wmean``: weighted by split size.

The headline number is Spearman x100: the ``all`` aggregation for STS12-16, the ``test`` split
for STS-B and SICK-R (``dev`` in dev mode, where STS12-16 are not evaluated).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr

from sentemb.data.records import TaskData
from sentemb.data.tasks import split_tasks
from sentemb.errors import DataError


def cosine_scores(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity; a zero vector gives 0 (SentEval's nan_to_num)."""
    if not (np.isfinite(u).all() and np.isfinite(v).all()):
        raise ValueError("non-finite sentence embedding: the model produced NaN or inf")
    dots = np.einsum("ij,ij->i", u.astype(np.float64), v.astype(np.float64))
    norms = np.linalg.norm(u, axis=1).astype(np.float64) * np.linalg.norm(v, axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(dots / norms)


def _check_gold(gold: np.ndarray, where: str) -> None:
    if np.ptp(gold) == 0:
        raise DataError(where, f"all {len(gold)} gold scores are equal ({gold[0]:g}): the correlation is undefined")


def check_gold(task: TaskData) -> None:
    """Refuse, before any encoding, a task whose correlation is undefined whatever the model does."""
    for split, examples in task.splits.items():
        _check_gold(np.array([float(ex.label) for ex in examples]), f"{task.name} {_unit(task.name)} {split}")


def _correlations(sys_scores: np.ndarray, gold: np.ndarray, where: str) -> dict[str, float]:
    """Pearson and Spearman; undefined inputs raise DataError naming the task and subset."""
    _check_gold(gold, where)
    if np.ptp(sys_scores) == 0:
        raise DataError(where, "the model gives every pair the same similarity: the correlation is undefined")
    spearman = float(spearmanr(sys_scores, gold)[0])
    pearson = float(pearsonr(sys_scores, gold)[0])
    if not (math.isfinite(spearman) and math.isfinite(pearson)):
        raise DataError(where, "the correlation is not finite")
    return {"pearson": pearson, "spearman": spearman, "n": int(len(gold))}


def _unit(task_name: str) -> str:
    return "split" if task_name in split_tasks() else "subset"


def score_sts_task(task: TaskData, embed: Callable[[Sequence[str]], np.ndarray]) -> dict[str, Any]:
    """Per-split and aggregated correlations (raw, in [-1, 1]) for one STS task; ``_items`` maps
    each split to its (cosines, gold) arrays (not JSON: the per-item outputs)."""
    per_split: dict[str, dict[str, float]] = {}
    all_sys: list[np.ndarray] = []
    all_gold: list[np.ndarray] = []
    for split, examples in task.splits.items():
        u = embed([ex.text_a for ex in examples])
        v = embed([ex.text_b for ex in examples])  # type: ignore[misc]
        sys_scores = cosine_scores(u, v)
        gold = np.array([float(ex.label) for ex in examples], dtype=np.float64)
        per_split[split] = _correlations(sys_scores, gold, f"{task.name} {_unit(task.name)} {split}")
        all_sys.append(sys_scores)
        all_gold.append(gold)
    items = dict(zip(task.splits, zip(all_sys, all_gold)))
    weights = np.array([r["n"] for r in per_split.values()], dtype=np.float64)
    agg: dict[str, dict[str, float]] = {}
    for metric in ("spearman", "pearson"):
        values = np.array([r[metric] for r in per_split.values()])
        agg[metric] = {"mean": float(values.mean()), "wmean": float(np.average(values, weights=weights))}
    overall = _correlations(np.concatenate(all_sys), np.concatenate(all_gold), f"{task.name} (all subsets)")
    agg["spearman"]["all"] = overall["spearman"]
    agg["pearson"]["all"] = overall["pearson"]
    return {"splits": per_split, "aggregate": agg, "n": int(weights.sum()), "_items": items}


def headline_items(task_name: str, result: dict[str, Any], mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(cosines, gold) of the pairs the headline number is computed on: every subset concatenated
    for STS12-16 ("all"), the reported split for STS-B and SICK-R."""
    items = result["_items"]
    if task_name in split_tasks():
        return items[headline_split(result, mode)]
    return np.concatenate([c for c, _ in items.values()]), np.concatenate([g for _, g in items.values()])


def headline_split(result: dict[str, Any], mode: str) -> str:
    """The split reported for STS-B and SICK-R: test (dev in dev mode). MTEB's SICK-R copy has
    only the whole corpus (split ``full``): it is reported as that split, never as test."""
    wanted = "dev" if mode == "dev" else "test"
    return wanted if wanted in result["splits"] or "full" not in result["splits"] else "full"


def headline(task_name: str, result: dict[str, Any], mode: str) -> float:
    """The number SimCSE reports for a task: Spearman x100 (see module docstring)."""
    if task_name in split_tasks():
        return 100.0 * result["splits"][headline_split(result, mode)]["spearman"]
    return 100.0 * result["aggregate"]["spearman"]["all"]
