"""Cost of the learning-dynamics probe (training/run.py ``dynamics_probe``) against the dev
evaluation it follows, side by side in one process on all-MiniLM-L6-v2.

At every ``eval_steps`` the training loop scores STS-B and SICK-R dev (``dev_scores``: the
checkpoint selection) and, with ``analyze.dynamics_sentences`` > 0, runs the geometry analysis
on that many sentences (``dynamics_probe``). Both are built here exactly as ``run_training``
builds them, from the job the pipeline writes for ``--method`` (default ``simcse_unsup``) on
params.yaml's first backbone: ``build_training``'s objective, ``eval_encoder`` with the recipe's
eval pooler, the job's ``dev`` and ``analyze`` settings. Each is called once untimed, then
``--repeats`` times; the two alternate over ``--rounds`` rounds and the best round counts.

Data: ``--data-dir`` (a prepared dir or a SentEval ``downstream`` dir), by default
``data/prepared`` if the prepare stage has run, else the mirror's ``senteval/downstream``
(``$SENTEMB_DATA_MIRROR`` overrides the mirror). ``--pairs N`` first cuts STS-B and SICK-R to
their first N examples per split (a temporary prepared copy).

The last line is ``ratio: X.XX``: seconds per probe / seconds per dev evaluation (the share of
the evaluation time the probe adds).

    PYTHONPATH=src .venv/bin/python benchmarks/dynamics_overhead.py [--data-dir DIR] [--sentences 256]
    PYTHONPATH=src .venv/bin/python benchmarks/dynamics_overhead.py --quick   # 16 pairs, 16 sentences, 1 repeat
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import tempfile
from pathlib import Path

import torch

from _common import cut_tasks, eval_data_dir, interleaved, pipeline_job, seconds
from sentemb.data.tasks import split_tasks
from sentemb.training.run import build_training, dev_scores, dev_tasks, dynamics_probe, eval_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny run: --pairs 16 --sentences 16 --repeats 1")
    parser.add_argument("--data-dir", default=None, help="prepared or SentEval downstream dir (see above)")
    parser.add_argument("--method", default="simcse_unsup", help="params.yaml method (default simcse_unsup)")
    parser.add_argument("--pairs", type=int, default=None, help="cut every split to its first N examples (quick 16)")
    parser.add_argument("--sentences", type=int, default=None,
                        help="analyze.dynamics_sentences (params.yaml's; quick 16)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per round (2; quick 1)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds, the best counts (1)")
    args = parser.parse_args()
    job, _ = pipeline_job(args.method)
    for key, full, quick in (("pairs", None, 16), ("sentences", job.analyze.dynamics_sentences, 16),
                             ("repeats", 2, 1), ("rounds", 1, 1)):
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    if args.sentences <= 0:
        raise SystemExit("dynamics_overhead: --sentences must be > 0 (0 turns the probe off)")
    os.environ.setdefault("SENTEMB_DEVICE", "cpu")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    job = dataclasses.replace(job, analyze=dataclasses.replace(job.analyze, dynamics_sentences=args.sentences))
    data_dir = eval_data_dir(args.data_dir)

    with tempfile.TemporaryDirectory() as tmp:
        if args.pairs is not None:
            data_dir = cut_tasks(split_tasks(), data_dir, args.pairs, Path(tmp) / "cut")
        objective, _, _ = build_training(job)
        encoder = eval_encoder(objective, job.recipe.eval_pooler, job.dev.first_layer_index)
        tasks = dev_tasks(data_dir)
        probe = dynamics_probe(encoder, data_dir, job)
        n_dev = sum(len(t.sentences()) for t in tasks.values())
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; job {job.run} on {job.backbone.label}, "
              f"eval pooler {job.recipe.eval_pooler}; data {data_dir}"
              + (f" (first {args.pairs} examples per split)" if args.pairs is not None else ""))
        runs = interleaved(objective.device, {
            "dev": lambda: seconds(lambda: dev_scores(encoder, tasks, job.dev), args.repeats),
            "dynamics": lambda: seconds(probe, args.repeats),
        }, args.rounds)
    dev, dyn = (min(v for v, _ in runs[side]) for side in ("dev", "dynamics"))
    print(f"dev evaluation (STS-B + SICK-R dev, {n_dev} sentences): {dev:.2f} s per call")
    print(f"dynamics probe ({args.sentences} sentences): {dyn:.2f} s per call; ratio = dynamics / dev")
    print(f"ratio: {dyn / dev:.2f}")


if __name__ == "__main__":
    main()
