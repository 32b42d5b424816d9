"""The ``sentemb`` command line. ``sentemb evaluate`` runs the same code as the evaluate stage;
``sentemb sweep-plot`` draws the aggregate figure of a DVC-experiment sweep."""

from __future__ import annotations

import argparse
import logging

from sentemb.config import FirstLayer, Mode, Pooler, TaskFamily, check_value
from sentemb.utils.io import write_json
from sentemb.utils.logging import run_entry_point

log = logging.getLogger("sentemb")


def _evaluate_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("evaluate", help="SentEval/SimCSE-protocol evaluation of one model")
    p.add_argument("--model", required=True, help="hub id, local directory or sentence-transformers/all-MiniLM-L6-v2")
    p.add_argument("--pooler", required=True, help="cls | cls_before_pooler | avg | avg_top2 | avg_first_last")
    p.add_argument("--tasks", default="all", help="sts | transfer | all")
    p.add_argument("--mode", default="test", help="test | fasttest | dev")
    p.add_argument("--data-dir", required=True, help="SentEval downstream dir or data/prepared/senteval")
    p.add_argument("--output", required=True, help="result JSON (written atomically)")
    p.add_argument("--revision", default=None, help="pinned hub revision of the model")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--max-length", type=int, default=None, help="truncate at evaluation (default: never)")
    p.add_argument("--first-layer-index", type=int, default=1, help="avg_first_last: 0 or 1 (methods.md §0.4)")
    p.add_argument("--cache-dir", default="data/cache/embeddings", help="embedding cache root")
    p.add_argument("--no-cache", action="store_true", help="keep embeddings in memory only")


def _run_evaluate(args: argparse.Namespace) -> None:
    from sentemb.evaluation.runner import EvalRequest, evaluate

    req = EvalRequest(
        model=args.model,
        pooler=check_value(args.pooler, Pooler, "--pooler"),
        tasks=check_value(args.tasks, TaskFamily, "--tasks"),
        mode=check_value(args.mode, Mode, "--mode"),
        data_dir=args.data_dir,
        revision=args.revision,
        batch_size=args.batch_size,
        max_length=args.max_length,
        first_layer_index=check_value(args.first_layer_index, FirstLayer, "--first-layer-index"),
        cache_dir=None if args.no_cache else args.cache_dir,
    )
    doc = evaluate(req)
    write_json(args.output, doc)
    log.info("scores: %s", doc["scores"])


def _sweep_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sweep-plot", help="metric against a swept param over the DVC experiments of a sweep")
    p.add_argument("--param", required=True, help="e.g. variants.simcse_unsup.loss_args.temperature")
    p.add_argument("--metric", required=True, help="e.g. metrics/eval/simcse_unsup.s42.json:scores.STSBenchmark")
    p.add_argument("--output", required=True, help="PNG path (written atomically)")


def _run_sweep(args: argparse.Namespace) -> None:
    from pathlib import Path

    import dvc.api

    from sentemb.reporting.figures import save
    from sentemb.reporting.sweeps import fig_sweep, sweep_points

    points = sweep_points(dvc.api.exp_show(), args.param, args.metric)
    save(fig_sweep(points, args.param, args.metric), Path(args.output))
    for value, score, name in points:
        log.info("%s = %s: %s %.4f", name, value, args.metric, score)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sentemb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _evaluate_parser(sub)
    _sweep_parser(sub)
    args = parser.parse_args(argv)
    run_entry_point(lambda: _run_sweep(args) if args.command == "sweep-plot" else _run_evaluate(args))


if __name__ == "__main__":
    main()
