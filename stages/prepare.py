"""Stage `prepare`: verify the raw data, parse it strictly, write `data/prepared`.

See `sentemb.data.prepare`. A data or config problem is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sentemb.config import DataConfig
from sentemb.config.jobs import load_job
from sentemb.data.prepare import prepare
from sentemb.utils.logging import run_entry_point


def main() -> None:
    parser = argparse.ArgumentParser(description="Fetch, verify and normalise the raw data.")
    parser.add_argument("--job", type=Path, required=True, help="metrics/config/prepare/prepare.json")
    parser.add_argument("--out", type=Path, required=True, help="prepared data directory")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics JSON")
    args = parser.parse_args()
    run_entry_point(lambda: prepare(load_job(args.job, DataConfig), args.out, args.metrics) and None)


if __name__ == "__main__":
    main()
