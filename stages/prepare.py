"""DVC stage ``prepare``: verify the raw data, parse it strictly, write ``data/prepared``.

See ``sentemb.data.prepare`` (protocol.md §B.4, §F). A data or config problem is one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sentemb.config import load_params
from sentemb.data.prepare import prepare
from sentemb.utils.logging import run_entry_point


def main() -> None:
    parser = argparse.ArgumentParser(description="Fetch, verify and normalise the raw data.")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (uses: data)")
    parser.add_argument("--out", type=Path, default=Path("data/prepared"), help="prepared data directory")
    parser.add_argument("--metrics", type=Path, default=Path("metrics/prepare.json"), help="metrics JSON")
    args = parser.parse_args()
    prepare(load_params(args.params).data, args.out, args.metrics)


if __name__ == "__main__":
    run_entry_point(main)
