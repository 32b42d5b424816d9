"""STS evaluation speed: our evaluator against a plain one, side by side in one process.

The plain evaluator is what a straightforward port of SentEval does: for each task and split,
encode the pairs in file order, 128 pairs per batch (both sides), padded to the longest
sentence of the batch, no de-duplication, no length sorting, no cache. Ours de-duplicates
sentences across the seven STS tasks, length-sorts batches, runs under inference mode, and
caches on disk (cold here: a fresh temporary cache directory).

Both must give the same seven scores. The last line printed is ``speedup: X.XX`` (plain / ours,
cold cache). ``--transfer`` also times the transfer suite in ``test`` mode (encoding and
classifier fits reported separately).

    .venv/bin/python benchmarks/eval_speed.py [--data-dir DIR] [--transfer]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from sentemb.data.senteval import STS_TASKS, load_task
from sentemb.evaluation.runner import EvalRequest, evaluate
from sentemb.models.encoder import MINILM_ID, SentenceEncoder, load_backbone, resolve_model_path

DEFAULT_DATA = Path(os.environ.get("SENTEMB_DATA_MIRROR", "../shared/data/datasets-for-simcse")) / "senteval/downstream"


@torch.no_grad()
def _plain_encode(encoder: SentenceEncoder, sentences: list[str]) -> np.ndarray:
    enc = encoder.tokenizer(sentences, padding=True, return_tensors="pt")
    return encoder(**enc).numpy()


def plain_sts(encoder: SentenceEncoder, data_dir: Path) -> dict[str, float]:
    """SentEval-style STS: file order, 128 pairs per batch, each side encoded separately."""
    encoder.eval()
    scores = {}
    for name in STS_TASKS:
        task = load_task(name, data_dir)
        sys_all, gold_all, per_split = [], [], {}
        for split, examples in task.splits.items():
            sims = []
            for i in range(0, len(examples), 128):
                batch = examples[i : i + 128]
                u = _plain_encode(encoder, [ex.text_a for ex in batch])
                v = _plain_encode(encoder, [ex.text_b for ex in batch])  # type: ignore[misc]
                sims.extend((u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1)))
            gold = [float(ex.label) for ex in examples]
            per_split[split] = 100 * spearmanr(sims, gold)[0]
            sys_all += sims
            gold_all += gold
        if name in ("STSBenchmark", "SICKRelatedness"):
            scores[name] = round(per_split["test"], 2)
        else:
            scores[name] = round(100 * spearmanr(sys_all, gold_all)[0], 2)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--transfer", action="store_true", help="also time the transfer suite (test mode)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, data {args.data_dir}")

    t0 = time.perf_counter()
    backbone, tokenizer = load_backbone(resolve_model_path(MINILM_ID))
    plain = plain_sts(SentenceEncoder(backbone, tokenizer, "avg"), args.data_dir)
    t_plain = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as cache_dir:
        req = EvalRequest(model=MINILM_ID, pooler="avg", tasks="sts", mode="test",
                          data_dir=str(args.data_dir), cache_dir=cache_dir)
        t0 = time.perf_counter()
        ours = evaluate(req)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluate(req)
        t_warm = time.perf_counter() - t0
        if args.transfer:
            t0 = time.perf_counter()
            doc = evaluate(EvalRequest(model=MINILM_ID, pooler="avg", tasks="transfer", mode="test",
                                       data_dir=str(args.data_dir), cache_dir=cache_dir))
            total = time.perf_counter() - t0
            enc = doc["provenance"]["encode_seconds"]
            print(f"transfer suite (test mode): {total:.1f} s total = {enc:.1f} s encoding "
                  f"{doc['provenance']['sentences_encoded']} sentences + {total - enc:.1f} s classifiers")
            print(f"transfer scores: {doc['scores']}, avg {doc['avg_transfer']}")

    print(f"plain scores: {plain}")
    print(f"ours  scores: {ours['scores']}")
    mismatch = {k: (plain[k], ours["scores"][k]) for k in plain if plain[k] != ours["scores"][k]}
    if mismatch:
        raise SystemExit(f"scores differ: {mismatch}")
    print(f"encoded sentences: ours {ours['provenance']['sentences_encoded']} distinct of "
          f"{ours['provenance']['sentences_total']} (plain encodes all)")
    print(f"plain: {t_plain:.1f} s   ours cold cache: {t_ours:.1f} s   ours warm cache: {t_warm:.1f} s")
    print(f"speedup: {t_plain / t_ours:.2f}")


if __name__ == "__main__":
    main()
