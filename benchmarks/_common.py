"""What the benchmarks share: our training loop timed on a recipe, the sentence-transformers
baseline step, interleaved rounds, the FLOP count of a training step, sentences, and cut copies of
the evaluation data for the tiny (``--quick``) modes.

Not a benchmark itself. The scripts beside it import it as ``_common`` (a script's own folder is
first on ``sys.path``; a script loaded by file path puts it there first).

* ``loop_rate(job, ...)``: sentences/s of ``sentemb.training.loop.train``, the one training loop,
  on a ``TrainJob`` built by ``training.run.build_training`` as the train stage builds it. Only the
  data and the hooks are the benchmark's: a dataset cycling through the given sentences in order
  (so every side trains on the same batches; the clock starts when the first timed step asks for
  its batch), a stub dev evaluation (due only at an epoch's end: ``eval_steps`` null) and no
  export or checkpoint within the timed steps (``save_steps`` null).
* ``st_rate(...)``: sentences/s of sentence-transformers' ``MultipleNegativesRankingLoss(scale=20)``
  (InfoNCE with tau 0.05 over in-batch negatives) with AdamW and clipping in a bare loop: the
  per-step work of ``SentenceTransformerTrainer`` (anchor and positive columns tokenized and
  encoded separately) without its dataloader, on the same batches, optionally under bf16 autocast.
* ``interleaved(sides, rounds)``: the sides run alternately (A B A B), so drifting machine load
  hits all of them; each run starts from a clean slate (garbage collected, CUDA peak reset).
* ``step_tokens`` / ``encoder_layer_parameters``: FLOPs per training step = 6 x N x T, N the
  parameters of the encoder layers, T the tokens of both views with padding (module docstring
  of ``gpu_check.py``).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from sentemb.config import DataConfig, Params, load_params
from sentemb.config.jobs import TrainJob
from sentemb.config.resolve import train_job
from sentemb.data.collate import tokenize
from sentemb.data.senteval import load_task, task_rows
from sentemb.layout import RunFiles, TrainRun
from sentemb.objectives.base import TextBatch
from sentemb.training.loop import EpochPlan, Hooks, train
from sentemb.training.run import build_training, seed_everything
from sentemb.utils.device import pick_device
from sentemb.utils.io import sha256_file, write_json, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30
# Synthetic sentences when no wiki file is at hand: words all in bert-base-uncased's vocabulary.
WORDS = ("the a of and to in is was for on with as by at from that this it he she they his her their "
         "city river school team music film game war church state party king army station family house "
         "year world people history album season village region system group song league book line "
         "played born built released founded located known called became won joined moved named used "
         "first new old large small early late main national local public north south west east").split()


# --- data --------------------------------------------------------------------------------------


def mirror_dir() -> Path:
    """The offline mirror as the prepare stage finds it: ``$SENTEMB_DATA_MIRROR``, else
    ``data.mirror_dir``'s default, relative to the repository root."""
    return ROOT / os.environ.get("SENTEMB_DATA_MIRROR", DataConfig().mirror_dir)


def synthetic(n: int) -> list[str]:
    rng = random.Random(0)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40))) + " ." for _ in range(n)]


def load_sentences(explicit: str | None, n: int, who: str = "gpu_check") -> tuple[list[str], str]:
    """The first ``n`` lines of the wiki file (explicit, prepared, or the mirror's), else synthetic ones."""
    candidates = ([Path(explicit)] if explicit
                  else [ROOT / "data/prepared/wiki.txt", mirror_dir() / "wiki1m_for_simcse.txt"])
    for path in candidates:
        if path.is_file():
            lines = [s for s in path.read_text(encoding="utf-8").splitlines()[: 2 * n] if s.strip()][:n]
            return lines, f"wiki: {path} (first {len(lines)} lines)"
    if explicit:
        sys.exit(f"{who}: --sentences {explicit}: no such file")
    return synthetic(n), (f"synthetic: {n} sentences of 5-40 words from a fixed {len(WORDS)}-word list "
                          f"(no wiki file at {', '.join(map(str, candidates))})")


def batch_texts(texts: list[str], step: int, batch: int) -> list[str]:
    """Step ``step``'s sentences, cycling through ``texts``: every side trains on these."""
    return [texts[(step * batch + j) % len(texts)] for j in range(batch)]


def eval_data_dir(explicit: str | None) -> Path:
    """``explicit``, else ``data/prepared`` when the prepare stage has run, else the mirror's
    SentEval ``downstream`` directory (``load_task`` reads either)."""
    if explicit:
        return Path(explicit)
    prepared = ROOT / "data/prepared"
    return prepared if (prepared / "manifest.json").is_file() else mirror_dir() / "senteval/downstream"


def cut_tasks(names: Sequence[str], data_dir: Path, pairs: int, out: Path) -> Path:
    """A prepared-layout copy in ``out`` of tasks ``names`` of ``data_dir`` (any layout ``load_task``
    reads) holding the first ``pairs`` examples of every split; its manifest says ``verified: false``."""
    from sentemb.data.prepare import FORMAT_VERSION

    tasks = {}
    for name in names:
        task = load_task(name, data_dir)
        tasks[name] = dataclasses.replace(task, splits={s: e[:pairs] for s, e in task.splits.items()})
    rels = [f"senteval/{name}.jsonl" for name in tasks]
    for rel, task in zip(rels, tasks.values()):
        write_jsonl(out / rel, task_rows(task))
    write_json(out / "manifest.json", {
        "format_version": FORMAT_VERSION, "source": f"benchmark cut: first {pairs} examples per split of {data_dir}",
        "tasks": list(tasks), "counts": {n: {s: len(e) for s, e in t.splits.items()} for n, t in tasks.items()},
        "verified": False, "sha256": {rel: sha256_file(out / rel) for rel in rels}})
    return out


# --- jobs --------------------------------------------------------------------------------------


def pipeline_job(method: str, params_path: Path = ROOT / "params.yaml", backbone: str | None = None
                 ) -> tuple[TrainJob, Params]:
    """The ``TrainJob`` the pipeline writes for ``method`` on ``backbone`` (default: the profile's first)
    and its first seed (``config.resolve.train_job``), and the params it came from."""
    params = load_params(params_path)
    backbone = backbone or next(iter(params.backbones))
    return train_job(params, TrainRun(method, backbone, params.seeds[0])), params


def timed(job: TrainJob, batch: int, warmup: int, steps: int, **train: object) -> TrainJob:
    """``job`` trained for exactly ``warmup + steps`` steps of ``batch`` sentences, with no dev
    evaluation or checkpoint on the way (``eval_steps``/``save_steps`` null: only at an epoch's end)."""
    cfg = dataclasses.replace(job.train, batch_size=batch, max_steps=warmup + steps, eval_steps=None,
                              save_steps=None, **train)
    return dataclasses.replace(job, train=cfg)


# --- the sides ---------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Batches:
    """The loop's dataset: ``size`` examples cycling through the sentences, visited in order (see the
    order hook), so that step k gets ``batch_texts(texts, k, batch)``. The clock starts when the first
    timed step asks for its batch, after the warm-up steps have finished on the device."""

    def __init__(self, texts: list[str], size: int, batch: int, warmup: int, device: torch.device) -> None:
        self.texts, self.size, self.first_timed, self.device = texts, size, warmup * batch, device
        self.start = 0.0

    def __len__(self) -> int:
        return self.size

    def batch(self, indices: np.ndarray) -> TextBatch:
        if int(indices[0]) == self.first_timed:
            sync(self.device)
            self.start = time.perf_counter()
        return TextBatch(sentences=[self.texts[int(i) % len(self.texts)] for i in indices])


def loop_rate(job: TrainJob, texts: list[str], warmup: int, steps: int, epoch: int) -> float:
    """Sentences/s of the timed steps of ``loop.train`` on ``job`` (see ``timed``), over an epoch of
    ``epoch`` examples."""
    cfg = job.train
    if cfg.max_steps != warmup + steps:
        raise ValueError(f"job trains {cfg.max_steps} steps, not {warmup} + {steps}: build it with timed()")
    device = pick_device()
    seed_everything(cfg.seed)
    objective, _, _ = build_training(job)
    data = Batches(texts, epoch, cfg.batch_size, warmup, device)
    # in-order visits give every side the same batches; the dev evaluation due at an epoch's end is a stub
    hooks = Hooks(evaluate_dev=lambda: {"stsb_dev": 0.0}, export_best=lambda step, score: None,
                  order=lambda e: EpochPlan(np.arange(epoch)))
    with tempfile.TemporaryDirectory() as tmp:
        files = RunFiles(metrics=Path(tmp) / "metrics.json", details=Path(tmp) / "details.json")
        train(objective, data, cfg, files, Path(tmp) / "checkpoint.pt", hooks)
    sync(device)
    return steps * cfg.batch_size / (time.perf_counter() - data.start)


def st_rate(model_dir: Path, texts: list[str], *, batch: int, warmup: int, steps: int, max_len: int,
            bf16: bool) -> float:
    """Sentences/s of sentence-transformers' MNRL step on the same batches (see the module docstring)."""
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6; the old path still works there but warns
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:
        from sentence_transformers.losses import MultipleNegativesRankingLoss

    device = pick_device()
    torch.manual_seed(0)
    model = SentenceTransformer(str(model_dir), device=str(device))
    model.max_seq_length = max_len
    loss = MultipleNegativesRankingLoss(model, scale=20.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5)
    preprocess = getattr(model, "preprocess", None) or model.tokenize  # preprocess: sentence-transformers >= 6
    model.train()
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            sync(device)
            start = time.perf_counter()
        texts_k = batch_texts(texts, step, batch)
        features = [{k: v.to(device) for k, v in preprocess(texts_k).items() if isinstance(v, torch.Tensor)}
                    for _column in ("anchor", "positive")]
        with torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext():
            value = loss(features, None)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    sync(device)
    return steps * batch / (time.perf_counter() - start)


# --- measuring ---------------------------------------------------------------------------------


def measured(device: torch.device, run: Callable[[], float]) -> tuple[float, float | None]:
    """``run()``'s result and the peak GPU memory it allocated (GiB; None on CPU), from a clean slate."""
    gc.collect()  # the previous side's model and optimizer state must be gone before the peak is reset
    if device.type != "cuda":
        return run(), None
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    value = run()
    return value, torch.cuda.max_memory_allocated(device) / GIB


def interleaved(device: torch.device, sides: dict[str, Callable[[], float]], rounds: int
                ) -> dict[str, list[tuple[float, float | None]]]:
    """Each side's (result, peak GiB) per round, the sides alternating within every round."""
    out: dict[str, list[tuple[float, float | None]]] = {side: [] for side in sides}
    for _ in range(rounds):
        for side, run in sides.items():
            out[side].append(measured(device, run))
    return out


def encoder_layer_parameters(backbone: torch.nn.Module) -> int:
    """N of 6 x N x T: the parameters of the transformer layers (embeddings and pooler excluded)."""
    return sum(p.numel() for n, p in backbone.named_parameters() if n.startswith("encoder."))


def step_tokens(tokenizer: object, texts: list[str], batch: int, first: int, steps: int, max_len: int
                ) -> tuple[float, float]:
    """Tokens per step of steps ``first`` .. ``first + steps - 1``, both views, padded to the longest row
    as ``collate.tokenize`` (and sentence-transformers) pad, and without the padding."""
    masks = [tokenize(tokenizer, 2 * batch_texts(texts, k, batch), max_len)["attention_mask"]
             for k in range(first, first + steps)]
    return sum(m.numel() for m in masks) / steps, sum(int(m.sum()) for m in masks) / steps


def seconds(fn: Callable[[], object], repeats: int) -> float:
    """Seconds per call of ``fn`` over ``repeats`` calls, after one untimed warm-up call."""
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats
