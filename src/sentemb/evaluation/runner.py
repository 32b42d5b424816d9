"""One evaluation entry point for ``sentemb evaluate`` and the ``evaluate`` stage (docs/methods.md §0).

Steps: load the requested tasks from any layout, verified (``data/senteval.py``: unverified data
is refused unless allowed, and then said everywhere), gather every distinct sentence across
them, encode the ones the on-disk cache lacks (once, length-sorted, inference mode, kept batch by
batch so that a killed run resumes where it stopped: ``evaluation/cache.py``), then score STS
tasks (§0.2) and transfer tasks (§0.3) from cached vectors. The result document has ``scores``
(headline numbers, x100, 2 decimals), ``avg_sts``/``avg_transfer`` (mean of the rounded scores,
as SimCSE prints them), ``data`` (layout and verification), ``details`` and ``provenance``; the
per-item outputs go to their own file. A missing or non-finite score raises; it is never 0.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentemb.config import params_hash
from sentemb.config.jobs import EvalJob
from sentemb.data.senteval import DataInfo, load_tasks
from sentemb.data.tasks import family as tasks_of
from sentemb.data.tasks import get_task
from sentemb.errors import ConfigError, DataError
from sentemb.evaluation.cache import EmbeddingCache, cache_key, fill
from sentemb.evaluation.sts import check_gold, headline, headline_items, headline_split, score_sts_task
from sentemb.evaluation.tasks import rounded_mean, task_names
from sentemb.evaluation.transfer import evaluate_transfer
from sentemb.models.encoder import SentenceEncoder, is_standin, load_backbone, model_checksum, resolve_model_path
from sentemb.provenance import device_name, project_commit, versions
from sentemb.utils.device import pick_device
from sentemb.utils.io import read_json, write_items
from sentemb.utils.progress import Progress

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

    precision: str = "fp32"  # bf16: autocast the encoder (faster on a GPU, outside the exact protocol)
    allow_unverified: bool = False

    def check(self) -> None:
        """One line per bad argument, before any work."""
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.max_length is not None and self.max_length < 1:
            raise ConfigError(f"--max-length must be >= 1 (or omitted: no truncation), got {self.max_length}")
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"--precision must be fp32 or bf16, got {self.precision!r}")

    @classmethod
    def from_job(cls, job: EvalJob, data_dir: str, model: str | None = None) -> EvalRequest:
        """The request of an evaluate stage; ``model`` is a trained run's exported model."""
        name = model if model is not None else job.model.model  # type: ignore[union-attr]
        revision = None if model is not None else job.model.revision  # type: ignore[union-attr]
        return cls(model=name, pooler=job.pooler, tasks=job.tasks, mode=job.mode, data_dir=data_dir,
                   revision=revision, batch_size=job.batch_size, max_length=job.max_length,
                   first_layer_index=job.first_layer_index, seed=job.seed, cache_dir=job.cache_dir,
                   precision=job.precision, allow_unverified=not job.verified_data_required)


def headline_metrics(doc: dict[str, Any]) -> dict[str, float]:
    """The DVC metric of an evaluation: the headline scores and averages, flat, the dev score and
    step that selected a trained run's checkpoint, and the wall time. One file per run is the
    whole ``dvc metrics show`` row of that run (training and geometry headlines are plain outputs
    beside it, so the table stays a screen or two wide)."""
    out = dict(doc["scores"])
    out |= {k: doc[k] for k in ("avg_sts", "avg_transfer") if k in doc}
    if "selection" in doc:
        out |= {"best_dev": doc["selection"]["stsb_dev"], "best_step": doc["selection"]["step"]}
    return out | {"wall_s": doc["provenance"]["wall_seconds"]}


def _build_encoder(req: EvalRequest) -> tuple[SentenceEncoder, Path]:
    path = resolve_model_path(req.model, req.revision)
    backbone, tokenizer = load_backbone(path)
    encoder = SentenceEncoder(backbone, tokenizer, req.pooler, req.first_layer_index)
    return encoder.to(pick_device()), path


def _check_finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise DataError(name, f"score is {value}; refusing to report it")
    return value


def _cache_for(req: EvalRequest, pooler: str, model_sha: str) -> EmbeddingCache:
    key = cache_key(model_sha, pooler, req.max_length, req.first_layer_index, req.precision)
    return EmbeddingCache(req.cache_dir, key, meta={"model": req.model, "model_sha256": model_sha, "pooler": pooler,
                                                   "max_length": req.max_length, "precision": req.precision})


def _autocast(device: torch.device, precision: str) -> Any:
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()


def _score(req: EvalRequest, tasks: dict[str, Any], cache: EmbeddingCache
           ) -> tuple[dict[str, float], dict[str, Any], dict[str, np.ndarray]]:
    """Headline scores, details and per-item outputs of every task, from cached vectors."""
    scores: dict[str, float] = {}
    details: dict[str, Any] = {}
    items: dict[str, np.ndarray] = {}
    progress = Progress(len(tasks), "score", unit="task")
    for name, task in tasks.items():
        if get_task(name).family == "sts":
            result = score_sts_task(task, cache.lookup)
            split = headline_split(result, req.mode)
            key = name if split in ("test", "dev") or get_task(name).protocol == "sts_all" else f"{name}-{split}"
            scores[key] = round(_check_finite(name, headline(name, result, req.mode)), 2)
            items[f"{key}/cos"], items[f"{key}/gold"] = headline_items(name, result, req.mode)
            result.pop("_items")
        else:
            result = evaluate_transfer(task, cache.lookup, req.mode, seed=req.seed)
            key = name
            scores[key] = round(_check_finite(name, float(result["devacc" if req.mode == "dev" else "acc"])), 2)
            items[f"{key}/pred"], items[f"{key}/label"] = result.pop("_pred"), result.pop("_label")
        details[key] = result
        progress.update(1)
        log.info("%s: %.2f", key, scores[key])
    progress.close()
    return scores, details, items


def _averages(scores: dict[str, float]) -> dict[str, float]:
    """Avg. of each family over the tasks present (a renamed split, e.g. MTEB's SICK-R full, is
    not the family's task and stays out)."""
    out = {}
    for family in ("sts", "transfer"):
        present = [v for k, v in scores.items() if k in tasks_of(family)]
        if present:
            out[f"avg_{family}"] = rounded_mean(present)
    return out


def evaluate(req: EvalRequest, share_poolers: tuple[str, ...] = (), items_path: Path | None = None) -> dict[str, Any]:
    """Run the protocol for ``req`` and return the result document (see module docstring).

    ``share_poolers``: other poolers whose embeddings of the same model the caller will ask for
    next (sibling baseline rows). They are read off the same backbone pass and cached, so the
    next row encodes nothing; the scores of this row do not depend on them."""
    req.check()
    started = time.time()
    names = task_names(req.tasks, req.mode)
    tasks, data = load_tasks(names, req.data_dir, req.allow_unverified)
    for name, task in tasks.items():
        if get_task(name).family == "sts":
            check_gold(task)
    encoder, model_path = _build_encoder(req)
    model_sha = model_checksum(model_path)
    poolers = tuple(dict.fromkeys((req.pooler, *share_poolers)))
    caches = {p: _cache_for(req, p, model_sha) for p in poolers}
    sentences = [s for task in tasks.values() for s in task.sentences()]
    with _autocast(next(encoder.parameters()).device, req.precision):
        encoded = fill(caches, sentences, encoder, req.batch_size, req.max_length)
    encode_seconds = time.time() - started
    scores, details, items = _score(req, tasks, caches[req.pooler])
    if items_path is not None:
        write_items(items_path, items)
    doc: dict[str, Any] = {"scores": scores, **_averages(scores), "split": "dev" if req.mode == "dev" else "test",
                           "data": data.as_json(), "details": details}
    doc["provenance"] = _provenance(req, model_path, model_sha, names, data, encoded, len(sentences),
                                    encode_seconds, started, next(encoder.parameters()).device)
    return doc


def _standin(model_path: Path) -> bool:
    """A random stand-in, or a model trained from one (its export records the base's marker)."""
    meta = model_path / "sentemb.json"
    return is_standin(model_path) or (meta.is_file() and bool(read_json(meta).get("base_standin")))


def _provenance(req: EvalRequest, model_path: Path, model_sha: str, names: list[str], data: DataInfo, encoded: int,
                total: int, encode_seconds: float, started: float, device: torch.device) -> dict[str, Any]:
    return {"model": req.model, "model_path": str(model_path), "model_sha256": model_sha,
            "standin": _standin(model_path), "pooler": req.pooler,
            "first_layer_index": req.first_layer_index, "max_length": req.max_length, "mode": req.mode,
            "seed": req.seed, "tasks": names, "layout": data.layout, "precision": req.precision,
            "device": str(device), "device_name": device_name(device), "git_commit": project_commit(),
            "params_hash": params_hash(asdict(req) | {"data_dir": None, "cache_dir": None}),
            "versions": versions(), "sentences_encoded": encoded, "sentences_total": total,
            "encode_seconds": round(encode_seconds, 2), "wall_seconds": round(time.time() - started, 2)}
