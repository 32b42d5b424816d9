"""Stage `finetune_pairs@<task>-<method>`: fine-tune on one pair task with one method and score
it (docs/methods.md §4); writes the model, the step/dev logs, the metrics and the details."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentemb.config.jobs import PairJob, load_job
from sentemb.layout import ModelDir, pair_files
from sentemb.pairs.run import run_pair
from sentemb.utils.io import write_json
from sentemb.utils.logging import run_entry_point


def headline(doc: dict) -> dict:
    """The DVC metric: test metrics and the selection, flat; nothing for an n/a cell."""
    if not doc["applicable"]:
        return {}
    out = {k: v for k, v in doc["test"].items() if not k.endswith("_threshold")}
    return out | {"best_step": doc["best_step"], "wall_s": doc["wall_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job", required=True, help="metrics/config/pairs/<task>-<method>.json")
    parser.add_argument("--data-dir", required=True, help="the prepare stage's output")
    parser.add_argument("--model-dir", required=True, help="the exported best model goes here")
    parser.add_argument("--metrics-dir", required=True, help="metrics/pairs")
    args = parser.parse_args()

    def run() -> None:
        job = load_job(args.job, PairJob)
        files = pair_files(Path(args.metrics_dir), job.run)
        doc = run_pair(job, Path(args.data_dir), ModelDir(Path(args.model_dir)), files)
        write_json(files.details, doc)
        write_json(files.metrics, {k: v for k, v in headline(doc).items() if v is not None})

    run_entry_point(run)


if __name__ == "__main__":
    main()
