"""On-disk sentence-embedding cache, so re-running evaluation or adding a task re-encodes nothing.

A cache directory is keyed by what determines an embedding: the model's file checksum, the
pooler (and ``first_layer_index`` for ``avg_first_last``) and the tokenizer ``max_length``.
Each encoding run appends one shard file (written atomically), holding the float32 vectors
and the UTF-8 sentences; shards are never rewritten, so concurrent readers are safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from sentemb.utils.io import atomic_open

log = logging.getLogger(__name__)


def cache_key(model_sha: str, pooler: str, max_length: int | None, first_layer_index: int) -> str:
    parts = [model_sha, pooler, str(max_length)]
    if pooler == "avg_first_last":
        parts.append(f"first={first_layer_index}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


class EmbeddingCache:
    """Maps sentence -> vector for one cache key; ``None`` root disables persistence."""

    def __init__(self, root: str | Path | None, key: str, meta: dict[str, object] | None = None) -> None:
        self.dir = Path(root) / key if root is not None else None
        self._vectors: dict[str, np.ndarray] = {}
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            if meta is not None and not (self.dir / "meta.json").exists():
                with atomic_open(self.dir / "meta.json") as handle:
                    json.dump(meta, handle, indent=2)
            self._load()

    def __len__(self) -> int:
        return len(self._vectors)

    def _load(self) -> None:
        assert self.dir is not None
        for shard in sorted(self.dir.glob("shard-*.npz")):
            with np.load(shard) as data:
                vecs, blob, offsets = data["vectors"], data["text"].tobytes(), data["offsets"]
            for i in range(len(vecs)):
                self._vectors[blob[offsets[i] : offsets[i + 1]].decode("utf-8")] = vecs[i]

    def _save_shard(self, sentences: list[str], vectors: np.ndarray) -> None:
        assert self.dir is not None
        encoded = [s.encode("utf-8") for s in sentences]
        offsets = np.cumsum([0] + [len(b) for b in encoded]).astype(np.int64)
        blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        with atomic_open(self.dir / f"shard-{uuid.uuid4().hex}.npz", "wb") as handle:
            np.savez(handle, vectors=vectors.astype(np.float32), text=blob, offsets=offsets)

    def missing(self, sentences: Sequence[str]) -> list[str]:
        """Distinct sentences not yet cached, in first-seen order."""
        return [s for s in dict.fromkeys(sentences) if s not in self._vectors]

    def fill(self, encode: Callable[[Sequence[str]], np.ndarray], sentences: Sequence[str]) -> int:
        """Encode every distinct uncached sentence once, store it; returns how many were encoded."""
        todo = self.missing(sentences)
        if todo:
            self.put(todo, encode(todo))
        log.info("embedding cache: %d encoded, %d reused", len(todo), len(dict.fromkeys(sentences)) - len(todo))
        return len(todo)

    def put(self, sentences: Sequence[str], vectors: np.ndarray) -> None:
        """Store freshly encoded vectors (one shard); refuses non-finite values."""
        if not np.isfinite(vectors).all():
            raise ValueError("the encoder produced NaN or inf embeddings; nothing was cached")
        todo = list(sentences)
        for sentence, vector in zip(todo, vectors):
            self._vectors[sentence] = vector
        if self.dir is not None and todo:
            self._save_shard(todo, vectors)

    def lookup(self, sentences: Sequence[str]) -> np.ndarray:
        """Stack cached vectors for ``sentences`` (all must be cached)."""
        return np.stack([self._vectors[s] for s in sentences]) if sentences else np.zeros((0, 0), np.float32)
