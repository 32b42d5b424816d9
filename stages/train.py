"""Stage `train@<method>-<backbone>-<seed>`: train one run; resumable (re-run the same command
after a kill). Multi-process: `torchrun --nproc_per_node N stages/train.py ...` (README)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentemb.config.jobs import TrainJob, load_job
from sentemb.layout import ModelDir, train_files
from sentemb.training import distributed as ddp
from sentemb.training.run import run_training
from sentemb.utils.io import write_json
from sentemb.utils.logging import run_entry_point

HEADLINE = ("steps", "best_dev", "best_step", "wall_s", "sentences_per_s")  # the small headline; the rest is detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job", required=True, help="metrics/config/train/<run>.json")
    parser.add_argument("--data-dir", required=True, help="the prepare stage's output")
    parser.add_argument("--model-dir", required=True, help="checkpoint and exported model go here")
    parser.add_argument("--metrics-dir", required=True, help="metrics/train")
    args = parser.parse_args()

    def run() -> None:
        job = load_job(args.job, TrainJob)
        files = train_files(Path(args.metrics_dir), job.run)
        summary = run_training(job, Path(args.data_dir), ModelDir(Path(args.model_dir)), files)
        if ddp.rank() == 0:
            write_json(files.details, summary)
            write_json(files.metrics, {k: summary[k] for k in HEADLINE})

    run_entry_point(run)


if __name__ == "__main__":
    main()
