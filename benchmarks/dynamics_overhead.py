"""Cost of the learning-dynamics probe (training/run.py ``dynamics_probe``) against the dev
evaluation it follows, side by side in one process on all-MiniLM-L6-v2.

At every ``eval_steps`` the loop scores STS-B and SICK-R dev (the checkpoint selection) and,
with ``analyze.dynamics_sentences`` > 0, runs the geometry analysis on that many sentences.
This prints seconds per call of each and their ratio.

    .venv/bin/python benchmarks/dynamics_overhead.py --data-dir data/prepared --sentences 256
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sentemb.config import AnalyzeConfig
from sentemb.models.encoder import SentenceEncoder, load_backbone, resolve_model_path
from sentemb.training.run import dev_scores, dev_tasks, dynamics_probe


def seconds(fn: object, repeats: int) -> float:
    fn()  # type: ignore[operator]  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="data/prepared")
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    backbone, tokenizer = load_backbone(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"))
    encoder = SentenceEncoder(backbone, tokenizer, "avg")
    tasks = dev_tasks(Path(args.data_dir))
    probe = dynamics_probe(lambda: encoder, Path(args.data_dir), AnalyzeConfig(dynamics_sentences=args.sentences))
    dev = seconds(lambda: dev_scores(encoder, tasks), args.repeats)
    dyn = seconds(probe, args.repeats)
    print(f"dev evaluation (STS-B + SICK-R dev): {dev:.1f} s per call")
    print(f"dynamics probe ({args.sentences} sentences): {dyn:.1f} s per call")
    print(f"ratio dynamics/dev: {dyn / dev:.2f}")


if __name__ == "__main__":
    main()
