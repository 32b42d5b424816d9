"""On-disk sentence-embedding cache: incremental, crash-safe and shared safely between processes.

A cache directory is keyed by what determines an embedding: the model's file checksum, the
pooler (and ``first_layer_index`` for ``avg_first_last``) and the tokenizer ``max_length``.

``fill`` encodes along the encoder's fixed plan (``SentenceEncoder.iter_encode``): the distinct
requested sentences, longest first, cut into batches. A batch is skipped when every cache being
filled holds all of it. Completed batches are written out as shards while encoding proceeds, so
a run killed near the end keeps nearly all of its work; since the plan depends on the request
alone, the rerun encodes exactly the batches the uninterrupted run would still have encoded,
with the same composition, and its vectors are bitwise those of an uninterrupted run.

Each shard is written atomically (temporary file, then rename) as ``shard-<sha256 of its
bytes>.npz``, and loading checks that digest. A shard that fails (digest, truncation, bad or
inconsistent arrays) is renamed to ``*.corrupt`` with one warning naming it, and its sentences
count as missing, so they are re-encoded instead of breaking every later run. Shards written
before digests were used (``shard-<uuid>.npz``) are checked by the zip's own CRC-32s only.

A process filling a cache holds an exclusive ``flock`` on ``.lock`` in its directory while it
decides what is missing and encodes it; a second one waits, reloads the shards and finds
nothing left to do. Readers need no lock: shards appear by rename and are never rewritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentemb.errors import DataError
from sentemb.utils.io import atomic_open
from sentemb.utils.progress import Progress

if TYPE_CHECKING:
    from sentemb.models.encoder import SentenceEncoder

log = logging.getLogger(__name__)

# Sentences per shard. On the 2-core CPU all-MiniLM-L6-v2 encodes about 260 sentences/s, so a
# kill loses ~8 s of work on average (more early on, where the longest sentences come); the full
# suite (~140k sentences) makes ~70 shards of 3 MB (384-d float32). Writing and hashing one takes
# ~25 ms (0.3% of its encoding time), and all of them load and verify in about half a second.
SHARD_SENTENCES = 2048
_DIGEST = re.compile(r"[0-9a-f]{64}")


def cache_key(model_sha: str, pooler: str, max_length: int | None, first_layer_index: int,
              precision: str = "fp32") -> str:
    parts = [model_sha, pooler, str(max_length)]
    if pooler == "avg_first_last":
        parts.append(f"first={first_layer_index}")
    if precision != "fp32":  # fp32 keys stay those of earlier runs
        parts.append(f"precision={precision}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


class EmbeddingCache:
    """Maps sentence -> vector for one cache key; ``None`` root disables persistence."""

    def __init__(self, root: str | Path | None, key: str, meta: dict[str, object] | None = None) -> None:
        self.dir = Path(root) / key if root is not None else None
        self._vectors: dict[str, np.ndarray] = {}
        self._loaded: set[str] = set()  # shard file names already read
        self._unsaved: list[str] = []  # stored since the last flush
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            if meta is not None and not (self.dir / "meta.json").exists():
                with atomic_open(self.dir / "meta.json") as handle:
                    json.dump(meta, handle, indent=2)
            self.reload()

    def __len__(self) -> int:
        return len(self._vectors)

    def reload(self) -> None:
        """Read the shards not read yet (other processes may have written some since)."""
        assert self.dir is not None
        for shard in sorted(self.dir.glob("shard-*.npz")):
            if shard.name not in self._loaded:
                self._loaded.add(shard.name)
                self._vectors.update(_read_or_move_aside(shard))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold this key's exclusive write lock, then pick up what others wrote before it was free."""
        if self.dir is None:
            yield
            return
        with open(self.dir / ".lock", "a") as handle:  # closing it releases the lock
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("embedding cache %s: another process is filling it; waiting for it", self.dir)
                fcntl.flock(handle, fcntl.LOCK_EX)
            self.reload()
            yield

    def missing(self, sentences: Sequence[str]) -> list[str]:
        """Distinct sentences not yet cached, in first-seen order."""
        return [s for s in dict.fromkeys(sentences) if s not in self._vectors]

    def put(self, sentences: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors of the sentences not yet cached; they reach disk with the next ``flush``.
        Non-finite values are refused, and nothing of that call is stored."""
        if not np.isfinite(vectors).all():
            raise ValueError("the encoder produced NaN or inf embeddings; nothing was cached")
        for sentence, vector in zip(sentences, vectors):
            if sentence not in self._vectors:
                self._vectors[sentence] = vector
                if self.dir is not None:
                    self._unsaved.append(sentence)

    def flush(self) -> None:
        """Write what was stored since the last flush as one shard."""
        if self._unsaved:
            assert self.dir is not None
            shard = _write_shard(self.dir, self._unsaved, np.stack([self._vectors[s] for s in self._unsaved]))
            self._loaded.add(shard.name)
            self._unsaved = []

    def lookup(self, sentences: Sequence[str]) -> np.ndarray:
        """Stack cached vectors for ``sentences`` (all must be cached)."""
        return np.stack([self._vectors[s] for s in sentences]) if sentences else np.zeros((0, 0), np.float32)


def fill(caches: Mapping[str, EmbeddingCache], sentences: Sequence[str], encoder: SentenceEncoder,
         batch_size: int, max_length: int | None, shard_size: int = SHARD_SENTENCES) -> int:
    """Encode what ``caches`` (pooler -> cache, one model) lack of ``sentences``: one backbone pass
    read off with every pooler, a shard per cache every ``shard_size`` encoded sentences and at the
    end (also when encoding fails). Returns how many sentences went through the encoder: whole
    batches, so sentences a cache already held count when their batch had to be encoded."""
    distinct = list(dict.fromkeys(sentences))
    encoded = 0
    if not _complete(caches, distinct):  # a warm cache is only read: no lock, no plan
        with contextlib.ExitStack() as stack:
            for cache in sorted(caches.values(), key=_lock_order):
                stack.enter_context(cache.locked())
            encoded = _encode(caches, distinct, encoder, batch_size, max_length, shard_size)
    log.info("embedding cache (%s): %d of %d distinct sentences encoded", "+".join(caches), encoded, len(distinct))
    return encoded


def _lock_order(cache: EmbeddingCache) -> str:
    """Every process takes the locks of several caches in this one order, so none can deadlock."""
    return str(cache.dir.resolve()) if cache.dir is not None else ""


def _complete(caches: Mapping[str, EmbeddingCache], sentences: Sequence[str]) -> bool:
    return all(not cache.missing(sentences) for cache in caches.values())


def _encode(caches: Mapping[str, EmbeddingCache], distinct: list[str], encoder: SentenceEncoder,
            batch_size: int, max_length: int | None, shard_size: int) -> int:
    """The locked part of ``fill``: every cache is held and reloaded."""
    if _complete(caches, distinct):
        return 0  # another process filled them while this one waited
    encoded = unflushed = 0
    progress = Progress(sum(len(c.missing(distinct)) for c in caches.values()) // len(caches), "encode",
                        unit="sentence")
    try:
        for idx, vectors in encoder.iter_encode(distinct, tuple(caches), batch_size, max_length,
                                                skip=lambda batch: _complete(caches, batch)):
            for pooler, cache in caches.items():
                cache.put([distinct[i] for i in idx], vectors[pooler])
            encoded, unflushed = encoded + len(idx), unflushed + len(idx)
            progress.update(len(idx))
            if unflushed >= shard_size:
                _flush_all(caches.values())
                unflushed = 0
    finally:
        progress.close()
        _flush_all(caches.values())
    return encoded


def _flush_all(caches: Iterable[EmbeddingCache]) -> None:
    for cache in caches:
        cache.flush()


def _write_shard(directory: Path, sentences: list[str], vectors: np.ndarray) -> Path:
    encoded = [s.encode("utf-8") for s in sentences]
    offsets = np.cumsum([0] + [len(b) for b in encoded]).astype(np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, vectors=vectors.astype(np.float32), text=np.frombuffer(b"".join(encoded), dtype=np.uint8),
             offsets=offsets)
    data = buffer.getvalue()
    path = directory / f"shard-{hashlib.sha256(data).hexdigest()}.npz"
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return path


def _read_or_move_aside(path: Path) -> dict[str, np.ndarray]:
    """A shard's sentence -> vector map; a bad shard is renamed ``*.corrupt`` and gives nothing."""
    try:
        return _read_shard(path)
    except FileNotFoundError:
        return {}  # another process moved it aside between listing and reading
    except (DataError, OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        error = exc if isinstance(exc, DataError) else DataError(path, f"cannot be read ({type(exc).__name__}: {exc})")
    aside = path.with_name(path.name + ".corrupt")
    with contextlib.suppress(FileNotFoundError):  # another reader may have moved it already
        os.replace(path, aside)
    log.warning("embedding cache: %s; moved aside to %s, its sentences will be re-encoded", error, aside.name)
    return {}


def _read_shard(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    digest = path.name.removeprefix("shard-").removesuffix(".npz")
    if _DIGEST.fullmatch(digest) and hashlib.sha256(data).hexdigest() != digest:
        raise DataError(path, "the sha256 of its bytes is not the one in its name (truncated or altered)")
    with np.load(io.BytesIO(data)) as arrays:
        vectors, blob, offsets = arrays["vectors"], arrays["text"].tobytes(), arrays["offsets"]
    if vectors.ndim != 2 or vectors.dtype != np.float32:
        raise DataError(path, f"vectors are {vectors.dtype} of shape {vectors.shape}, not a float32 matrix")
    if offsets.dtype != np.int64 or offsets.shape != (len(vectors) + 1,):
        raise DataError(path, f"{len(vectors)} vectors but {offsets.dtype} text offsets of shape {offsets.shape}")
    if offsets[0] != 0 or offsets[-1] != len(blob) or (np.diff(offsets) < 0).any():
        raise DataError(path, f"text offsets do not cut its {len(blob)} text bytes into {len(vectors)} sentences")
    if not np.isfinite(vectors).all():
        raise DataError(path, "holds NaN or inf vectors")
    return {blob[offsets[i] : offsets[i + 1]].decode("utf-8"): vectors[i] for i in range(len(vectors))}
