"""STS evaluation speed: our evaluator against a plain one, side by side in one process.

The plain evaluator is what a straightforward port of SentEval does: for each task and split,
encode the pairs in file order, 128 pairs per batch (both sides), padded to the longest
sentence of the batch, no de-duplication, no length sorting, no cache. Ours is
``sentemb.evaluation.runner.evaluate`` as ``sentemb evaluate --tasks sts --mode test`` runs it: it
de-duplicates sentences across the seven STS tasks, length-sorts batches, runs under inference
mode, and caches on disk (cold here: a fresh temporary cache directory; the warm second run is
reported too). Both use all-MiniLM-L6-v2 with mean pooling, and each side's time includes loading
the model and the data. ``--rounds`` alternates the two (plain, ours, plain, ours, ...; the best
round counts).

Both must give the same seven scores (else the script exits with an error): equal within 0.02
points before rounding, since the two pad differently and a near-tied cosine may rank either way
(see ``TOLERANCE``). The last line is ``speedup: X.XX``: plain seconds / ours with a cold cache
(above 1: ours is faster). ``--transfer`` also times the transfer suite in ``test`` mode on the
uncut data (encoding and classifier fits reported separately).

Data: ``--data-dir`` (a SentEval ``downstream`` dir or a prepared dir), by default
``data/prepared`` if the prepare stage has run, else the mirror's ``senteval/downstream``
(``$SENTEMB_DATA_MIRROR`` overrides the mirror). ``--pairs N`` first cuts every split to its first N
pairs (a temporary prepared copy, unverified): the first pairs of a split repeat fewer sentences
than the whole file does, so a cut run de-duplicates less and its speedup is not the full one.

    PYTHONPATH=src .venv/bin/python benchmarks/eval_speed.py [--data-dir DIR] [--pairs N] [--transfer]
    PYTHONPATH=src .venv/bin/python benchmarks/eval_speed.py --quick   # --pairs 16
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from _common import cut_tasks, eval_data_dir, interleaved
from sentemb.data.senteval import load_task
from sentemb.data.tasks import family, split_tasks
from sentemb.evaluation.runner import EvalRequest, evaluate
from sentemb.evaluation.sts import headline
from sentemb.models.encoder import MINILM_ID, SentenceEncoder, load_backbone, resolve_model_path

# Spearman x100. The two sides pad differently (file-order vs length-sorted batches) and plain takes
# the cosine in fp32, so a few near-tied cosines rank differently; each such swap moves a Spearman
# over ~1000 pairs by ~1e-3 points (3e-3 measured on 200 pairs per split). Far below the reported
# 2 decimals, but a score near a rounding boundary may round either way.
TOLERANCE = 0.02


@torch.no_grad()
def _plain_encode(encoder: SentenceEncoder, sentences: list[str]) -> np.ndarray:
    enc = encoder.tokenizer(sentences, padding=True, return_tensors="pt")
    return encoder(**enc).numpy()


def plain_sts(encoder: SentenceEncoder, data_dir: Path) -> dict[str, float]:
    """SentEval-style STS: file order, 128 pairs per batch, each side encoded separately; Spearman x100,
    unrounded."""
    encoder.eval()
    scores = {}
    for name in family("sts"):
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
        if name in split_tasks():
            scores[name] = float(per_split["test"])
        else:
            scores[name] = 100 * float(spearmanr(sys_all, gold_all)[0])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny run: --pairs 16")
    parser.add_argument("--data-dir", default=None, help="SentEval downstream or prepared dir (see above)")
    parser.add_argument("--pairs", type=int, default=None, help="cut every split to its first N pairs (quick 16)")
    parser.add_argument("--allow-unverified", action="store_true",
                        help="evaluate data whose checksums are not upstream's (e.g. a test fixture)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (plain, ours), the best counts")
    parser.add_argument("--transfer", action="store_true", help="also time the transfer suite (test mode)")
    args = parser.parse_args()
    if args.pairs is None and args.quick:
        args.pairs = 16
    os.environ.setdefault("SENTEMB_DEVICE", "cpu")
    data_dir = eval_data_dir(args.data_dir)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, data {data_dir}"
          + (f" (first {args.pairs} pairs per split)" if args.pairs is not None else ""))

    with tempfile.TemporaryDirectory() as tmp:
        sts_dir = cut_tasks(family("sts"), data_dir, args.pairs, Path(tmp) / "cut") if args.pairs else data_dir
        results: dict[str, Any] = {}  # the last round's scores and cache

        def run_plain() -> float:
            t0 = time.perf_counter()
            backbone, tokenizer = load_backbone(resolve_model_path(MINILM_ID))
            results["plain"] = plain_sts(SentenceEncoder(backbone, tokenizer, "avg"), sts_dir)
            return time.perf_counter() - t0

        def request(cache_dir: Path) -> EvalRequest:
            return EvalRequest(model=MINILM_ID, pooler="avg", tasks="sts", mode="test", data_dir=str(sts_dir),
                               cache_dir=str(cache_dir), allow_unverified=args.allow_unverified)

        def run_ours() -> float:
            cache_dir = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp))  # cold: a fresh cache every round
            t0 = time.perf_counter()
            results["ours"] = evaluate(request(cache_dir))
            results["cache_dir"] = cache_dir
            return time.perf_counter() - t0

        runs = interleaved(torch.device("cpu"), {"plain": run_plain, "ours": run_ours}, args.rounds)
        t_plain, t_ours = (min(v for v, _ in runs[side]) for side in ("plain", "ours"))
        plain, ours, cache_dir = results["plain"], results["ours"], results["cache_dir"]
        t0 = time.perf_counter()
        evaluate(request(cache_dir))
        t_warm = time.perf_counter() - t0
        if args.transfer:
            t0 = time.perf_counter()
            doc = evaluate(EvalRequest(model=MINILM_ID, pooler="avg", tasks="transfer", mode="test",
                                       data_dir=str(data_dir), cache_dir=str(cache_dir),
                                       allow_unverified=args.allow_unverified))
            total = time.perf_counter() - t0
            enc = doc["provenance"]["encode_seconds"]
            print(f"transfer suite (test mode): {total:.1f} s total = {enc:.1f} s encoding "
                  f"{doc['provenance']['sentences_encoded']} sentences + {total - enc:.1f} s classifiers")
            print(f"transfer scores: {doc['scores']}, avg {doc['avg_transfer']}")

    exact = {name: headline(name, ours["details"][name], "test") for name in plain}  # ours before rounding
    print(f"plain scores: { {k: round(v, 2) for k, v in plain.items()} }")
    print(f"ours  scores: {ours['scores']}")
    diff = max(abs(plain[k] - exact[k]) for k in plain)
    print(f"largest difference before rounding: {diff:.2e} points")
    if diff > TOLERANCE:
        raise SystemExit(f"scores differ by more than {TOLERANCE} points: plain {plain}, ours {exact}")
    print(f"encoded sentences: ours {ours['provenance']['sentences_encoded']} distinct of "
          f"{ours['provenance']['sentences_total']} (plain encodes all)")
    print(f"plain: {t_plain:.1f} s   ours cold cache: {t_ours:.1f} s   ours warm cache: {t_warm:.1f} s; "
          "speedup = plain / ours cold")
    print(f"speedup: {t_plain / t_ours:.2f}")


if __name__ == "__main__":
    main()
