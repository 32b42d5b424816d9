"""Training throughput on the CPU: our unsupervised SimCSE loop against sentence-transformers' MNRL.

Same process, machine, model (the real all-MiniLM-L6-v2), sentences (the prepared wiki
sentences, else the mirror's wiki1m head, else synthetic ones), batch and max length (params.yaml:
64 and 32), and the same batches on both sides:

* ours: ``sentemb.training.loop.train``, the one training loop, on the ``simcse_unsup`` job the
  pipeline writes for params.yaml's first backbone (``config.resolve.train_job``: on all-MiniLM-L6-v2
  two_view + InfoNCE tau 0.05, MLP head on mean pooling, gradient diagnostics on, ``precision:
  auto`` = fp32 on the CPU), built by ``training.run.build_training`` as the train stage builds it.
  Only the data and hooks are the benchmark's, and the run stops after the timed steps with no dev
  evaluation or checkpoint on the way (``benchmarks/_common.py``: ``loop_rate``), over an epoch
  of ``data.wiki_max_sentences`` examples as the pipeline's;
* sentence-transformers: ``MultipleNegativesRankingLoss(scale=20)`` (= InfoNCE with tau 0.05, mean
  pooling) with AdamW and clipping in a bare loop, at our run's precision: the per-step work of
  ``SentenceTransformerTrainer`` (anchor and positive columns tokenized and encoded separately)
  without its dataloader (``_common.st_rate``, shared with ``gpu_check.py``).

Each side runs ``--warmup`` untimed steps, then ``--steps`` timed ones; the sides alternate over
``--rounds`` rounds (A B A B) so drifting machine load hits both, and the best round counts.

Also reported: the achieved FLOP/s of our step, FLOPs per step = 6 x encoder-layer parameters x
padded tokens of both views (as ``gpu_check.py`` counts them: no embeddings, head or attention
scores), as a fraction of a 2048^3 fp32 matmul's FLOP/s measured on the same machine. The last
line is ``speedup: X.XX``: ours / sentence-transformers in sentences per second (above 1: ours is
faster).

    PYTHONPATH=src .venv/bin/python benchmarks/train_speed.py [--steps 10] [--warmup 2] [--rounds 2]
    PYTHONPATH=src .venv/bin/python benchmarks/train_speed.py --quick   # batch 4, 1 + 1 steps, 1 round
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import torch

from _common import (
    encoder_layer_parameters,
    interleaved,
    load_sentences,
    loop_rate,
    pipeline_job,
    st_rate,
    step_tokens,
    timed,
)
from sentemb.models.encoder import load_backbone, resolve_model_path
from sentemb.training.loop import resolved_precision
from sentemb.utils.device import pick_device


def matmul_flops(n: int = 2048, reps: int = 5) -> float:
    """FLOP/s of an ``n``^3 fp32 matmul: the CPU's practical peak."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny run: batch 4, 1 warm-up + 1 timed step, 1 round")
    parser.add_argument("--method", default="simcse_unsup", help="params.yaml method (default simcse_unsup)")
    parser.add_argument("--sentences", default=None, help="text file, one sentence a line (default: wiki1m)")
    parser.add_argument("--batch", type=int, default=None, help="sentences per step (params.yaml's; quick 4)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per round (10; quick 1)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (2; quick 1)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds, the best counts (2; quick 1)")
    a = parser.parse_args()
    os.environ.setdefault("SENTEMB_DEVICE", "cpu")  # the CPU benchmark; gpu_check.sh measures the GPU
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    job, params = pipeline_job(a.method)
    for key, full, quick in (("batch", job.train.batch_size, 4), ("steps", 10, 1), ("warmup", 2, 1),
                             ("rounds", 2, 1)):
        if getattr(a, key) is None:
            setattr(a, key, quick if a.quick else full)
    job = timed(job, a.batch, a.warmup, a.steps)
    cfg, recipe, device = job.train, job.recipe, pick_device()
    epoch = params.data.wiki_max_sentences or 1_000_000  # what the train stage's epoch holds
    texts, source = load_sentences(a.sentences, (a.warmup + a.steps) * a.batch, "train_speed")
    model_dir = resolve_model_path(job.backbone.model, job.backbone.revision)
    precision = resolved_precision(device, cfg.precision)

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {device}")
    print(f"sentences: {source}")
    print(f"ours: loop.train on job {job.run} ({recipe.objective} + {recipe.loss} {recipe.loss_args}, head "
          f"{recipe.head}, train pooler {recipe.train_pooler}, grad diagnostics {cfg.grad_diagnostics}, precision "
          f"{cfg.precision} -> {precision}, epoch of {epoch:,}) on {job.backbone.label}")
    print(f"setup: batch {a.batch} sentences x 2 views, max length {cfg.max_seq_length}, {a.warmup} warm-up + "
          f"{a.steps} timed steps, best of {a.rounds} interleaved round(s)")

    sides = {
        "ours": lambda: loop_rate(job, texts, a.warmup, a.steps, epoch),
        "sentence-transformers": lambda: st_rate(model_dir, texts, batch=a.batch, warmup=a.warmup, steps=a.steps,
                                                 max_len=cfg.max_seq_length, bf16=precision == "bf16"),
    }
    runs = interleaved(device, sides, a.rounds)
    for i in range(a.rounds):
        print(f"round {i + 1}: ours {runs['ours'][i][0]:.1f} sentences/s, sentence-transformers MNRL "
              f"{runs['sentence-transformers'][i][0]:.1f} sentences/s")
    best = {side: max(v for v, _ in r) for side, r in runs.items()}

    backbone, tokenizer = load_backbone(model_dir)
    n_layers = encoder_layer_parameters(backbone)
    padded, real = step_tokens(tokenizer, texts, a.batch, a.warmup, a.steps, cfg.max_seq_length)
    flops = 6 * n_layers * padded
    achieved, peak = flops * best["ours"] / a.batch, matmul_flops()
    print(f"train tokens: {padded:.1f} per step with padding, {real:.1f} without ({real / padded:.1%} non-pad)")
    print(f"ours achieved {achieved / 1e9:.1f} GFLOP/s (6 x {n_layers / 1e6:.2f}M encoder-layer parameters x "
          f"{padded:.0f} padded tokens per step) = {achieved / peak:.2f} of a 2048^3 fp32 matmul ({peak / 1e9:.1f} "
          "GFLOP/s)")
    print(f"best: ours {best['ours']:.1f} sentences/s, sentence-transformers {best['sentence-transformers']:.1f} "
          "sentences/s; speedup = ours / sentence-transformers")
    print(f"speedup: {best['ours'] / best['sentence-transformers']:.2f}")


if __name__ == "__main__":
    main()
