"""A complete metrics root written from invented numbers, for the aggregate-stage tests.

``make_root(tmp, raw_params, score=...)`` resolves the aggregate job of ``raw_params`` (a params
mapping) exactly as the check_params stage does, then writes for every row of it what the stages
would: evaluation details and per-item outputs, analysis details, and for trained runs the step,
dev and dynamics logs and the training metric. ``score(row_id, run, task)`` gives each headline
score; per-item outputs are drawn so that a row whose ``quality`` is higher agrees more with the
gold scores / labels.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sentemb.config import Params, from_dict
from sentemb.config.jobs import AggregateJob
from sentemb.config.resolve import aggregate_job
from sentemb.data.tasks import family
from sentemb.layout import MetricsRoot, analysis_files, eval_files, train_files
from sentemb.reporting.analysis import LAYER_KEYS

STS_TASKS, TRANSFER_TASKS = tuple(family("sts")), tuple(family("transfer"))

N_ITEMS = 200


def backbones(label: str = "Tiny") -> dict[str, Any]:
    return {"backbones": {"b": {"model": "m", "label": label}}}


def analysis_doc(offset: float, alignment: float | None = 0.3) -> dict[str, Any]:
    layers = [{"layer": i, **{k: offset + 0.1 * i for k in LAYER_KEYS}} for i in range(3)]
    return {"layers": layers, "sentence": {"alignment": alignment, "uniformity": -2.0 - offset, "spectrum": [1.0]}}


def _items(tasks: list[str], quality: float, seed: int) -> dict[str, np.ndarray]:
    """Gold fixed by task; system outputs that follow gold more closely as quality grows."""
    out = {}
    for k, task in enumerate(tasks):
        rng_gold = np.random.default_rng(k)
        noise = np.random.default_rng(1000 + 97 * k + seed)
        if task in STS_TASKS:
            gold = np.round(rng_gold.uniform(0, 5, N_ITEMS), 1)
            out[f"{task}/gold"] = gold
            out[f"{task}/cos"] = gold * quality + noise.normal(0, 1, N_ITEMS)
        else:
            label = rng_gold.integers(0, 2, N_ITEMS)
            flip = noise.random(N_ITEMS) > min(0.99, 0.5 + 0.1 * quality)
            out[f"{task}/label"], out[f"{task}/pred"] = label, np.where(flip, 1 - label, label)
    return out


def _write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)


def steps_log(grad: bool = True) -> str:
    rows = [{"step": 1, "epoch": 0, "loss": 1.0}, {"step": 2, "epoch": 0, "loss": 0.5}]
    if grad:
        rows[0] |= {"grad/gd_mean": 0.2, "grad/gd_nonzero": 1.0, "grad/w_max": 0.5, "grad/w_entropy": 1.0,
                    "grad/r_mean": 1.0}
        rows[1] |= {"grad/gd_mean": 0.0, "grad/gd_nonzero": 0.0}  # no W/R: no anchor active
    return "".join(json.dumps(r) + "\n" for r in rows)


def make_root(tmp: Path, raw: dict[str, Any], score: Callable[[str, str, str], float] | None = None,
              quality: Callable[[str], float] | None = None, grad: bool = True) -> tuple[AggregateJob, MetricsRoot]:
    params = from_dict(Params, raw)
    job = aggregate_job(params)
    root = MetricsRoot(tmp / "metrics")
    order = {r.id: i for i, r in enumerate(job.rows)}
    score = score or (lambda row, run, task: 70.0 + order[row] + (STS_TASKS + TRANSFER_TASKS).index(task))
    quality = quality or (lambda row: 1.0 + order[row])
    for row in job.rows:
        tasks = {"sts": list(STS_TASKS), "transfer": list(TRANSFER_TASKS)}.get(row.tasks,
                                                                              list(STS_TASKS + TRANSFER_TASKS))
        for s, run in enumerate(row.runs):
            doc = {"scores": {t: score(row.id, run, t) for t in tasks}, "split": "test", "run": run,
                   "selection": {"stsb_dev": 80.0 - s, "step": 2}, "provenance": {"model": "m", "pooler": "avg"}}
            files = eval_files(root.eval, run)
            _write(files.details, doc)
            files.items.parent.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
            np.savez(files.items, **_items(tasks, quality(row.id), s))  # type: ignore[arg-type]
            _write(analysis_files(root.analysis, run).details, analysis_doc(order[row.id] + s))
            if row.kind == "method":
                t = train_files(root.train, run)
                _write(t.steps, steps_log(grad))  # type: ignore[arg-type]
                _write(t.dev, json.dumps({"step": 2, "stsb_dev": 80.0}) + "\n")  # type: ignore[arg-type]
                dyn = [{"step": st, "layers": analysis_doc(order[row.id])["layers"],
                        "sentence": {"alignment": 0.2 * st, "uniformity": -st}} for st in (1, 2)]
                _write(t.dynamics, "".join(json.dumps(r) + "\n" for r in dyn))  # type: ignore[arg-type]
                _write(t.metrics, {"steps": 2, "best_dev": 81.234, "best_step": 2})
    return job, root
