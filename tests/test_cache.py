"""Embedding cache: keyed by what determines an embedding; re-runs encode nothing twice; a killed
run resumes exactly; a corrupt shard is moved aside and re-encoded; concurrent fills encode once."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sentemb
from conftest import MIRROR
from sentemb.data.senteval import load_task
from sentemb.evaluation.cache import EmbeddingCache, cache_key, fill
from sentemb.evaluation.sts import score_sts_task
from sentemb.evaluation.tasks import task_names
from sentemb.models.encoder import SentenceEncoder

WORKER = Path(__file__).with_name("cache_worker.py")
DEADLINE_S = 1800  # only stops a hang; every wait below polls for the event itself
STS = {n: load_task(n, MIRROR / "senteval" / "downstream") for n in task_names("sts", "test")}
SENTENCES = [s for task in STS.values() for s in task.sentences()]  # 137 distinct of 220
DISTINCT = list(dict.fromkeys(SENTENCES))


class FakeEncoder:
    """``SentenceEncoder.iter_encode`` without a model: batches in input order, vectors from the text."""

    def __init__(self, value: float | None = None) -> None:
        self.seen: list[str] = []
        self.value = value

    def iter_encode(self, sentences, poolers, batch_size, max_length, skip=None):
        for start in range(0, len(sentences), batch_size):
            idx = np.arange(start, min(start + batch_size, len(sentences)))
            batch = [sentences[i] for i in idx]
            if not skip(batch):
                self.seen.extend(batch)
                yield idx, {p: self.vectors(batch) for p in poolers}

    def vectors(self, batch):
        if self.value is not None:
            return np.full((len(batch), 2), self.value, dtype=np.float32)
        return np.array([[len(s), s.count("a")] for s in batch], dtype=np.float32)


def test_each_distinct_sentence_is_encoded_once_and_persisted(tmp_path: Path) -> None:
    enc = FakeEncoder()
    cache = EmbeddingCache(tmp_path, "k1")
    assert fill({"p": cache}, ["a b", "c", "a b", "ünïcode ✓"], enc, 1, None) == 3
    assert enc.seen == ["a b", "c", "ünïcode ✓"]
    assert fill({"p": cache}, ["c", "d"], enc, 1, None) == 1  # only the new sentence
    reopened = EmbeddingCache(tmp_path, "k1")  # a later run: everything comes from disk
    assert len(reopened) == 4 and reopened.missing(["a b", "d", "ünïcode ✓"]) == []
    assert np.array_equal(reopened.lookup(["ünïcode ✓", "a b"]), enc.vectors(["ünïcode ✓", "a b"]))
    assert fill({"p": reopened}, ["d", "e"], enc, 2, None) == 2  # a batch with a new sentence is encoded whole
    assert np.array_equal(EmbeddingCache(tmp_path, "k1").lookup(["d", "e"]), enc.vectors(["d", "e"]))


def test_key_separates_model_pooler_length_and_first_layer() -> None:
    base = cache_key("sha", "avg", None, 1)
    assert base != cache_key("sha2", "avg", None, 1)
    assert base != cache_key("sha", "cls", None, 1)
    assert base != cache_key("sha", "avg", 32, 1)
    assert base == cache_key("sha", "avg", None, 0)  # index only matters for avg_first_last
    assert cache_key("sha", "avg_first_last", None, 0) != cache_key("sha", "avg_first_last", None, 1)


def test_nan_embeddings_are_rejected_and_not_cached(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "k")
    with pytest.raises(ValueError, match="NaN"):
        fill({"p": cache}, ["x"], FakeEncoder(np.nan), 4, None)
    assert len(EmbeddingCache(tmp_path, "k")) == 0 and not list((tmp_path / "k").glob("shard-*"))


def test_memory_only_cache_writes_nothing(tmp_path: Path) -> None:
    cache = EmbeddingCache(None, "k")
    fill({"p": cache}, ["x", "y"], FakeEncoder(), 4, None)
    assert len(cache) == 2 and not any(tmp_path.iterdir())


def test_shards_are_written_while_encoding_and_named_by_their_digest(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "k")
    fill({"p": cache}, [f"s{i}" for i in range(10)], FakeEncoder(), 2, None, shard_size=4)
    shards = sorted((tmp_path / "k").glob("shard-*.npz"))
    assert len(shards) == 3  # two batches per shard, and the last batch alone
    assert all(s.name == f"shard-{hashlib.sha256(s.read_bytes()).hexdigest()}.npz" for s in shards)


def _save_shard(directory: Path, name: str | None = None, **arrays: np.ndarray) -> Path:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = directory / (name or f"shard-{hashlib.sha256(buffer.getvalue()).hexdigest()}.npz")
    path.write_bytes(buffer.getvalue())
    return path


GOOD = {"vectors": np.ones((2, 3), np.float32), "text": np.frombuffer(b"ab", np.uint8),
        "offsets": np.array([0, 1, 2], np.int64)}


@pytest.mark.parametrize(("arrays", "name", "reason"), [
    (GOOD, "shard-0123456789abcdef0123456789abcdef.npz", "BadZipFile"),  # an old shard, truncated
    (GOOD | {"offsets": np.array([0, 2], np.int64)}, None, "2 vectors but int64 text offsets of shape (2,)"),
    (GOOD | {"vectors": np.full((2, 3), np.inf, np.float32)}, None, "NaN or inf"),
    ({k: v for k, v in GOOD.items() if k != "offsets"}, None, "KeyError"),
    (GOOD | {"vectors": np.ones(2, np.float32)}, None, "not a float32 matrix"),
], ids=["truncated-zip", "length-mismatch", "non-finite", "missing-array", "bad-vectors"])
def test_an_unreadable_shard_is_named_once_and_moved_aside(tmp_path: Path, caplog, arrays, name, reason) -> None:
    (tmp_path / "k").mkdir()
    path = _save_shard(tmp_path / "k", name, **arrays)
    if name is not None:
        path.write_bytes(path.read_bytes()[:-30])
    with caplog.at_level(logging.WARNING, "sentemb.evaluation.cache"):
        cache = EmbeddingCache(tmp_path, "k")
    assert len(cache) == 0 and [r.levelno for r in caplog.records] == [logging.WARNING]
    assert str(path) in caplog.text and reason in caplog.text and "\n" not in caplog.records[0].getMessage()
    assert not path.exists() and path.with_name(path.name + ".corrupt").exists()


def _encoder(tiny_backbone) -> SentenceEncoder:
    return SentenceEncoder(*tiny_backbone, "avg")


def _filled(root: Path, tiny_backbone, key: str = "avg") -> EmbeddingCache:
    cache = EmbeddingCache(root, key)
    assert fill({key: cache}, SENTENCES, _encoder(tiny_backbone), 4, None, shard_size=8) == len(DISTINCT)
    return cache


def _sts(cache: EmbeddingCache) -> dict[str, object]:
    """Every correlation of the STS tasks (the per-item arrays left out: compared via lookup)."""
    return {name: {k: v for k, v in score_sts_task(task, cache.lookup).items() if k != "_items"}
            for name, task in STS.items()}


def _worker(model_dir: Path, root: Path, *args: str) -> subprocess.Popen:
    sentences = root.parent / "sentences.json"
    sentences.write_text(json.dumps(SENTENCES), encoding="utf-8")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(Path(sentemb.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(WORKER), str(model_dir), str(root), str(sentences), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _poll(done, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not done():
        assert proc.poll() is None, f"the worker exited early: {proc.communicate()[1]}"
        assert time.monotonic() < deadline, "timed out waiting for the worker"
        time.sleep(0.02)


def test_a_killed_fill_resumes_with_the_vectors_of_an_uninterrupted_one(tiny_model_dir: Path, tiny_backbone,
                                                                          tmp_path: Path) -> None:
    reference = _filled(tmp_path / "reference", tiny_backbone)
    # 35 batches of 4; it hangs before batch 33, when 16 shards of 8 hold batches 0-31 and batch 32 is unsaved
    proc = _worker(tiny_model_dir, tmp_path / "killed", "--hang-at", "33")
    try:
        _poll(lambda: len(list((tmp_path / "killed" / "avg").glob("shard-*.npz"))) == 16, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=DEADLINE_S)
    resumed = EmbeddingCache(tmp_path / "killed", "avg")
    assert len(resumed) == 128
    encoded = fill({"avg": resumed}, SENTENCES, _encoder(tiny_backbone), 4, None, shard_size=8)
    assert encoded == 9 < 0.1 * len(DISTINCT)  # batches 32-34: 4 + 4 + 1 sentences
    assert np.array_equal(EmbeddingCache(tmp_path / "killed", "avg").lookup(DISTINCT), reference.lookup(DISTINCT))
    assert _sts(resumed) == _sts(reference)


def test_corrupt_shards_are_moved_aside_and_re_encoded(tiny_backbone, tmp_path: Path, caplog) -> None:
    reference = _filled(tmp_path, tiny_backbone)
    truncated, flipped = sorted((tmp_path / "avg").glob("shard-*.npz"))[:2]
    truncated.write_bytes(truncated.read_bytes()[:-100])
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, "sentemb.evaluation.cache"):
        cache = EmbeddingCache(tmp_path, "avg")
    assert len(caplog.records) == 2 and all(str(p) in caplog.text for p in (truncated, flipped))
    assert not truncated.exists() and not flipped.exists() and len(list((tmp_path / "avg").glob("*.corrupt"))) == 2
    lost = len(DISTINCT) - len(cache)
    assert 0 < lost <= 16 and fill({"avg": cache}, SENTENCES, _encoder(tiny_backbone), 4, None, shard_size=8) == lost
    caplog.clear()
    again = EmbeddingCache(tmp_path, "avg")  # nothing left to trip on
    assert not caplog.records and np.array_equal(again.lookup(DISTINCT), reference.lookup(DISTINCT))
    assert _sts(again) == _sts(reference)


def test_two_processes_filling_one_key_encode_it_once(tiny_model_dir: Path, tiny_backbone, tmp_path: Path) -> None:
    root = tmp_path / "shared"
    ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
    # both fill the same two caches, naming them in opposite orders: locks are taken in one fixed order
    procs = [_worker(tiny_model_dir, root, "--poolers", poolers, "--delay", "0.05", "--ready", str(r),
                     "--go", str(tmp_path / "go"))
             for poolers, r in (("avg,cls_before_pooler", ready[0]), ("cls_before_pooler,avg", ready[1]))]
    try:
        for proc, r in zip(procs, ready):
            _poll(r.exists, proc)
        (tmp_path / "go").touch()
        outs = [proc.communicate(timeout=DEADLINE_S) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in outs]
    assert sorted(int(out) for out, _ in outs) == [0, len(DISTINCT)]
    assert sum("another process is filling it" in err for _, err in outs) == 1  # the second one waited
    reference = _filled(tmp_path / "reference", tiny_backbone)
    assert np.array_equal(EmbeddingCache(root, "avg").lookup(DISTINCT), reference.lookup(DISTINCT))


def test_the_locks_of_several_caches_are_taken_in_one_order(tmp_path: Path, monkeypatch) -> None:
    taken: list[str] = []
    locked = EmbeddingCache.locked
    monkeypatch.setattr(EmbeddingCache, "locked", lambda self: taken.append(self.dir.name) or locked(self))
    for i, keys in enumerate((("avg", "cls"), ("cls", "avg"))):
        fill({k: EmbeddingCache(tmp_path, k) for k in keys}, [f"sentence {i}"], FakeEncoder(), 4, None)
    assert taken == ["avg", "cls", "avg", "cls"]
