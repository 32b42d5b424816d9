"""Embedding cache: keyed by what determines an embedding; re-runs encode nothing twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentemb.evaluation.cache import EmbeddingCache, cache_key


class CountingEncoder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, sentences):
        self.seen.extend(sentences)
        return np.array([[len(s), s.count("a")] for s in sentences], dtype=np.float32)


def test_each_distinct_sentence_is_encoded_once_and_persisted(tmp_path: Path) -> None:
    enc = CountingEncoder()
    cache = EmbeddingCache(tmp_path, "k1")
    assert cache.fill(enc, ["a b", "c", "a b", "ünïcode ✓"]) == 3
    assert enc.seen == ["a b", "c", "ünïcode ✓"]
    assert cache.fill(enc, ["c", "d"]) == 1  # only the new sentence
    reopened = EmbeddingCache(tmp_path, "k1")  # a later run: everything comes from disk
    assert len(reopened) == 4 and reopened.missing(["a b", "d", "ünïcode ✓"]) == []
    assert np.array_equal(reopened.lookup(["ünïcode ✓", "a b"]), enc(["ünïcode ✓", "a b"]))


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
        cache.fill(lambda s: np.full((len(s), 2), np.nan, dtype=np.float32), ["x"])
    assert len(EmbeddingCache(tmp_path, "k")) == 0 and not list((tmp_path / "k").glob("shard-*"))


def test_memory_only_cache_writes_nothing(tmp_path: Path) -> None:
    cache = EmbeddingCache(None, "k")
    cache.fill(CountingEncoder(), ["x", "y"])
    assert len(cache) == 2 and not any(tmp_path.iterdir())
