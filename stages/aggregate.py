"""Stage `aggregate`: every table, figure, plot TSV and `metrics/report.md` from one metrics root."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentemb.config.jobs import AggregateJob, load_job
from sentemb.layout import MetricsRoot
from sentemb.reporting.report import aggregate
from sentemb.utils.logging import run_entry_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job", required=True, help="metrics/config/aggregate/aggregate.json")
    parser.add_argument("--metrics", required=True, help="the metrics root (metrics)")
    args = parser.parse_args()
    run_entry_point(lambda: aggregate(load_job(args.job, AggregateJob), MetricsRoot(Path(args.metrics))) and None)


if __name__ == "__main__":
    main()
