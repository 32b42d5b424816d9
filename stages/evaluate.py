"""Stages `evaluate@<row>` and `evaluate_variant@<variant>`: the same code as `sentemb evaluate`.

A baseline row names a model and pooler in `baselines`; a variant is evaluated from its
exported model directory with its `eval_pooler`. Baseline rows that differ only in the pooler
share one backbone pass: the first such row also caches its siblings' embeddings, so their
stages only fit classifiers. This saves one full encoding per extra pooler (about six minutes
per row on a 2-core CPU) and cannot change a score: the cache is keyed by model checksum and
pooler, and a sibling whose entry is missing encodes for itself.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from sentemb.config import Params, get_baseline, get_variant, load_params
from sentemb.errors import ConfigError
from sentemb.evaluation.runner import EvalRequest, evaluate
from sentemb.utils.io import read_json, write_json
from sentemb.utils.logging import run_entry_point


def sibling_poolers(params: Params, name: str) -> tuple[str, ...]:
    """Poolers of the other baseline rows that run the same model the same way as ``name``."""
    row = get_baseline(params, name)
    same = (row.model, row.revision, row.first_layer_index)
    return tuple(
        other.pooler
        for key, other in params.baselines.items()
        if key != name and (other.model, other.revision, other.first_layer_index) == same
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--baseline", help="a key of the `baselines` section")
    which.add_argument("--variant", help="a key of the `variants` section (needs --model)")
    parser.add_argument("--model", help="exported model directory of the variant")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--run", help="the variant's run (<variant>.s<seed>) this model comes from")
    args = parser.parse_args()

    def run() -> None:
        params = load_params(args.params)
        cfg = params.evaluate
        share: tuple[str, ...] = ()
        if args.variant:
            if not args.model:
                raise ConfigError("--variant needs --model (the exported model directory)")
            variant = get_variant(params, args.variant)
            if variant.eval_tasks is not None:
                cfg = replace(cfg, tasks=variant.eval_tasks)
            req = EvalRequest.from_config(args.model, variant.eval_pooler, cfg, args.data_dir)
        else:
            row = get_baseline(params, args.baseline)
            if row.first_layer_index is not None:
                cfg = replace(cfg, first_layer_index=row.first_layer_index)
            req = EvalRequest.from_config(row.model, row.pooler, cfg, args.data_dir, revision=row.revision)
            share = sibling_poolers(params, args.baseline)
        doc = evaluate(req, share) | {"row": args.variant or args.baseline}
        if args.variant:  # the dev score that chose this checkpoint: picks the best seed on dev, never on test
            meta = read_json(Path(args.model) / "sentemb.json")
            doc |= {"run": args.run or args.variant,
                    "selection": {"stsb_dev": meta.get("stsb_dev"), "step": meta.get("step")}}
        write_json(args.output, doc)

    run_entry_point(run)


if __name__ == "__main__":
    main()
