"""Stages `analyze@<baseline>-<backbone>` and `analyze_variant@<method>-<backbone>-<seed>`: the
geometry of one model (docs/methods.md §6.1 per layer, §7.1 alignment/uniformity, the singular
value spectrum) on the fixed, checksummed STS-B test sentence set."""

from __future__ import annotations

import argparse
from pathlib import Path

from sentemb.analysis.run import analyze_job
from sentemb.config.jobs import AnalyzeJob, load_job
from sentemb.errors import ConfigError
from sentemb.layout import ModelDir, analysis_files
from sentemb.utils.io import write_json
from sentemb.utils.logging import run_entry_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job", required=True, help="metrics/config/analyze/<run>.json")
    parser.add_argument("--model", help="a trained run's model directory (data/models/<run>)")
    parser.add_argument("--data-dir", required=True, help="the prepare stage's output")
    parser.add_argument("--output-dir", required=True, help="metrics/analysis")
    args = parser.parse_args()

    def run() -> None:
        job = load_job(args.job, AnalyzeJob)
        if (job.model is None) == (args.model is None):
            raise ConfigError("--model: give it for a trained run's job (and only then)")
        model = ModelDir(Path(args.model)).exported if args.model else None
        doc = analyze_job(job, Path(args.data_dir), model)
        files = analysis_files(Path(args.output_dir), job.run)
        write_json(files.details, doc)
        last = doc["layers"][-1]
        headline = {"anisotropy": last["anisotropy_baseline"], "intra_sim_adj": last["intra_sim_adjusted"],
                    "alignment": doc["sentence"]["alignment"], "uniformity": doc["sentence"]["uniformity"],
                    "wall_s": doc["wall_s"]}
        write_json(files.metrics, {k: v for k, v in headline.items() if v is not None})

    run_entry_point(run)


if __name__ == "__main__":
    main()
