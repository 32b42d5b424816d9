"""Stages `analyze@<row>` and `analyze_variant@<variant>`: the geometry of one model (methods.md
§6.1 per layer, §7.1 alignment/uniformity, the singular-value spectrum) on the fixed,
checksummed STS-B test sentence set; writes metrics/analysis/<row>.json."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from sentemb.analysis.run import analysis_data, analyze_encoder, provenance
from sentemb.config import get_baseline, get_variant, load_params
from sentemb.errors import ConfigError
from sentemb.models.encoder import SentenceEncoder, load_backbone, model_checksum, resolve_model_path
from sentemb.utils.io import write_json
from sentemb.utils.logging import run_entry_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--baseline", help="a key of the `baselines` section")
    which.add_argument("--variant", help="a key of the `variants` section (needs --model)")
    parser.add_argument("--model", help="exported model directory of the variant")
    parser.add_argument("--data-dir", required=True, help="the prepare stage's output")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    def run() -> None:
        params = load_params(args.params)
        first_layer = params.evaluate.first_layer_index
        if args.variant:
            if not args.model:
                raise ConfigError("--variant needs --model (the exported model directory)")
            model, pooler = Path(args.model), get_variant(params, args.variant).eval_pooler
        else:
            row = get_baseline(params, args.baseline)
            model, pooler = resolve_model_path(row.model, row.revision), row.pooler
            first_layer = row.first_layer_index if row.first_layer_index is not None else first_layer
        backbone, tokenizer = load_backbone(model)
        encoder = SentenceEncoder(backbone, tokenizer, pooler, first_layer)
        encoder.to(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
        sentences, pairs = analysis_data(Path(args.data_dir))
        started = time.perf_counter()
        result = analyze_encoder(encoder, sentences, pairs, params.analyze)
        write_json(args.output, {"row": args.variant or args.baseline, "model": str(model), "pooler": pooler,
                                 "model_sha256": model_checksum(model), **provenance(sentences, params.analyze),
                                 **result, "wall_s": time.perf_counter() - started})

    run_entry_point(run)


if __name__ == "__main__":
    main()
