"""One evaluation entry point for ``sentemb evaluate`` and the ``evaluate`` stage (methods.md §0).

Steps: load the requested tasks, gather every distinct sentence across them, encode the ones the
on-disk cache lacks (once, length-sorted, inference mode, kept batch by batch so that a killed
run resumes where it stopped: ``evaluation/cache.py``), then score STS tasks (§0.2) and
transfer tasks (§0.3) from cached vectors. The result JSON has ``scores`` (headline numbers,
x100, 2 decimals), ``avg_sts``/``avg_transfer`` (mean of the rounded scores, as SimCSE prints
them), ``details`` and ``provenance``. A missing or non-finite score raises; it is never
written as 0.
"""

from __future__ import annotations

import logging
import math
import platform
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sentemb.config import params_hash
from sentemb.config.jobs import EvalJob
from sentemb.data.records import TaskData
from sentemb.data.senteval import STS_TASKS, TRANSFER_TASKS, is_prepared, load_task, split_files
from sentemb.evaluation.cache import EmbeddingCache, cache_key, fill
from sentemb.evaluation.sts import headline, headline_items, score_sts_task
from sentemb.evaluation.tasks import rounded_mean, task_names
from sentemb.evaluation.transfer import evaluate_transfer
from sentemb.models.encoder import SentenceEncoder, load_backbone, model_checksum, resolve_model_path
from sentemb.utils.io import sha256_file, write_items

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate: a model, how to read embeddings off it, which tasks, which protocol."""

    model: str
    pooler: str
    tasks: str = "all"
    mode: str = "test"
    data_dir: str = "data/prepared"
    revision: str | None = None
    batch_size: int = 128
    max_length: int | None = None
    first_layer_index: int = 1
    seed: int = 1111
    cache_dir: str | None = "data/cache/embeddings"

    precision: str = "fp32"

    @classmethod
    def from_job(cls, job: EvalJob, data_dir: str, model: str | None = None) -> EvalRequest:
        """The request of an evaluate stage; ``model`` is a trained run's exported model."""
        name = model if model is not None else job.model.model  # type: ignore[union-attr]
        revision = None if model is not None else job.model.revision  # type: ignore[union-attr]
        return cls(model=name, pooler=job.pooler, tasks=job.tasks, mode=job.mode, data_dir=data_dir,
                   revision=revision, batch_size=job.batch_size, max_length=job.max_length,
                   first_layer_index=job.first_layer_index, seed=job.seed, cache_dir=job.cache_dir,
                   precision=job.precision)


def headline_metrics(doc: dict[str, Any]) -> dict[str, float]:
    """The DVC metric of an evaluation: the headline scores and averages, flat, and the wall time."""
    out = dict(doc["scores"])
    out |= {k: doc[k] for k in ("avg_sts", "avg_transfer") if k in doc}
    return out | {"wall_s": doc["provenance"]["wall_seconds"]}


def _git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.strip() + ("-dirty" if dirty.strip() else "")


def _data_checksums(data_dir: Path, names: list[str]) -> dict[str, str]:
    """sha256 of each task's input: the prepared JSONL, else every raw file it was parsed from."""
    if is_prepared(data_dir):
        return {n: sha256_file(data_dir / "senteval" / f"{n}.jsonl") for n in names}
    return {f: sha256_file(data_dir / f) for n in names for files in split_files(n).values() for f in files}


def _build_encoder(req: EvalRequest) -> tuple[SentenceEncoder, Path]:
    path = resolve_model_path(req.model, req.revision)
    backbone, tokenizer = load_backbone(path)
    return SentenceEncoder(backbone, tokenizer, req.pooler, req.first_layer_index), path


def _check_finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name}: score is {value}; refusing to report it")
    return value


def _cache_for(req: EvalRequest, pooler: str, model_sha: str) -> EmbeddingCache:
    key = cache_key(model_sha, pooler, req.max_length, req.first_layer_index)
    return EmbeddingCache(req.cache_dir, key, meta={"model": req.model, "model_sha256": model_sha,
                                                   "pooler": pooler, "max_length": req.max_length})


def evaluate(req: EvalRequest, share_poolers: tuple[str, ...] = (), items_path: Path | None = None) -> dict[str, Any]:
    """Run the protocol for ``req`` and return the result document (see module docstring).

    ``share_poolers``: other poolers whose embeddings of the same model the caller will ask for
    next (sibling baseline rows). They are read off the same backbone pass and cached, so the
    next row encodes nothing; the scores of this row do not depend on them."""
    started = time.time()
    names = task_names(req.tasks, req.mode)
    data_dir = Path(req.data_dir)
    tasks: dict[str, TaskData] = {n: load_task(n, data_dir) for n in names}
    encoder, model_path = _build_encoder(req)
    model_sha = model_checksum(model_path)
    poolers = tuple(dict.fromkeys((req.pooler, *share_poolers)))
    caches = {p: _cache_for(req, p, model_sha) for p in poolers}
    cache = caches[req.pooler]
    sentences = [s for task in tasks.values() for s in task.sentences()]
    encoded = fill(caches, sentences, encoder, req.batch_size, req.max_length)
    encode_seconds = time.time() - started

    scores: dict[str, float] = {}
    details: dict[str, Any] = {}
    items: dict[str, np.ndarray] = {}
    for name, task in tasks.items():
        if name in STS_TASKS:
            result = score_sts_task(task, cache.lookup)
            scores[name] = round(_check_finite(name, headline(name, result, req.mode)), 2)
            items[f"{name}/cos"], items[f"{name}/gold"] = headline_items(name, result, req.mode)
            result.pop("_items")
        else:
            result = evaluate_transfer(task, cache.lookup, req.mode, seed=req.seed)
            key_ = "devacc" if req.mode == "dev" else "acc"
            scores[name] = round(_check_finite(name, float(result[key_])), 2)
            items[f"{name}/pred"], items[f"{name}/label"] = result.pop("_pred"), result.pop("_label")
        details[name] = result
        log.info("%s: %.2f", name, scores[name])
    if items_path is not None:
        write_items(items_path, items)

    doc: dict[str, Any] = {"scores": scores}
    for family, members in (("avg_sts", STS_TASKS), ("avg_transfer", TRANSFER_TASKS)):
        present = [scores[n] for n in names if n in members]
        if present:
            doc[family] = rounded_mean(present)
    doc["split"] = "dev" if req.mode == "dev" else "test"
    doc["details"] = details
    doc["provenance"] = {
        "model": req.model,
        "model_path": str(model_path),
        "model_sha256": model_sha,
        "pooler": req.pooler,
        "first_layer_index": req.first_layer_index,
        "max_length": req.max_length,
        "mode": req.mode,
        "seed": req.seed,
        "tasks": names,
        "data_checksums": _data_checksums(data_dir, names),
        "git_commit": _git_commit(),
        "params_hash": params_hash(asdict(req) | {"data_dir": None, "cache_dir": None}),
        "versions": _versions(),
        "sentences_encoded": encoded,
        "sentences_total": len(sentences),
        "encode_seconds": round(encode_seconds, 2),
        "wall_seconds": round(time.time() - started, 2),
    }
    return doc


def _versions() -> dict[str, str]:
    import scipy
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__, "scipy": scipy.__version__}
