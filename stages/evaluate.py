"""Stage `evaluate@<name>`: evaluate one baseline row with the same code as `sentemb evaluate`."""

from __future__ import annotations

import argparse
from dataclasses import replace

from sentemb.config import get_baseline, load_params
from sentemb.evaluation.runner import EvalRequest, evaluate
from sentemb.utils.io import write_json
from sentemb.utils.logging import run_entry_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--baseline", required=True, help="a key of the `baselines` section")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    def run() -> None:
        params = load_params(args.params)
        row = get_baseline(params, args.baseline)
        cfg = params.evaluate
        if row.first_layer_index is not None:
            cfg = replace(cfg, first_layer_index=row.first_layer_index)
        req = EvalRequest.from_config(row.model, row.pooler, cfg, args.data_dir, revision=row.revision)
        write_json(args.output, evaluate(req) | {"row": args.baseline})

    run_entry_point(run)


if __name__ == "__main__":
    main()
