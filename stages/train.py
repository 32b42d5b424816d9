"""Stage `train@<variant>`: train one variant; resumable (re-run the same command after a kill).

Multi-process: `torchrun --nproc_per_node N stages/train.py ...` (see README).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sentemb.config import load_params
from sentemb.training import distributed as ddp
from sentemb.training.run import run_variant
from sentemb.utils.io import write_json
from sentemb.utils.logging import run_entry_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--variant", required=True, help="a key of the `variants` section")
    parser.add_argument("--data-dir", required=True, help="the prepare stage's output")
    parser.add_argument("--model-dir", required=True, help="checkpoint and exported model go here")
    parser.add_argument("--metrics-dir", required=True, help="per-step JSONL and the summary JSON")
    parser.add_argument("--seed", type=int, help="training seed of this run (default: train.seed)")
    parser.add_argument("--run", help="file stem of this run in --metrics-dir (default: the variant name)")
    args = parser.parse_args()

    def run() -> None:
        summary = run_variant(load_params(args.params), args.variant, Path(args.data_dir), Path(args.model_dir),
                              Path(args.metrics_dir), seed=args.seed, run=args.run)
        if ddp.rank() == 0:
            write_json(Path(args.metrics_dir) / f"{args.run or args.variant}.json", summary)

    run_entry_point(run)


if __name__ == "__main__":
    main()
