"""Cost of the per-step gradient diagnostics (losses/paradigm.py) against the loss they measure.

Runs forward+backward of a loss on random (B, D) embeddings, plain and wrapped in
``GradientDiagnostics``, side by side in one process, and prints milliseconds per step and the
ratio. A training step of all-MiniLM-L6-v2 at batch 64 takes about 4 s on 2 CPU cores, so the
absolute milliseconds are what matter for training throughput.

    .venv/bin/python benchmarks/diagnostics_overhead.py --batch 64 --dim 384
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--losses", default="infonce,mpt,sg,vicreg,barlow_twins")
    args = parser.parse_args()
    torch.manual_seed(0)
    u = torch.randn(args.batch, args.dim, requires_grad=True)
    v = torch.randn(args.batch, args.dim, requires_grad=True)
    worst = 0.0
    for name in args.losses.split(","):
        plain = ms_per_step(build_loss(name), u, v, args.repeats)
        wrapped = ms_per_step(GradientDiagnostics(build_loss(name)), u, v, args.repeats)
        worst = max(worst, wrapped - plain)
        print(f"{name:14s} plain {plain:7.1f} ms  with diagnostics {wrapped:7.1f} ms  (+{wrapped - plain:.1f} ms)")
    print(f"overhead: {worst:.1f} ms per step (worst loss)")


if __name__ == "__main__":
    main()
