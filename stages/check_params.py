"""Stage `check_params`: validate the whole params file in seconds, then write each stage's job.

Every other stage depends on its job file under `metrics/config/` (this stage's output), so a
typo anywhere in params.yaml fails here, first, naming the key and the closest valid name, and
no train stage ever starts with it. A stage reruns exactly when its own job file changes.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sentemb.config import load_params
from sentemb.config.check import check_params
from sentemb.config.resolve import write_jobs
from sentemb.layout import MetricsRoot
from sentemb.utils.logging import run_entry_point

log = logging.getLogger("sentemb.check_params")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", required=True, help="job directory (metrics/config)")
    args = parser.parse_args()

    def run() -> None:
        params = load_params(args.params)
        check_params(params)
        log.info("%s is valid: wrote %d jobs to %s", args.params, write_jobs(params, Path(args.out)), args.out)
        # aggregate depends on every run directory; with no pair task (or no method) no stage
        # would create metrics/pairs (metrics/train), and DVC refuses a missing dependency
        root = MetricsRoot(Path(args.out).parent)
        for folder in (root.eval, root.train, root.analysis, root.pairs):
            folder.mkdir(parents=True, exist_ok=True)

    run_entry_point(run)


if __name__ == "__main__":
    main()
