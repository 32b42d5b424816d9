"""Batch construction / data shuffling of the BSC loss (docs/methods.md §4.4): orders, groups, hardness proxy."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import torch

from sentemb.pairs.batching import (
    STRATEGIES,
    cluster_keys,
    content_words,
    epoch_groups,
    epoch_order,
    example_knn_groups,
    key_groups,
    shingle_keys,
)
from sentemb.pairs.records import Pair
from sentemb.training.data import epoch_order as training_epoch_order

VOCAB = ["cat", "dog", "bird", "fish", "tree", "river", "stone", "cloud", "the", "a", "of", "and"]


def _pairs(texts: list[str]) -> list[Pair]:
    return [Pair(t, f"answer to {t}", 1.0 if i % 3 else 0.0) for i, t in enumerate(texts)]


def _random_texts(n: int, seed: int = 0) -> list[str]:
    # a small vocabulary so that shingles collide and some texts repeat
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(VOCAB, size=int(rng.integers(1, 6)))) for _ in range(n)]


def _hash_embed(texts: list[str]) -> np.ndarray:
    """A deterministic toy encoder: identical texts map to identical vectors."""
    return np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=5) for t in texts]) if texts \
        else np.zeros((0, 5))


def _table_embed(table: dict[str, list[float]]):
    def embed(texts: list[str]) -> np.ndarray:
        return np.array([table[t] for t in texts], dtype=np.float64)
    return embed


# --- every strategy is a permutation, deterministic, and epoch-dependent where it should be ---------

@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("n", [0, 1, 3, 7, 8, 9, 17, 30])
def test_every_strategy_returns_a_permutation(strategy: str, n: int) -> None:
    pairs = _pairs(_random_texts(n, seed=n))
    order = epoch_order(strategy, pairs, epoch=1, seed=3, embed=_hash_embed, group_size=8, knn_candidates=5,
                        n_clusters=4)
    assert order.dtype == np.int64
    assert np.array_equal(np.sort(order), np.arange(n))  # nothing lost, nothing duplicated
    groups = epoch_groups(strategy, pairs, epoch=1, seed=3, embed=_hash_embed, group_size=8, knn_candidates=5,
                          n_clusters=4)
    assert all(1 <= len(g) <= 8 for g in groups)
    assert [i for g in groups for i in g] == order.tolist()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_same_seed_and_epoch_give_the_same_order(strategy: str) -> None:
    pairs = _pairs(_random_texts(40))
    runs = [epoch_order(strategy, pairs, epoch=2, seed=7, embed=_hash_embed, group_size=4, n_clusters=5)
            for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])


def test_none_is_file_order_and_random_is_the_training_order() -> None:
    pairs = _pairs(_random_texts(25))
    assert np.array_equal(epoch_order("none", pairs, epoch=3, seed=1), np.arange(25))
    assert np.array_equal(epoch_order("random", pairs, epoch=3, seed=1), training_epoch_order(25, 1, 3))


@pytest.mark.parametrize("strategy", ["random", "example_knn", "shingle", "cluster"])
def test_orders_change_across_epochs_and_seeds(strategy: str) -> None:
    pairs = _pairs(_random_texts(40))

    def order(epoch: int, seed: int) -> np.ndarray:
        return epoch_order(strategy, pairs, epoch=epoch, seed=seed, embed=_hash_embed, group_size=4, n_clusters=5)

    assert not np.array_equal(order(0, 0), order(1, 0))
    assert not np.array_equal(order(0, 0), order(0, 1))


# --- example-based shuffling ----------------------------------------------------------------------

def _line_clusters() -> tuple[list[str], dict[str, list[float]]]:
    """Three well-separated clusters of 4 points on a line."""
    xs = [0.0, 1.0, 2.5, 4.0, 100.0, 101.5, 102.0, 104.0, 1000.0, 1001.0, 1003.0, 1003.5]
    texts = [f"point {i}" for i in range(len(xs))]
    return texts, {t: [x, 0.0] for t, x in zip(texts, xs)}


def test_example_knn_groups_are_the_well_separated_clusters() -> None:
    texts, table = _line_clusters()
    emb = _table_embed(table)(texts)
    for seed in range(5):
        visit = np.random.default_rng(seed).permutation(len(texts))
        groups = example_knn_groups(emb, texts, visit, group_size=4, knn_candidates=6)
        assert sorted(sorted(g) for g in groups) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
        assert [g[0] for g in groups] == [int(e) for e in visit if int(e) in {g[0] for g in groups}]


def test_example_knn_groups_take_the_nearest_unused_neighbours() -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(60, 3))
    texts = [f"t{i}" for i in range(60)]
    visit = rng.permutation(60)
    groups = example_knn_groups(emb, texts, visit, group_size=5, knn_candidates=60)
    used: set[int] = set()
    for g in groups:
        seed_ex, members = g[0], g[1:]
        assert seed_ex not in used and len(g) <= 5
        dist = np.linalg.norm(emb - emb[seed_ex], axis=1)
        free = [j for j in range(60) if j not in used and j != seed_ex]
        expected = sorted(free, key=lambda j: dist[j])[:4]
        assert members == expected  # closest first, and exactly the closest unused ones
        used.update(g)
    # with all candidates available every group is full except the last one formed
    assert [len(g) for g in groups] == [5] * 12


def test_example_knn_leftover_group_comes_first_after_reversal() -> None:
    rng = np.random.default_rng(1)
    table = {f"t{i}": rng.normal(size=2).tolist() for i in range(10)}
    pairs = _pairs(list(table))
    embed = _table_embed(table)
    # all 10 candidates: the greedy fills groups of 4, 4 and leaves 2 for the last group formed
    groups = epoch_groups("example_knn", pairs, epoch=0, seed=4, embed=embed, group_size=4, knn_candidates=10)
    assert [len(g) for g in groups] == [2, 4, 4]
    formed = example_knn_groups(embed([p.text_a for p in pairs]), [p.text_a for p in pairs],
                                np.random.default_rng((4, 0)).permutation(10), group_size=4, knn_candidates=10)
    flat = [i for g in formed for i in g]
    assert epoch_order("example_knn", pairs, epoch=0, seed=4, embed=embed, group_size=4,
                       knn_candidates=10).tolist() == flat[::-1]  # the whole sequence is reversed


def test_example_knn_small_candidate_lists_leave_small_groups() -> None:
    texts, table = _line_clusters()
    # 3 candidates (the seed included) allow at most 2 neighbours, and leftovers stay alone
    groups = example_knn_groups(_table_embed(table)(texts), texts, group_size=8, knn_candidates=3)
    assert all(len(g) <= 3 for g in groups)
    assert all(len({i // 4 for i in g}) == 1 for g in groups)  # never across clusters


def test_identical_texts_kept_apart_without_allow_identical() -> None:
    # "b" twice next to "a": the filter applies to any member's text, not only the seed's
    texts = ["a", "b", "b", "c", "a", "d"]
    emb = np.array([[0.0], [0.1], [0.1], [0.3], [0.0], [0.5]])
    filtered = example_knn_groups(emb, texts, np.arange(6), group_size=3, knn_candidates=6, allow_identical=False)
    assert all(len({texts[i] for i in g}) == len(g) for g in filtered)
    assert filtered[0] == [0, 1, 3]


def test_allow_identical_counts_distinct_texts_as_the_official_code() -> None:
    """The notebooks' allow_same=True: a duplicate joins the group without counting toward its size,
    so a group of 3 distinct texts holds 5 members here."""
    texts = ["a", "b", "b", "c", "a", "d"]
    emb = np.array([[0.0], [0.1], [0.1], [0.3], [0.0], [0.5]])
    groups = example_knn_groups(emb, texts, np.arange(6), group_size=3, knn_candidates=6, allow_identical=True)
    assert groups[0] == [0, 4, 1, 2, 3]  # a, a, b, b, c: by distance, stopped at 3 distinct texts
    assert all(len({texts[i] for i in g}) <= 3 for g in groups)
    assert any(len({texts[i] for i in g}) < len(g) for g in groups)  # duplicates were allowed


def test_identical_texts_apart_through_epoch_order() -> None:
    texts = ["same question"] * 4 + [f"other {i}" for i in range(8)]
    table = {t: [float(i)] for i, t in enumerate(dict.fromkeys(texts))}
    table["same question"] = [0.0]
    pairs = _pairs(texts)
    for epoch in range(4):
        groups = epoch_groups("example_knn", pairs, epoch=epoch, seed=0, embed=_table_embed(table), group_size=4,
                              allow_identical=False)
        assert all(sum(texts[i] == "same question" for i in g) <= 1 for g in groups)


# --- fast (key-based) shuffling -----------------------------------------------------------------

def test_content_words_drop_stop_words_and_punctuation() -> None:
    assert content_words("The Cat, and the DOG!") == ["cat", "dog"]


def test_shingle_keys_are_sorted_windows_and_short_texts_are_unique() -> None:
    rng = np.random.default_rng(0)
    keys = shingle_keys(["the cat and the dog", "dog cat", "a cat", "the", "a cat"], 2, rng)
    assert keys[0] == keys[1] == "cat dog"
    assert len({keys[2], keys[3], keys[4]}) == 3 and not {keys[2], keys[3], keys[4]} & {"cat", ""}
    windows = set()
    for seed in range(30):  # the window start is random and covers every valid position
        windows.add(shingle_keys(["cat dog bird fish"], 2, np.random.default_rng(seed))[0])
    assert windows == {"cat dog", "bird dog", "bird fish"}


def test_key_groups_cut_runs_of_equal_keys() -> None:
    keys = ["x"] * 10 + ["y"] * 3 + ["z"]
    groups = key_groups(keys, 4, np.random.default_rng(0))
    assert sorted(i for g in groups for i in g) == list(range(14))
    assert all(len(g) <= 4 and len({keys[i] for i in g}) == 1 for g in groups)
    # runs are cut into as few groups as possible: x -> 3 groups, y -> 1, z -> 1
    assert sorted(keys[g[0]] for g in groups) == ["x", "x", "x", "y", "z"]
    runs = [key_groups(keys, 4, np.random.default_rng(s)) for s in range(10)]
    # random group ids: the groups do not always come in key order
    assert any([keys[g[0]] for g in gs] != sorted(keys[g[0]] for g in gs) for gs in runs)
    # random order inside a run: who shares a group with whom changes
    assert len({frozenset(frozenset(g) for g in gs) for gs in runs}) > 1


def test_shingle_strategy_groups_share_a_shingle() -> None:
    pairs = _pairs(_random_texts(60, seed=2))
    texts = [p.text_a for p in pairs]
    groups = epoch_groups("shingle", pairs, epoch=1, seed=5, group_size=4, shingle_size=2)
    rng = np.random.default_rng((5, 1))  # the same draws as epoch_groups
    keys = shingle_keys(texts, 2, rng)
    assert groups == key_groups(keys, 4, rng)
    assert all(len(g) <= 4 and len({keys[i] for i in g}) == 1 for g in groups)
    assert any(len(g) > 1 for g in groups)
    for g in groups:  # a shared key is a shingle present in every member
        if len(g) > 1 and not keys[g[0]].startswith("\0"):
            words = keys[g[0]].split()
            assert all(set(words) <= set(content_words(texts[i])) for i in g)


def test_cluster_strategy_groups_share_a_cluster() -> None:
    rng = np.random.default_rng(0)
    centres = {0: [0.0, 0.0], 1: [50.0, 0.0], 2: [0.0, 50.0]}
    blob = [i % 3 for i in range(30)]
    table = {f"text {i}": (np.array(centres[b]) + rng.normal(scale=0.5, size=2)).tolist() for i, b in enumerate(blob)}
    pairs = _pairs(list(table))
    embed = _table_embed(table)
    keys = cluster_keys(embed(list(table)), 3, seed=9)
    assert len({(b, int(k)) for b, k in zip(blob, keys)}) == 3  # the clusters are the blobs
    groups = epoch_groups("cluster", pairs, epoch=0, seed=9, embed=embed, group_size=4, n_clusters=3)
    assert all(len(g) <= 4 and len({blob[i] for i in g}) == 1 for g in groups)
    assert len(groups) == 3 * math.ceil(10 / 4)
    # n_clusters is capped at the number of pairs
    assert np.array_equal(np.sort(epoch_order("cluster", pairs[:3], 0, 0, embed=embed, n_clusters=300)), [0, 1, 2])


# --- bad parameters ------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "name"), [
    ({"strategy": "knn"}, "strategy"),
    ({"group_size": 0}, "group_size"),
    ({"group_size": True}, "group_size"),
    ({"knn_candidates": 0}, "knn_candidates"),
    ({"shingle_size": 0}, "shingle_size"),
    ({"n_clusters": 0}, "n_clusters"),
    ({"epoch": -1}, "epoch"),
    ({"seed": -1}, "seed"),
    ({"strategy": "example_knn", "embed": None}, "embed"),
    ({"strategy": "cluster", "embed": None}, "embed"),
    ({"strategy": "example_knn", "embed": lambda texts: np.zeros((len(texts) + 1, 2))}, "embed"),
    ({"strategy": "cluster", "embed": lambda texts: np.full((len(texts), 2), np.nan)}, "embed"),
])
def test_bad_parameters_raise_value_error_naming_them(kwargs: dict, name: str) -> None:
    args = {"strategy": "random", "epoch": 0, "seed": 0, "embed": _hash_embed} | kwargs
    strategy, epoch, seed = args.pop("strategy"), args.pop("epoch"), args.pop("seed")
    with pytest.raises(ValueError, match=name):
        epoch_order(strategy, _pairs(_random_texts(5)), epoch, seed, **args)


def test_embed_may_return_a_tensor() -> None:
    pairs = _pairs(_random_texts(12))
    order = epoch_order("example_knn", pairs, 0, 0, embed=lambda t: torch.from_numpy(_hash_embed(t)).float())
    assert np.array_equal(np.sort(order), np.arange(12))
