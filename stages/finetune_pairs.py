"""Stage `finetune_pairs@<task>-<variant>`: fine-tune on one pair task with one loss variant and
score it (methods.md §4); writes the model, the step/dev logs and the metrics JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentemb.config import load_params
from sentemb.pairs.run import run_pair
from sentemb.utils.io import write_json
from sentemb.utils.logging import run_entry_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--task", required=True, help="a key of pairs.tasks")
    parser.add_argument("--variant", required=True, help="a key of pairs.variants")
    parser.add_argument("--data-dir", required=True, help="the prepare stage's output")
    parser.add_argument("--model-dir", required=True, help="the exported best model goes here")
    parser.add_argument("--metrics-dir", required=True, help="<task>-<variant>.json and the step/dev logs")
    args = parser.parse_args()

    def run() -> None:
        metrics_dir = Path(args.metrics_dir)
        result = run_pair(load_params(args.params), args.task, args.variant, Path(args.data_dir),
                          Path(args.model_dir), metrics_dir)
        write_json(metrics_dir / f"{args.task}-{args.variant}.json", result)

    run_entry_point(run)


if __name__ == "__main__":
    main()
