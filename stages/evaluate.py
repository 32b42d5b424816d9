"""Stages `evaluate@<baseline>-<backbone>` and `evaluate_variant@<method>-<backbone>-<seed>`: the
same code as `sentemb evaluate`.

An untrained row's job names its model and pooler; a trained run is evaluated from its exported
model (`--model`) with its method's eval pooler. Untrained rows of one backbone that differ only
in the pooler share one backbone pass: the first such row also caches its siblings' embeddings,
so their stages only fit classifiers. The cache is keyed by model checksum and pooler, so this
cannot change a score.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sentemb.config.jobs import EvalJob, load_job
from sentemb.errors import ConfigError
from sentemb.evaluation.runner import EvalRequest, evaluate, headline_metrics
from sentemb.layout import ModelDir, eval_files
from sentemb.utils.io import read_json, write_json
from sentemb.utils.logging import run_entry_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job", required=True, help="metrics/config/evaluate/<run>.json")
    parser.add_argument("--model", help="a trained run's model directory (data/models/<run>)")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--output-dir", required=True, help="metrics/eval")
    args = parser.parse_args()

    def run() -> None:
        job = load_job(args.job, EvalJob)
        if (job.model is None) == (args.model is None):
            raise ConfigError("--model: give it for a trained run's job (and only then)")
        model_dir = ModelDir(Path(args.model)) if args.model else None
        req = EvalRequest.from_job(job, args.data_dir, model=str(model_dir.exported) if model_dir else None)
        files = eval_files(Path(args.output_dir), job.run)
        doc = evaluate(req, tuple(job.share_poolers), files.items) | {"run": job.run}
        if model_dir is not None:  # the dev score that chose this checkpoint: picks the best seed on dev
            meta = read_json(model_dir.meta)
            doc["selection"] = {"stsb_dev": meta.get("stsb_dev"), "step": meta.get("step")}
        write_json(files.details, doc)
        write_json(files.metrics, headline_metrics(doc))

    run_entry_point(run)


if __name__ == "__main__":
    main()
