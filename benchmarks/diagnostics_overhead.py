"""Cost of the per-step gradient diagnostics (losses/paradigm.py) against the loss they measure.

For each loss, forward + backward on random (B, D) embeddings, plain (``build_loss(name)``) and
wrapped in ``GradientDiagnostics`` as ``training.run.build_training`` wraps it when
``train.grad_diagnostics`` is on, side by side in one process: the two alternate over
``--rounds`` rounds, each timing ``--repeats`` steps after a warm-up, and the best round counts.
Printed: milliseconds per step of each and the added milliseconds.

The last line is ``slowdown: X.XX``: milliseconds with diagnostics / without, for the loss whose
diagnostics add the most milliseconds. It is a ratio of the loss computation alone (no encoder):
against a whole training step (about 4 s for all-MiniLM-L6-v2 at batch 64 on 2 CPU cores; see
train_speed.py) the added milliseconds are what matters. The diagnostics need more dimensions than
candidates (2B < D); below that they are skipped and the ratio is about 1.

    PYTHONPATH=src .venv/bin/python benchmarks/diagnostics_overhead.py [--batch 64] [--dim 384]
    PYTHONPATH=src .venv/bin/python benchmarks/diagnostics_overhead.py --quick   # batch 16, D 64, 2 repeats
"""

from __future__ import annotations

import argparse
import logging
import time

import torch

from sentemb.losses import build_loss
from sentemb.losses.base import EmbeddingBatch
from sentemb.losses.paradigm import GradientDiagnostics


def ms_per_step(loss: torch.nn.Module, u: torch.Tensor, v: torch.Tensor, repeats: int) -> float:
    loss(batch=EmbeddingBatch(u, v)).total.backward()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        loss(batch=EmbeddingBatch(u, v)).total.backward()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny run: batch 16, D 64, 2 repeats, 1 round")
    parser.add_argument("--batch", type=int, default=None, help="sentences per step (64; quick 16)")
    parser.add_argument("--dim", type=int, default=None, help="embedding dimension (384; quick 64)")
    parser.add_argument("--repeats", type=int, default=None, help="timed steps per round (10; quick 2)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds, the best counts (2; quick 1)")
    parser.add_argument("--losses", default="infonce,mpt,sg,vicreg,barlow_twins")
    args = parser.parse_args()
    for key, full, quick in (("batch", 64, 16), ("dim", 384, 64), ("repeats", 10, 2), ("rounds", 2, 1)):
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; batch {args.batch}, D {args.dim}, "
          f"{args.repeats} steps per round, best of {args.rounds} interleaved round(s)")
    torch.manual_seed(0)
    u = torch.randn(args.batch, args.dim, requires_grad=True)
    v = torch.randn(args.batch, args.dim, requires_grad=True)
    results: dict[str, tuple[float, float]] = {}
    for name in args.losses.split(","):
        plain_loss, wrapped_loss = build_loss(name), GradientDiagnostics(build_loss(name))
        plain, wrapped = float("inf"), float("inf")
        for _ in range(args.rounds):
            plain = min(plain, ms_per_step(plain_loss, u, v, args.repeats))
            wrapped = min(wrapped, ms_per_step(wrapped_loss, u, v, args.repeats))
        results[name] = plain, wrapped
        print(f"{name:14s} plain {plain:7.2f} ms  with diagnostics {wrapped:7.2f} ms  (+{wrapped - plain:.2f} ms, "
              f"x{wrapped / plain:.2f})")
    worst = max(results, key=lambda n: results[n][1] - results[n][0])
    plain, wrapped = results[worst]
    print(f"overhead: +{wrapped - plain:.2f} ms per step at worst ({worst}); slowdown = with diagnostics / plain")
    print(f"slowdown: {wrapped / plain:.2f}")


if __name__ == "__main__":
    main()
