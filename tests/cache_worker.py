"""Fill embedding caches in a process of its own, for the kill and concurrency tests of test_cache.py.

    cache_worker.py MODEL_DIR CACHE_ROOT SENTENCES_JSON [--poolers avg,cls] [--batch-size N]
                    [--shard-size N] [--hang-at BATCH] [--delay SECONDS] [--ready FILE --go FILE]

Loads the model, creates ``--ready`` and waits for ``--go`` (so that two workers start encoding
together), fills the cache of each pooler (its key is the pooler name) and prints how many
sentences it encoded. ``--hang-at`` blocks before encoding that batch (0-based) until the process
is killed; ``--delay`` sleeps before every batch, so that a second worker meets the lock held.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import time
from pathlib import Path

from sentemb.evaluation.cache import EmbeddingCache, fill
from sentemb.models.encoder import SentenceEncoder, load_backbone


class PacedEncoder(SentenceEncoder):
    def __init__(self, model_dir: str, hang_at: int | None, delay: float) -> None:
        super().__init__(*load_backbone(model_dir), "avg")
        self.hang_at, self.delay, self.batches = hang_at, delay, 0

    def _embed_batch(self, batch, poolers, max_length):
        if self.batches == self.hang_at:
            signal.pause()  # until SIGKILL
        time.sleep(self.delay)
        self.batches += 1
        return super()._embed_batch(batch, poolers, max_length)


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("model_dir", "cache_root", "sentences"):
        parser.add_argument(name)
    parser.add_argument("--poolers", default="avg")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--shard-size", type=int, default=8)
    parser.add_argument("--hang-at", type=int)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    encoder = PacedEncoder(args.model_dir, args.hang_at, args.delay)
    sentences = json.loads(Path(args.sentences).read_text(encoding="utf-8"))
    if args.go is not None:
        args.ready.touch()
        _wait_for(args.go)
    caches = {p: EmbeddingCache(args.cache_root, p) for p in args.poolers.split(",")}
    print(fill(caches, sentences, encoder, args.batch_size, None, shard_size=args.shard_size))


if __name__ == "__main__":
    main()
