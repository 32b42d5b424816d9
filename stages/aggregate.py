"""Stage `aggregate`: metrics/eval/*.json and metrics/pairs/*.json -> metrics/tables/*.{md,csv,tex} + report."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentemb.config import load_params
from sentemb.reporting.report import aggregate
from sentemb.utils.logging import run_entry_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--eval-dir", required=True)
    parser.add_argument("--out", required=True, help="directory for the tables")
    parser.add_argument("--report", required=True)
    parser.add_argument("--train-dir", help="per-step training logs (metrics/train)")
    parser.add_argument("--plots", help="directory for the TSV training curves")
    parser.add_argument("--pairs-dir", help="pair-run metrics and logs (metrics/pairs)")
    parser.add_argument("--analysis-dir", help="geometry analyses (metrics/analysis)")
    parser.add_argument("--figures", help="directory for the PNG figures of the report")
    args = parser.parse_args()
    run_entry_point(lambda: aggregate(load_params(args.params), Path(args.eval_dir), Path(args.out),
                                      Path(args.report), args.train_dir and Path(args.train_dir),
                                      args.plots and Path(args.plots),
                                      args.pairs_dir and Path(args.pairs_dir),
                                      args.analysis_dir and Path(args.analysis_dir),
                                      args.figures and Path(args.figures)) and None)


if __name__ == "__main__":
    main()
