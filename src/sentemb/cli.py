"""The ``sentemb`` command line. ``sentemb evaluate`` runs the same code as the evaluate stage;
``sentemb profile`` applies a profile overlay to params.yaml; ``sentemb sweep-plot`` draws the
aggregate figure of a DVC-experiment sweep; ``sentemb standins`` builds tiny random stand-ins of
the paper profile's hub models into a Hugging Face cache, for offline mechanics checks. Bad input
is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path

from sentemb.config import FirstLayer, Mode, Pooler, check_value
from sentemb.errors import ConfigError
from sentemb.utils.io import write_json
from sentemb.utils.logging import run_entry_point

log = logging.getLogger("sentemb")


POOLER_ALIASES = {"mean": "avg"}  # sentence-transformers' name for mean pooling
DATA_DIR_HELP = ("data/prepared (the prepare stage's output), SentEval's downstream dir (senteval.tar unpacked: "
                 ".../senteval/downstream), the organisers' official STS/STS-B/SICK files, or MTEB's copies "
                 "(<dir>/sts12-sts/test.jsonl.gz, ...); docs/protocol.md §A.2")


def _evaluate_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("evaluate", help="SentEval/SimCSE-protocol evaluation of one model")
    p.add_argument("--model", required=True, help="hub id, local directory or sentence-transformers/all-MiniLM-L6-v2")
    p.add_argument("--pooler", required=True, help="cls | cls_before_pooler | avg (alias: mean) | avg_top2 | "
                                                   "avg_first_last")
    p.add_argument("--tasks", default="all", help="sts | transfer | all, or task names: STS12,STSBenchmark")
    p.add_argument("--mode", default="test", help="test | fasttest | dev")
    p.add_argument("--data-dir", required=True, help=DATA_DIR_HELP)
    p.add_argument("--output", required=True, help="result JSON (written atomically; checked writable first)")
    p.add_argument("--items", default=None, help="also write the per-item outputs (npz) for the paired bootstrap")
    p.add_argument("--revision", default=None, help="pinned hub revision of the model")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--max-length", type=int, default=None, help="truncate at evaluation (default: never)")
    p.add_argument("--first-layer-index", type=int, default=1, help="avg_first_last: 0 or 1 (docs/methods.md §0.4)")
    p.add_argument("--precision", default="fp32", help="fp32 (the exact protocol) | bf16 (faster on a GPU)")
    p.add_argument("--allow-unverified", action="store_true",
                   help="evaluate data whose checksums or counts are not the pinned upstream ones; every output "
                        "then says 'unverified data'")
    p.add_argument("--cache-dir", default="data/cache/embeddings", help="embedding cache root")
    p.add_argument("--no-cache", action="store_true", help="keep embeddings in memory only")


def check_writable(path: str, what: str) -> None:
    """Fail now, in one line, if ``path`` cannot be written: not after hours of work."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{what}: {target} is a directory, not a file")
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: {target} cannot be written ({parent} is not a writable directory)")
    if target.exists() and not os.access(target, os.W_OK):
        raise ConfigError(f"{what}: {target} is not writable")


def check_writable_dir(path: str, what: str) -> None:
    """A directory that exists and is writable, or can be created."""
    target = Path(path)
    parent = target
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: {target} cannot be used as a directory ({parent} is not a writable directory)")


def _run_evaluate(args: argparse.Namespace) -> None:
    from sentemb.evaluation.runner import EvalRequest, evaluate

    for what, path in (("--output", args.output), ("--items", args.items)):
        if path is not None:
            check_writable(path, what)
    if not args.no_cache:
        check_writable_dir(args.cache_dir, "--cache-dir")
    req = EvalRequest(
        model=args.model,
        pooler=check_value(POOLER_ALIASES.get(args.pooler, args.pooler), Pooler, "--pooler"),
        tasks=args.tasks,
        mode=check_value(args.mode, Mode, "--mode"),
        data_dir=args.data_dir,
        revision=args.revision,
        batch_size=args.batch_size,
        max_length=args.max_length,
        first_layer_index=check_value(args.first_layer_index, FirstLayer, "--first-layer-index"),
        cache_dir=None if args.no_cache else args.cache_dir,
        precision=args.precision,
        allow_unverified=args.allow_unverified,
    )
    doc = evaluate(req, items_path=Path(args.items) if args.items else None)
    write_json(args.output, doc)
    log.info("scores: %s", doc["scores"])
    if not doc["data"]["verified"]:
        log.warning("unverified data: %s", "; ".join(doc["data"]["problems"]))


def _profile_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("profile", help="apply a profile overlay to params.yaml (e.g. profiles/paper.yaml)")
    p.add_argument("overlay", help="the overlay file (RFC 7386 merge patch)")
    p.add_argument("--params", default="params.yaml", help="the params file rewritten in place")


def _run_profile(args: argparse.Namespace) -> None:
    from sentemb.config.profile import apply_profile

    params = apply_profile(args.params, args.overlay)
    log.info("%s is now profile '%s' (%d backbones, %d methods, seeds %s); `dvc params diff` shows the change",
             args.params, params.profile, len(params.backbones), len(params.methods), params.seeds)


def _sweep_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sweep-plot", help="metric against a swept param over the DVC experiments of a sweep")
    p.add_argument("--param", required=True, help="e.g. methods.simcse_unsup.loss_args.temperature")
    p.add_argument("--metric", required=True, help="e.g. metrics/eval/simcse_unsup.minilm.s42.json:STSBenchmark")
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


def _standins_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("standins", help="tiny random stand-ins of the paper profile's hub models in a Hugging Face "
                                        "cache: runs the paper profile offline, mechanics only (scores mean nothing)")
    p.add_argument("--hf-cache", required=True, help="cache directory to build into (created; a directory of its own, "
                                                     "never one holding real downloads)")
    p.add_argument("--models", default=None, help="comma-separated hub ids (default: all: bert-base-uncased, "
                                                  "roberta-base, distilbert-base-uncased, distilroberta-base)")
    p.add_argument("--corpus", default=None, help="text file the RoBERTa stand-ins' BPE is trained on (default: "
                                                  "wiki1m_for_simcse.txt of the data mirror)")


def _run_standins(args: argparse.Namespace) -> None:
    from sentemb.standins import hub_env, populate_hf_cache

    models = None
    if args.models is not None:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        if not models:
            raise ConfigError("--models: no model id given")
    check_writable_dir(args.hf_cache, "--hf-cache")  # also refuses a file
    for model_id, snapshot in populate_hf_cache(args.hf_cache, models, corpus=args.corpus).items():
        log.info("%s: random stand-in at %s", model_id, snapshot)
    log.warning("stand-ins check mechanics only: their scores mean nothing. Export these, then e.g. `dvc repro`:")
    sys.stdout.write("".join(f"export {k}={shlex.quote(v)}\n" for k, v in hub_env(args.hf_cache).items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sentemb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _evaluate_parser(sub)
    _sweep_parser(sub)
    _profile_parser(sub)
    _standins_parser(sub)
    args = parser.parse_args(argv)
    commands = {"evaluate": _run_evaluate, "sweep-plot": _run_sweep, "profile": _run_profile,
                "standins": _run_standins}
    run_entry_point(lambda: commands[args.command](args))


if __name__ == "__main__":
    main()
