"""The order in which the training pairs are visited in one epoch: the data shuffling of BSC (docs/methods.md §4.4).

The training loop cuts consecutive batches of ``batch_size`` from :func:`epoch_order`. The goal
(§4.4) is to put likely hard negatives into one batch without explicit mining: pairs whose
``text_a`` sides are close end up next to each other, so they become each other's in-batch
negatives under the batch-softmax contrastive loss.

Strategies (``STRATEGIES``):

- ``none``: file order, the baseline that keeps e.g. the question-grouped order of CQA-A.
- ``random``: ``numpy.random.default_rng((seed, epoch)).permutation(n)``, the same order as
  ``sentemb.training.data.epoch_order`` (deterministic per seed and epoch, new every epoch).
- ``example_knn`` (example-based shuffling): :func:`example_knn_groups` on the ``text_a``
  embeddings of the *current* model (the caller passes its encoder as ``embed``, so neighbours
  are recomputed every epoch, as the code does each time the dataloader is exhausted), visiting
  the seeds in a random order; the concatenated groups are then reversed as a whole.
- ``shingle`` and ``cluster`` (fast shuffling): a key per example (:func:`shingle_keys`, or
  :func:`cluster_keys` on the ``text_a`` embeddings), then :func:`key_groups`.

Every random draw of one epoch comes from the single generator ``default_rng((seed, epoch))``,
in this order: the seed-visiting permutation (example_knn) or the shingle positions (shingle),
then the within-key order and the group ids (shingle, cluster). k-means has its own ``random_state=seed``.

Checked against the official BSC code (``aschern/BSC-loss`` at 5731ce1, ``lib/BSCShuffler.py``
and the task notebooks):

- example-based: a random permutation first, an exact L2 index (Faiss ``IndexFlatL2``; here its
  exact equivalent, scikit-learn's brute-force Euclidean ``NearestNeighbors``) over the unnormalised
  embeddings of the first text of each pair, ``top_k=200`` candidates per seed, the seed itself
  skipped as already used, and the *flat* list of ids reversed as a whole (``[::-1]``), so both the
  order of the groups and the order inside each group are reversed;
- identical texts: every notebook that uses the shuffler passes ``allow_same=True``, so a
  candidate whose text is already in the group joins it; a group grows until its *set of distinct
  texts* reaches the group size, so with duplicates it can hold more members (``allow_identical``;
  false skips such candidates, the class default ``allow_same=False``);
- fast shuffling: the rows are sorted by (key, a uniform random number), so the order inside a
  run of equal keys is random; each run is cut into consecutive groups and each group gets a
  random id; the rows are sorted by group id, and *not* reversed; a shingle is a random window of
  consecutive non-stop-word tokens of the lower-cased text whose words are sorted before joining
  (so "cat dog" and "dog cat" share a key); the cluster key is the k-means label (k-means with a
  fixed ``random_state``) and goes through the same grouping.
- when strategies run (epoch 1 in file order) and the dropout side effect of a reorder are the
  training loop's business: ``pairs/objective.py``.

Deviations, and our reading where the code is silent or differs:

- the notebooks' group sizes are 7 (STS-B, Antique, PFCC-S, CQA-A) and 3 (MRPC), one less than
  the paper's s = 8 and 4; the params follow the paper (``pairs.shuffle.group_size``);
- the fast-shuffling counter of the code gives every group after the first in a run
  ``group_size + 1`` rows; here every key group has at most ``group_size`` members;
- group ids are a random permutation of ``0..G-1`` (distinct) instead of ``randint(0, 1e8)``,
  which can collide and merge two groups;
- texts with fewer than ``shingle_size`` non-stop-words get a unique key (the code gives every
  text without a content word the shared key ``''`` and fails on texts shorter than the
  shingle); tokens are ``\\w+`` runs and the stop words scikit-learn's ``ENGLISH_STOP_WORDS``
  (the code: NLTK ``word_tokenize`` and NLTK's English list); shingle keys come from the text, not
  from averaged GloVe vectors (not available offline);
- k-means uses ``random_state=seed`` and ``n_init=1`` (the code: ``random_state=0`` and the
  scikit-learn default of its time, 10 restarts); ``n_clusters`` is capped at ``len(pairs)``;
- the "kNN signature" key is not implemented.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from typing import Literal, get_args

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.neighbors import NearestNeighbors

from sentemb.pairs.records import Pair

Strategy = Literal["none", "random", "example_knn", "shingle", "cluster"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
Embed = Callable[[list[str]], np.ndarray | torch.Tensor]

_WORD = re.compile(r"\w+")
_NEEDS_EMBED = ("example_knn", "cluster")


# --- entry points ---------------------------------------------------------------------------------

def epoch_order(strategy: Strategy, pairs: list[Pair], epoch: int, seed: int, *, embed: Embed | None = None,
                group_size: int = 8, knn_candidates: int = 200, allow_identical: bool = True,
                shingle_size: int = 2, n_clusters: int = 300) -> np.ndarray:
    """The visiting order of ``pairs`` in ``epoch`` (docs/methods.md §4.4): an int64 permutation of
    ``range(len(pairs))``.

    Args:
        strategy: one of ``STRATEGIES`` (see the module docstring).
        pairs: the training pairs; only ``text_a`` is looked at (the code embeds column 0).
        epoch, seed: integers >= 0; the order is a function of (strategy, pairs, epoch, seed, embed).
        embed: texts -> (n, d) array or tensor; required by ``example_knn`` and ``cluster``. Pass
            the current model's encoder so that neighbours follow the model (§4.4).
        group_size: s, the largest group (§4.4: 8 by default, 4 for MRPC, 5 for CQA-B).
        knn_candidates: n, the neighbours retrieved per seed (the code's ``top_k=200``).
        allow_identical: let identical ``text_a`` share an example_knn group without counting toward its
            size (the official notebooks' ``allow_same=True``); false keeps them apart.
        shingle_size: t, the non-stop-words in a shingle key.
        n_clusters: k-means clusters for ``cluster`` (300 for CQA-A in the paper).

    Raises:
        ValueError naming the parameter when one is out of range or ``embed`` is missing/malformed.
    """
    groups = epoch_groups(strategy, pairs, epoch, seed, embed=embed, group_size=group_size,
                          knn_candidates=knn_candidates, allow_identical=allow_identical,
                          shingle_size=shingle_size, n_clusters=n_clusters)
    return np.fromiter((i for g in groups for i in g), dtype=np.int64, count=len(pairs))


def epoch_groups(strategy: Strategy, pairs: list[Pair], epoch: int, seed: int, *, embed: Embed | None = None,
                 group_size: int = 8, knn_candidates: int = 200, allow_identical: bool = True,
                 shingle_size: int = 2, n_clusters: int = 300) -> list[list[int]]:
    """The groups of :func:`epoch_order`, in visiting order; their concatenation is the order (docs/methods.md §4.4).

    ``none`` and ``random`` give singletons. ``example_knn`` gives the groups of
    :func:`example_knn_groups` after the whole sequence is reversed, so each group's members are
    reversed too and the last-formed (small, leftover) groups come first.
    Same arguments and errors as :func:`epoch_order`.
    """
    _check_args(strategy, epoch, seed, group_size, knn_candidates, shingle_size, n_clusters)
    if strategy in _NEEDS_EMBED and embed is None:
        raise ValueError(f"embed: strategy {strategy!r} needs an embed function (texts -> (n, d) array)")
    n = len(pairs)
    rng = np.random.default_rng((seed, epoch))  # the same stream as training.data.epoch_order
    if strategy == "none":
        return [[i] for i in range(n)]
    if strategy == "random":
        return [[i] for i in rng.permutation(n).tolist()]
    if n == 0:
        return []
    texts = [p.text_a for p in pairs]
    if strategy == "example_knn":
        formed = example_knn_groups(embed_texts(embed, texts), texts, rng.permutation(n), group_size=group_size,
                                    knn_candidates=knn_candidates, allow_identical=allow_identical)
        # the code reverses the flat id list: the many leftover groups formed last come first (curriculum)
        return [g[::-1] for g in reversed(formed)]
    if strategy == "shingle":
        keys: Sequence[Hashable] = shingle_keys(texts, shingle_size, rng)
    else:
        keys = cluster_keys(embed_texts(embed, texts), n_clusters, seed).tolist()
    return key_groups(keys, group_size, rng)


# --- example-based shuffling --------------------------------------------------------------------

def example_knn_groups(embeddings: np.ndarray, texts: Sequence[str], visit: np.ndarray | None = None, *,
                       group_size: int = 8, knn_candidates: int = 200,
                       allow_identical: bool = True) -> list[list[int]]:
    """Greedy nearest-neighbour groups of example-based shuffling, in the order they are formed (docs/methods.md §4.4).

    For each example e of ``visit`` (default: index order) not yet used, its ``knn_candidates``
    nearest embeddings (exact L2, e itself included and skipped as used) are scanned closest
    first, and unused ones join e's group until the group holds ``group_size`` distinct texts, as
    the official code counts (a set of the group's texts). With ``allow_identical`` (the official
    notebooks' ``allow_same=True``) a candidate whose text is already in the group joins it without
    counting; without it such a candidate is skipped. A group is smaller when the candidates run
    out, which happens more and more as the data gets used up. Indices are rows of ``embeddings``.
    """
    n = len(texts)
    _check_int("group_size", group_size, 1)
    _check_int("knn_candidates", knn_candidates, 1)
    x = _as_matrix("embeddings", embeddings, n)
    visit = np.arange(n) if visit is None else _check_permutation("visit", visit, n)
    if n == 0:
        return []
    # exact L2 over all rows (Faiss IndexFlatL2 in the code); candidates come sorted by distance
    knn = NearestNeighbors(n_neighbors=min(knn_candidates, n), algorithm="brute", metric="euclidean").fit(x)
    candidates = knn.kneighbors(x, return_distance=False)
    used = np.zeros(n, dtype=bool)
    groups = []
    for e in visit.tolist():
        if not used[e]:
            groups.append(_grow_group(e, candidates[e], used, texts, group_size, allow_identical))
    return groups


def _grow_group(seed_ex: int, candidates: np.ndarray, used: np.ndarray, texts: Sequence[str], group_size: int,
                allow_identical: bool) -> list[int]:
    """``seed_ex`` and its first unused candidates until ``group_size`` distinct texts (marks them used)."""
    used[seed_ex] = True
    group, seen = [seed_ex], {texts[seed_ex]}
    for j in candidates.tolist():
        if len(seen) >= group_size:
            break
        if used[j] or (not allow_identical and texts[j] in seen):
            continue
        used[j] = True
        group.append(j)
        seen.add(texts[j])
    return group


# --- fast (key-based) shuffling -----------------------------------------------------------------

def content_words(text: str) -> list[str]:
    """Lower-cased ``\\w+`` tokens of ``text`` that are not English stop words (scikit-learn's list)."""
    return [w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]


def shingle_keys(texts: Sequence[str], shingle_size: int, rng: np.random.Generator) -> list[str]:
    """One random shingle per text: ``shingle_size`` consecutive content words, sorted and joined
    (docs/methods.md §4.4).

    The window start is uniform over the valid positions, one draw of ``rng`` per text. A text with
    fewer than ``shingle_size`` content words gets a key of its own (``"\\0<index>"``; ``\\w+``
    tokens never contain NUL), so it is never grouped by accident.
    """
    _check_int("shingle_size", shingle_size, 1)
    draws = rng.random(len(texts))  # one draw per text, so a text's key does not depend on the others' lengths
    keys = []
    for i, (text, u) in enumerate(zip(texts, draws.tolist())):
        words = content_words(text)
        positions = len(words) - shingle_size + 1
        if positions < 1:
            keys.append(f"\0{i}")
            continue
        start = min(int(u * positions), positions - 1)
        keys.append(" ".join(sorted(words[start:start + shingle_size])))
    return keys


def cluster_keys(embeddings: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """k-means cluster ids of ``embeddings`` (docs/methods.md §4.4), ``n_clusters`` capped at the number of rows.

    ``random_state=seed`` fixes the clustering for a given run and embedding.
    """
    _check_int("n_clusters", n_clusters, 1)
    _check_int("seed", seed, 0)
    x = _as_matrix("embeddings", embeddings, len(embeddings))
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    km = KMeans(n_clusters=min(n_clusters, len(x)), random_state=seed % 2**32, n_init=1)
    return km.fit_predict(x).astype(np.int64)


def key_groups(keys: Sequence[Hashable], group_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Fast-shuffling groups (docs/methods.md §4.4), in visiting order.

    Sort by key with a random order inside each run of equal keys, cut every run into consecutive
    groups of at most ``group_size``, give the groups random ids (a permutation of ``0..G-1``) and
    return them sorted by id. Keys must be mutually comparable (all str, or all int).
    """
    _check_int("group_size", group_size, 1)
    n = len(keys)
    if n == 0:
        return []
    _, codes = np.unique(np.asarray(keys), return_inverse=True)
    codes = codes.reshape(-1)
    order = rng.permutation(n)  # the code's random tie-breaking column: who shares a group inside a long run
    order = order[np.argsort(codes[order], kind="stable")]
    runs = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    groups = [run[i:i + group_size].tolist() for run in runs for i in range(0, len(run), group_size)]
    ids = rng.permutation(len(groups))
    return [groups[g] for g in np.argsort(ids).tolist()]


# --- helpers -------------------------------------------------------------------------------------

def embed_texts(embed: Embed | None, texts: list[str]) -> np.ndarray:
    """``embed(texts)`` as a finite float64 (n, d) array; ValueError naming ``embed`` otherwise."""
    if embed is None:
        raise ValueError("embed: an embed function (texts -> (n, d) array) is required")
    out = embed(texts)
    if isinstance(out, torch.Tensor):
        out = out.detach().to("cpu", torch.float64).numpy()
    return _as_matrix("embed", out, len(texts))


def _as_matrix(name: str, value: object, n: int) -> np.ndarray:
    try:
        x = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a numeric (n, d) array, got {type(value).__name__}") from exc
    if x.ndim != 2 or x.shape[0] != n or (n > 0 and x.shape[1] < 1):
        raise ValueError(f"{name}: expected shape ({n}, d) with d >= 1, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: embeddings contain NaN or inf")
    return x


def _check_permutation(name: str, value: np.ndarray, n: int) -> np.ndarray:
    v = np.asarray(value)
    if v.shape != (n,) or not np.issubdtype(v.dtype, np.integer) or not np.array_equal(np.sort(v), np.arange(n)):
        raise ValueError(f"{name}: expected a permutation of range({n})")
    return v.astype(np.int64)


def _check_int(name: str, value: object, minimum: int) -> int:
    # bool is an int subclass, but `group_size: true` in a config is a mistake
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_args(strategy: object, epoch: int, seed: int, group_size: int, knn_candidates: int, shingle_size: int,
                n_clusters: int) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    _check_int("epoch", epoch, 0)
    _check_int("seed", seed, 0)
    _check_int("group_size", group_size, 1)
    _check_int("knn_candidates", knn_candidates, 1)
    _check_int("shingle_size", shingle_size, 1)
    _check_int("n_clusters", n_clusters, 1)
