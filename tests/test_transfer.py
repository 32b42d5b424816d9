"""SentEval transfer evaluator (docs/methods.md §0.3, docs/protocol.md §B.3/§B.5).

The batched trainer is checked against a plain, one-fit-at-a-time reference written here
from the protocol description (``RefMLP`` and the ``ref_*`` validation schemes): same chosen
L2, same accuracies after SentEval's rounding, parameters within float32 noise.
"""
# The reference keeps SentEval's variable names (X_train, devX...) so it reads like the original.
# ruff: noqa: N803, N806

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from torch import nn

from sentemb.data.records import Example, TaskData
from sentemb.errors import ConfigError
from sentemb.evaluation import transfer
from sentemb.evaluation.classifier import (
    FitGroup,
    TrainConfig,
    fit_groups,
    initial_params,
    make_features,
)
from sentemb.evaluation.transfer import (
    MODES,
    REGS,
    evaluate_transfer,
    inner_kfold,
    kfold_classifier,
    kfold_folds,
    outer_inner_folds,
    senteval_sort,
    split_classifier,
)

ADAM_CFG = TrainConfig("adam", batch_size=16, tenacity=5, epoch_size=4)
RMSPROP_CFG = TrainConfig("rmsprop", batch_size=32, tenacity=3, epoch_size=2)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """The reference's tiny torch.optim steps are much faster on one thread."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# --- reference: SentEval's PyTorchClassifier/MLP, one fit at a time ------------------------


class RefMLP:
    """nn.Linear + CrossEntropyLoss(mean) + torch.optim, SentEval's fit/score loop."""

    def __init__(self, dim: int, nclasses: int, l2reg: float, cfg: TrainConfig) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.model = nn.Linear(dim, nclasses)
        self.rng = np.random.RandomState(cfg.seed)  # = np.random.seed(seed) + global calls
        self.loss_fn = nn.CrossEntropyLoss()
        optim = torch.optim.Adam if cfg.optim == "adam" else torch.optim.RMSprop
        self.optimizer = optim(self.model.parameters())
        self.optimizer.param_groups[0]["weight_decay"] = l2reg
        self.cfg = cfg
        self.nepoch = 0

    def fit(self, X: np.ndarray, y: np.ndarray, validation_data: tuple | None = None,
            validation_split: float | None = None) -> float:
        if validation_data is not None:
            trainX, trainy, (devX, devy) = X, y, validation_data
        else:
            perm = self.rng.permutation(len(X))
            cut = int(validation_split * len(X))
            trainX, trainy = X[perm[cut:]], y[perm[cut:]]
            devX, devy = X[perm[:cut]], y[perm[:cut]]
        tX, ty = torch.from_numpy(trainX).float(), torch.from_numpy(trainy).long()
        self.nepoch, best, stop, count = 0, -1.0, False, 0
        while not stop and self.nepoch <= self.cfg.max_epoch:
            self._trainepoch(tX, ty)
            acc = self.score(devX, devy)
            if acc > best:
                best, bestmodel = acc, copy.deepcopy(self.model)
            else:
                if count >= self.cfg.tenacity:
                    stop = True
                count += 1
        self.model = bestmodel
        return best

    def _trainepoch(self, X: torch.Tensor, y: torch.Tensor) -> None:
        for _ in range(self.cfg.epoch_size):
            perm = self.rng.permutation(len(X))
            for i in range(0, len(X), self.cfg.batch_size):
                idx = torch.from_numpy(perm[i : i + self.cfg.batch_size])
                loss = self.loss_fn(self.model(X[idx]), y[idx])
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
        self.nepoch += self.cfg.epoch_size

    def predict(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.model(torch.from_numpy(X).float()).max(1)[1].numpy()

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return 1.0 * int((self.predict(X) == y).sum()) / len(X)

    def params(self) -> torch.Tensor:
        return torch.cat([self.model.weight.t(), self.model.bias[None]], 0).detach()


def ref_inner_kfold(X: np.ndarray, y: np.ndarray, kfold: int, cfg: TrainConfig) -> dict:
    """InnerKFoldClassifier.run, transcribed."""
    regs = [10**t for t in range(-5, -1)]
    skf = StratifiedKFold(n_splits=kfold, shuffle=True, random_state=1111)
    innerskf = StratifiedKFold(n_splits=kfold, shuffle=True, random_state=1111)
    devresults, testresults, optregs = [], [], []
    for train_idx, test_idx in skf.split(X, y):
        X_train, X_test, y_train, y_test = X[train_idx], X[test_idx], y[train_idx], y[test_idx]
        scores = []
        for reg in regs:
            regscores = []
            for a, b in innerskf.split(X_train, y_train):
                clf = RefMLP(X.shape[1], 2, reg, cfg)
                clf.fit(X_train[a], y_train[a], validation_data=(X_train[b], y_train[b]))
                regscores.append(clf.score(X_train[b], y_train[b]))
            scores.append(round(100 * np.mean(regscores), 2))
        optreg = regs[np.argmax(scores)]
        optregs.append(optreg)
        devresults.append(np.max(scores))
        clf = RefMLP(X.shape[1], 2, optreg, cfg)
        clf.fit(X_train, y_train, validation_split=0.05)
        testresults.append(round(100 * clf.score(X_test, y_test), 2))
    return {"devacc": float(round(np.mean(devresults), 2)), "acc": float(round(np.mean(testresults), 2)),
            "l2": optregs}


def ref_kfold(X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray, nclasses: int,
              kfold: int, cfg: TrainConfig) -> tuple[dict, np.ndarray]:
    """KFoldClassifier.run, transcribed."""
    regs = [10**t for t in range(-5, -1)]
    skf = StratifiedKFold(n_splits=kfold, shuffle=True, random_state=cfg.seed)
    scores = []
    for reg in regs:
        scanscores = []
        for a, b in skf.split(X, y):
            clf = RefMLP(X.shape[1], nclasses, reg, cfg)
            clf.fit(X[a], y[a], validation_data=(X[b], y[b]))
            scanscores.append(clf.score(X[b], y[b]))
        scores.append(round(100 * np.mean(scanscores), 2))
    optreg = regs[np.argmax(scores)]
    clf = RefMLP(X.shape[1], nclasses, optreg, cfg)
    clf.fit(X, y, validation_split=0.05)
    out = {"devacc": float(np.max(scores)), "acc": round(100 * clf.score(Xt, yt), 2), "l2": optreg}
    return out, clf.predict(Xt)


def ref_split(X: dict, y: dict, cfg: TrainConfig) -> dict:
    """SplitClassifier.run, transcribed (including the final refit)."""
    regs = [10**t for t in range(-5, -1)]
    scores = []
    for reg in regs:
        clf = RefMLP(X["train"].shape[1], 2, reg, cfg)
        clf.fit(X["train"], y["train"], validation_data=(X["valid"], y["valid"]))
        scores.append(round(100 * clf.score(X["valid"], y["valid"]), 2))
    optreg = regs[np.argmax(scores)]
    clf = RefMLP(X["train"].shape[1], 2, optreg, cfg)
    clf.fit(X["train"], y["train"], validation_data=(X["valid"], y["valid"]))
    return {"devacc": float(np.max(scores)), "acc": round(100 * clf.score(X["test"], y["test"]), 2),
            "l2": optreg}


# --- synthetic data --------------------------------------------------------------------------


def noisy_data(n: int, d: int, nclasses: int = 2, signal: float = 0.8, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features with a weak class signal: fits stop at different epochs."""
    rs = np.random.RandomState(seed)
    y = rs.randint(nclasses, size=n)
    X = rs.randn(n, d).astype(np.float32)
    X[np.arange(n), y % d] += signal
    return X, y.astype(np.int64)


def make_task(name: str, splits: dict[str, list[tuple]]) -> tuple[TaskData, Callable]:
    """TaskData with unique texts, and an ``embed`` that looks each text up in a dict."""
    table: dict[str, np.ndarray] = {}
    out: dict[str, list[Example]] = {}
    for split, rows in splits.items():
        exs = []
        for i, (label, vec_a, *rest) in enumerate(rows):
            text_a = " ".join([f"{split}{i}a"] * (1 + i % 5))
            table[text_a] = vec_a
            text_b = None
            if rest:
                text_b = " ".join([f"{split}{i}b"] * (1 + i % 3))
                table[text_b] = rest[0]
            exs.append(Example(text_a, label, text_b))
        out[split] = exs
    return TaskData(name, "transfer", out), lambda texts: np.stack([table[t] for t in texts])


def code_rows(y: np.ndarray, nclasses: int, d: int, noise: float, rs: np.random.RandomState) -> list:
    """Separable embeddings: a fixed +-1 code per class plus small noise."""
    codes = np.where(rs.rand(nclasses, d) > 0.5, 1.0, -1.0)
    codes[:, 0] = np.arange(nclasses) * 2.0 - 1.0  # distinct codes even for tiny d
    X = (codes[y] + noise * rs.randn(len(y), d)).astype(np.float32)
    return [(int(label), x) for label, x in zip(y, X)]


# --- batched trainer == reference ------------------------------------------------------------


@pytest.mark.parametrize("cfg", [ADAM_CFG, RMSPROP_CFG], ids=["adam", "rmsprop"])
def test_batched_trainer_matches_reference(cfg: TrainConfig) -> None:
    X, y = noisy_data(150, 6)
    feats = make_features(X, y, 2)
    rs = np.random.RandomState(1)
    regs = (1e-5, 1e-2, 0.3, 3.0)
    groups = []
    for size in (60, 90, 115):  # different minibatch counts per pass: lockstep masking
        perm = rs.permutation(150)
        groups.append(FitGroup(np.sort(perm[:size]), regs, dev_idx=perm[size:]))
    groups.append(FitGroup(np.arange(150), regs, validation_split=0.05))
    results = fit_groups(feats, groups, cfg, max_groups=3)  # two chunks
    nepochs = set()
    for group, res in zip(groups, results):
        for r, reg in enumerate(regs):
            ref = RefMLP(6, 2, reg, cfg)
            tr = group.train_idx
            if group.dev_idx is None:
                best = ref.fit(X[tr], y[tr], validation_split=0.05)
            else:
                best = ref.fit(X[tr], y[tr], validation_data=(X[group.dev_idx], y[group.dev_idx]))
            assert res.dev_accuracy(r) == best
            assert res.nepoch[r] == ref.nepoch
            torch.testing.assert_close(res.params[r], ref.params(), atol=1e-5, rtol=1e-5)
            nepochs.add(ref.nepoch)
    assert len(nepochs) > 2, "fixture should early-stop at different epochs"


def test_initial_params_equal_seeded_linear() -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1111)
        layer = nn.Linear(7, 3)
    expected = torch.cat([layer.weight.t(), layer.bias[None]], 0).detach()
    assert torch.equal(initial_params(7, 3, 1111), expected)


@pytest.mark.parametrize("cfg", [ADAM_CFG, RMSPROP_CFG], ids=["adam", "rmsprop"])
def test_inner_kfold_matches_reference(cfg: TrainConfig) -> None:
    X, y = noisy_data(72, 4, signal=0.6, seed=3)
    got = inner_kfold(make_features(X, y, 2), y, 3, cfg)
    pred = got.pop("_pred")
    assert got == ref_inner_kfold(X, y, 3, cfg)
    # the per-example predictions (what the bootstrap resamples) give back the fold accuracies
    folds = outer_inner_folds(y, 3)
    acc = np.mean([round(100 * float(np.mean(pred[te] == y[te])), 2) for _, te, _ in folds])
    assert round(float(acc), 2) == got["acc"] and set(np.unique(pred)) <= {0, 1}


def test_kfold_and_split_match_reference() -> None:
    X, y = noisy_data(130, 5, nclasses=3, signal=1.0, seed=4)
    train, test = np.arange(100), np.arange(100, 130)
    got, yhat = kfold_classifier(make_features(X, y, 3), train, test, 3, ADAM_CFG)
    want, want_yhat = ref_kfold(X[train], y[train], X[test], y[test], 3, 3, ADAM_CFG)
    np.testing.assert_array_equal(got.pop("_pred"), yhat)
    assert got == want
    np.testing.assert_array_equal(yhat, want_yhat)
    X2, y2 = noisy_data(140, 5, signal=0.7, seed=5)
    tr, dv, te = np.arange(90), np.arange(90, 115), np.arange(115, 140)
    got = split_classifier(make_features(X2, y2, 2), tr, dv, te, RMSPROP_CFG)
    parts = {"train": tr, "valid": dv, "test": te}
    want = ref_split({k: X2[v] for k, v in parts.items()}, {k: y2[v] for k, v in parts.items()}, RMSPROP_CFG)
    pred = got.pop("_pred")
    assert got == want and round(100 * float(np.mean(pred == y2[te])), 2) == got["acc"]


# --- ordering and folds ----------------------------------------------------------------------


def test_senteval_sort_order() -> None:
    exs = [Example("a b c", 1), Example("x y", 1), Example("", 0), Example("p q", 0),
           Example("m n", 1), Example("z", 0), Example("r s", 0)]
    got = [e.text_a for e in senteval_sort(exs)]
    # by length, then label, ties kept in file order (stable)
    assert got == ["", "z", "p q", "r s", "x y", "m n", "a b c"]
    pairs = [Example("a b", 1, "c"), Example("a", 0, "b c d"), Example("x y", 0, "z"),
             Example("q", 1, "r s t"), Example("k l", 0, "m n")]
    got = [(e.text_a, e.text_b) for e in senteval_sort(pairs)]
    assert got == [("a", "b c d"), ("q", "r s t"), ("x y", "z"), ("a b", "c"), ("k l", "m n")]


def test_folds_follow_sklearn_on_sorted_order(monkeypatch: pytest.MonkeyPatch) -> None:
    rs = np.random.RandomState(0)
    y = rs.randint(2, size=60)
    rows = [(int(label), rs.randn(4).astype(np.float32)) for label in y]
    task, embed = make_task("MR", {"all": rows})
    calls: list[list[FitGroup]] = []
    real = transfer.fit_groups
    monkeypatch.setattr(transfer, "fit_groups", lambda f, g, c: calls.append(g) or real(f, g, c))
    evaluate_transfer(task, embed, "fasttest", seed=7)
    ys = np.array([e.label for e in senteval_sort(task.splits["all"])])
    outer = StratifiedKFold(5, shuffle=True, random_state=1111)  # seed ignored: 1111
    inner = StratifiedKFold(5, shuffle=True, random_state=1111)
    k = 0
    for (tr, te), refit in zip(outer.split(np.zeros(60), ys), calls[1]):
        np.testing.assert_array_equal(refit.train_idx, tr)
        for a, b in inner.split(np.zeros(len(tr)), ys[tr]):
            np.testing.assert_array_equal(calls[0][k].train_idx, tr[a])
            np.testing.assert_array_equal(calls[0][k].dev_idx, tr[b])
            k += 1
    assert k == 25 and [len(g.regs) for g in calls[1]] == [1] * 5
    assert outer_inner_folds(ys, 5)[2][0].tolist() == list(outer.split(np.zeros(60), ys))[2][0].tolist()


def test_kfold_uses_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    y = np.random.RandomState(0).randint(3, size=45)
    for seed in (1111, 5):
        want = StratifiedKFold(3, shuffle=True, random_state=seed).split(np.zeros(45), y)
        for (a, b), (c, d) in zip(kfold_folds(y, 3, seed), want):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)
    # end to end: TREC folds come from the seed, over the length-sorted training set
    X, y = noisy_data(70, 4, nclasses=6, seed=2)
    task, embed = make_task("TREC", {"train": [(int(a), b) for a, b in zip(y[:50], X[:50])],
                                     "test": [(int(a), b) for a, b in zip(y[50:], X[50:])]})
    calls: list[list[FitGroup]] = []
    real = transfer.fit_groups
    monkeypatch.setattr(transfer, "fit_groups", lambda f, g, c: calls.append(g) or real(f, g, c))
    evaluate_transfer(task, embed, "fasttest", seed=5)
    ys = np.array([e.label for e in senteval_sort(task.splits["train"])])
    want = StratifiedKFold(5, shuffle=True, random_state=5).split(np.zeros(50), ys)
    for group, (a, b) in zip(calls[0], want, strict=True):
        np.testing.assert_array_equal(group.train_idx, a)
        np.testing.assert_array_equal(group.dev_idx, b)
    assert calls[1][0].validation_split == 0.05 and len(calls[1][0].train_idx) == 50


def test_embed_called_in_sorted_order() -> None:
    rows = [(i % 2, np.full(4, float(i), np.float32)) for i in range(30)]
    task, embed = make_task("CR", {"all": rows})
    seen: list[str] = []
    evaluate_transfer(task, lambda t: seen.extend(t) or embed(t), "fasttest")
    assert seen == [e.text_a for e in senteval_sort(task.splits["all"])]


# --- determinism and RNG hygiene -------------------------------------------------------------


def test_repeatable_and_global_rng_untouched() -> None:
    X, y = noisy_data(80, 6, nclasses=6, signal=1.5)
    task, embed = make_task("TREC", {"train": [(int(a), b) for a, b in zip(y[:60], X[:60])],
                                     "test": [(int(a), b) for a, b in zip(y[60:], X[60:])]})
    torch.manual_seed(123)
    np.random.seed(456)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    torch.set_num_threads(2)  # the trainer runs single-threaded and must restore this
    first = evaluate_transfer(task, embed, "fasttest")
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), np_state))
    assert torch.get_num_threads() == 2
    second = evaluate_transfer(task, embed, "fasttest")
    for key in ("_pred", "_label"):
        np.testing.assert_array_equal(first.pop(key), second.pop(key))
    assert second == first


# --- known answers ---------------------------------------------------------------------------


def test_separable_binary_nested_cv_is_perfect() -> None:
    rs = np.random.RandomState(0)
    task, embed = make_task("SUBJ", {"all": code_rows(rs.randint(2, size=200), 2, 8, 0.05, rs)})
    res = evaluate_transfer(task, embed, "test")
    assert res["acc"] == 100.0 and res["devacc"] == 100.0
    assert res["ndev"] == res["ntest"] == 200 and len(res["l2"]) == MODES["test"].kfold
    assert set(res["l2"]) <= set(REGS) and res["task"] == "SUBJ" and res["mode"] == "test"


def test_separable_split_and_trec_are_perfect() -> None:
    rs = np.random.RandomState(1)
    splits = {k: code_rows(rs.randint(2, size=n), 2, 8, 0.1, rs)
              for k, n in (("train", 200), ("dev", 40), ("test", 50))}
    task, embed = make_task("SST2", splits)
    res = evaluate_transfer(task, embed, "test")
    assert (res["acc"], res["devacc"], res["ndev"], res["ntest"]) == (100.0, 100.0, 40, 50)
    codes_rs = np.random.RandomState(2)
    y = codes_rs.randint(6, size=260)
    rows = code_rows(y, 6, 16, 0.1, codes_rs)
    task, embed = make_task("TREC", {"train": rows[:200], "test": rows[200:]})
    res = evaluate_transfer(task, embed, "fasttest")
    assert (res["acc"], res["devacc"], res["ndev"], res["ntest"]) == (100.0, 100.0, 200, 60)


def mrpc_rows(n: int, d: int, flip: float, rs: np.random.RandomState) -> list:
    """Paraphrases: v ~ u (|u-v| ~ 0, u*v ~ +1); others: v ~ -u. ``flip`` mislabels some."""
    rows = []
    for _ in range(n):
        label = int(rs.rand() > 0.5)
        u = np.where(rs.rand(d) > 0.5, 1.0, -1.0)
        v = (u if label else -u) + 0.1 * rs.randn(d)
        shown = 1 - label if rs.rand() < flip else label
        rows.append((shown, u.astype(np.float32), v.astype(np.float32)))
    return rows


def test_mrpc_separable_and_f1_on_predictions() -> None:
    rs = np.random.RandomState(3)
    task, embed = make_task("MRPC", {"train": mrpc_rows(150, 6, 0.0, rs), "test": mrpc_rows(60, 6, 0.0, rs)})
    res = evaluate_transfer(task, embed, "fasttest")
    assert (res["acc"], res["f1"], res["ndev"], res["ntest"]) == (100.0, 100.0, 150, 60)
    noisy, embed = make_task("MRPC", {"train": mrpc_rows(150, 6, 0.2, rs), "test": mrpc_rows(60, 6, 0.3, rs)})
    res = evaluate_transfer(noisy, embed, "fasttest")
    train, test = (senteval_sort(noisy.splits[k]) for k in ("train", "test"))
    feats = []
    for exs in (train, test):
        u, v = embed([e.text_a for e in exs]), embed([e.text_b for e in exs])
        feats.append(np.c_[np.abs(u - v), u * v])
    y = np.array([e.label for e in train + test])
    m = MODES["fasttest"]
    cfg = TrainConfig(m.optim, m.batch_size, m.tenacity, m.epoch_size)
    _, yhat = kfold_classifier(make_features(np.concatenate(feats), y, 2), np.arange(150),
                               np.arange(150, 210), m.kfold, cfg)
    assert res["f1"] == round(100 * f1_score(y[150:], yhat), 2)
    assert res["acc"] == round(100 * float(np.mean(yhat == y[150:])), 2) != res["f1"]


def test_random_labels_near_chance() -> None:
    rs = np.random.RandomState(4)
    rows = [(int(rs.randint(2)), rs.randn(8).astype(np.float32)) for _ in range(400)]
    task, embed = make_task("MPQA", {"all": rows})
    res = evaluate_transfer(task, embed, "fasttest")
    assert 35.0 < res["acc"] < 65.0


# --- errors ----------------------------------------------------------------------------------


def test_unknown_task_and_mode_suggest() -> None:
    task, embed = make_task("MRCP", {"train": []})
    with pytest.raises(ConfigError, match="did you mean 'MRPC'"):
        evaluate_transfer(task, embed, "test")
    task, embed = make_task("CR", {"all": []})
    with pytest.raises(ConfigError, match="did you mean 'test'"):
        evaluate_transfer(task, embed, "tset")


def test_nan_embeddings_rejected() -> None:
    rows = [(i % 2, np.ones(4, np.float32)) for i in range(20)]
    rows[3] = (1, np.array([0, np.nan, 0, 0], np.float32))
    task, embed = make_task("MR", {"all": rows})
    with pytest.raises(ValueError, match="MR"):
        evaluate_transfer(task, embed, "fasttest")
