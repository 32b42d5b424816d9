"""Batched logistic regression trained exactly as SentEval's ``MLP(nhid=0)`` (docs/methods.md §0.3).

SentEval (docs/protocol.md §B.3) fits one ``nn.Linear(d, C)`` per (training set, L2 value), and every
classifier is built right after ``np.random.seed(seed); torch.manual_seed(seed)``. Two fits on
the same training set therefore share their initial weights and their whole sequence of
minibatch permutations; they differ only in weight decay and in when early stopping fires.
This module trains many such fits in lockstep:

* a *group* is one training set (rows of a shared feature matrix) with its own
  ``RandomState(seed)`` stream, its dev rows and R weight-decay values (the *problems*);
* all groups advance pass by pass together. Parameters are stacked as ``(G, R*C, d+1)``
  (nn.Linear's ``[out, in]`` layout; the last input column is the bias, fed by a column of
  ones), so one minibatch gather and two batched matmuls serve every problem of every group.
  Logits are laid out ``(G, R*C, B)``: both matmuls then produce wide outputs, which is
  several times faster on CPU than the ``(B, R*C)`` orientation;
* Adam / RMSprop (lockstep_optim.py) are written out with torch's single-tensor update formulas (coupled weight
  decay, per-group step counts and bias correction), so the trajectory of each problem is the
  one ``torch.optim`` would produce, up to float32 rounding;
* a group whose pass has run out of minibatches (groups can differ in size) gets no update
  and no optimizer-state change at that step; problems that have early-stopped keep being
  updated (their state is never read again: their best parameters are already saved), and a
  group is dropped from the stack once all of its problems have stopped.

Shapes use G groups, R weight decays, C classes, D = d + 1 inputs, B minibatch rows.

Early stopping follows SentEval (docs/protocol.md §B.5 item 5): evaluate every ``epoch_size``
passes; on improvement keep a copy of the parameters, otherwise stop once ``tenacity``
non-improving evaluations have been seen; the counter is never reset.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from sentemb.evaluation.lockstep_optim import LockstepAdam, LockstepRMSprop

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "rmsprop")


@dataclass(frozen=True)
class TrainConfig:
    """SentEval classifier settings (docs/protocol.md §B.3): optimiser, minibatch, early stopping."""

    optim: str
    batch_size: int
    tenacity: int
    epoch_size: int
    max_epoch: int = 200
    seed: int = 1111


@dataclass(frozen=True)
class FitGroup:
    """One training set shared by ``len(regs)`` fits that differ only in weight decay.

    ``train_idx`` are rows of the shared feature matrix, in the order SentEval's ``trainX``
    has them. Give either ``dev_idx`` (SentEval's ``validation_data``) or
    ``validation_split`` (SentEval draws the dev slice from the classifier's own RNG).
    """

    train_idx: np.ndarray
    regs: tuple[float, ...]
    dev_idx: np.ndarray | None = None
    validation_split: float | None = None


@dataclass
class FitResult:
    """Outcome of one group: per weight decay, the restored best parameters and dev score."""

    params: torch.Tensor  # (R, d+1, C): rows 0..d-1 are W^T, row d is the bias
    dev_correct: np.ndarray  # (R,) best number of correct dev predictions
    ndev: int
    nepoch: np.ndarray  # (R,) SentEval's ``nepoch`` when that fit ended

    def dev_accuracy(self, r: int) -> float:
        """SentEval's ``1.0 * correct / len(devX)``, a Python float like ``clf.score``."""
        return 1.0 * int(self.dev_correct[r]) / self.ndev


@dataclass(frozen=True)
class Features:
    """Shared design matrix: ``n`` rows plus a bias column, then one all-zero padding row.

    Padded minibatch slots point at the padding row: a zero input row contributes exactly
    nothing to the weight gradient, so no per-row mask is needed.
    """

    x: torch.Tensor  # (n + 1, d + 1) float32
    y: torch.Tensor  # (n + 1,) int64, padding label -1 (never counted as correct)
    onehot: torch.Tensor  # (n + 1, C) float32, padding row all zero
    nclasses: int

    @property
    def n(self) -> int:
        return self.x.shape[0] - 1

    @property
    def dim(self) -> int:
        return self.x.shape[1] - 1


def make_features(features: np.ndarray, labels: np.ndarray, nclasses: int) -> Features:
    """Build the shared float32 design matrix (SentEval trains in float32)."""
    feat = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels, dtype=np.int64)
    n, d = feat.shape
    if y.shape != (n,) or (n and (y.min() < 0 or y.max() >= nclasses)):
        raise ValueError(f"labels must be {n} integers in [0, {nclasses})")
    x = torch.zeros(n + 1, d + 1, dtype=torch.float32)
    x[:n, :d] = torch.from_numpy(feat)
    x[:n, d] = 1.0
    yt = torch.full((n + 1,), -1, dtype=torch.int64)
    yt[:n] = torch.from_numpy(y)
    onehot = torch.zeros(n + 1, nclasses, dtype=torch.float32)
    onehot[torch.arange(n), yt[:n]] = 1.0
    return Features(x=x, y=yt, onehot=onehot, nclasses=nclasses)


def initial_params(dim: int, nclasses: int, seed: int) -> torch.Tensor:
    """``nn.Linear(dim, nclasses)`` as built right after ``torch.manual_seed(seed)``.

    SentEval reseeds the global RNG before each classifier; we reproduce the resulting
    initialisation without disturbing the caller's RNG: fork the CPU generator, seed only it
    (the layer is created on CPU, and CUDA generators stay untouched), build, restore.
    Returns the stacked ``(dim + 1, nclasses)`` form ``[W^T; b]``.
    """
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        layer = torch.nn.Linear(dim, nclasses)
    with torch.no_grad():
        return torch.cat([layer.weight.t(), layer.bias[None]], 0).contiguous()


def predict(params: torch.Tensor, feats: Features, rows: np.ndarray) -> np.ndarray:
    """Argmax class of each row (first index wins ties, as ``output.max(1)[1]``)."""
    with torch.inference_mode():
        x = feats.x.index_select(0, torch.as_tensor(rows, dtype=torch.int64))
        return (x @ params).argmax(-1).numpy()


def count_correct(params: torch.Tensor, feats: Features, rows: np.ndarray) -> int:
    """Number of rows whose argmax prediction equals the label."""
    pred = predict(params, feats, rows)
    return int((pred == feats.y.numpy()[np.asarray(rows, dtype=np.int64)]).sum())


@dataclass
class _Group:
    gid: int
    rng: np.random.RandomState
    train: np.ndarray
    dev: torch.Tensor
    regs: tuple[float, ...]


def _prepare_group(gid: int, group: FitGroup, seed: int) -> _Group:
    """Resolve the dev rows as SentEval's ``prepare_split`` does (docs/protocol.md §B.3).

    ``RandomState(seed)`` replays the legacy global stream SentEval gets from
    ``np.random.seed(seed)``: first the validation-split permutation (if any), then one
    permutation per training pass.
    """
    rng = np.random.RandomState(seed)
    base = np.asarray(group.train_idx, dtype=np.int64)
    if group.validation_split is not None:
        perm = rng.permutation(len(base))
        cut = int(group.validation_split * len(base))
        train, dev = base[perm[cut:]], base[perm[:cut]]
    elif group.dev_idx is not None:
        train, dev = base, np.ascontiguousarray(group.dev_idx, dtype=np.int64)
    else:
        raise ValueError("FitGroup needs dev_idx or validation_split")
    if len(train) == 0 or len(dev) == 0:
        raise ValueError(f"group {gid}: empty training or dev set ({len(train)}/{len(dev)} rows)")
    return _Group(gid, rng, train, torch.from_numpy(dev), tuple(group.regs))


@dataclass
class _Stack:
    """Stacked state of the groups still training: G groups x R problems x C classes."""

    groups: list[_Group]
    w: torch.Tensor  # (G, R*C, D) current parameters
    best: torch.Tensor  # (G, R*C, D) best parameters so far
    wd: torch.Tensor  # (G, R*C, 1) weight decay of each problem
    opt: LockstepAdam | LockstepRMSprop
    best_correct: np.ndarray  # (G, R)
    count: np.ndarray  # (G, R) non-improving evaluations seen
    stopped: np.ndarray  # (G, R)
    end_epoch: np.ndarray  # (G, R)
    nclasses: int

    @property
    def n_regs(self) -> int:
        return len(self.groups[0].regs)


def _make_stack(groups: list[_Group], p0: torch.Tensor, cfg: TrainConfig) -> _Stack:
    ng, nr = len(groups), len(groups[0].regs)
    dim, nc = p0.shape
    w = p0.t()[None, None].expand(ng, nr, nc, dim).reshape(ng, nr * nc, dim).clone()
    regs = torch.tensor([g.regs for g in groups], dtype=torch.float32)  # (G, R)
    wd = regs[:, :, None, None].expand(ng, nr, nc, 1).reshape(ng, nr * nc, 1).contiguous()
    opt = LockstepAdam(tuple(w.shape)) if cfg.optim == "adam" else LockstepRMSprop(tuple(w.shape))
    zeros = np.zeros((ng, nr), dtype=np.int64)
    return _Stack(groups, w, w.clone(), wd, opt, zeros - 1, zeros.copy(),
                  zeros.astype(bool), zeros.copy(), nc)


def _plan_pass(stack: _Stack, batch_size: int, pad_row: int
               ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Draw each group's permutation for one pass (SentEval ``trainepoch``) and pad.

    Returns row indices ``(S, G*B)``, the per-step loss scale ``1/len(minibatch)``
    ``(S, G, 1, 1, 1)`` (CrossEntropyLoss mean reduction), and ``has_rows`` ``(S, G)``.
    """
    sizes = np.array([len(g.train) for g in stack.groups])
    n_steps = int(math.ceil(sizes.max() / batch_size))
    idx = np.full((len(sizes), n_steps * batch_size), pad_row, dtype=np.int64)
    for k, g in enumerate(stack.groups):
        idx[k, : sizes[k]] = g.train[g.rng.permutation(sizes[k])]
    idx = idx.reshape(len(sizes), n_steps, batch_size).transpose(1, 0, 2)
    starts = np.arange(n_steps)[:, None] * batch_size
    counts = np.clip(sizes[None, :] - starts, 0, batch_size).astype(np.float32)
    has_rows = counts > 0
    scale = np.where(has_rows, np.float32(1.0) / np.maximum(counts, 1), 0).astype(np.float32)
    rows = torch.from_numpy(np.ascontiguousarray(idx).reshape(n_steps, -1))
    return rows, torch.from_numpy(scale).view(n_steps, len(sizes), 1, 1, 1), has_rows


def _run_pass(stack: _Stack, feats: Features, batch_size: int) -> None:
    """One pass over every group's training set: forward, mean CE gradient, optimiser step."""
    rows, scale, has_rows = _plan_pass(stack, batch_size, feats.n)
    stack.opt.begin_pass(has_rows)
    ng, nrc, dim = stack.w.shape
    nc = stack.nclasses
    bs, nr = batch_size, nrc // nc
    # out= buffers: avoid reallocating a (G*B, D) block at every step
    xb = torch.empty(ng * bs, dim)
    yb = torch.empty(ng * bs, nc)
    for s in range(rows.shape[0]):
        torch.index_select(feats.x, 0, rows[s], out=xb)
        torch.index_select(feats.onehot, 0, rows[s], out=yb)
        x3 = xb.view(ng, bs, dim)
        probs = torch.softmax(torch.bmm(stack.w, x3.transpose(1, 2)).view(ng, nr, nc, bs), 2)
        # d(mean CE)/d(logits) = (softmax - onehot) / len(minibatch)
        dlogits = probs.sub_(yb.view(ng, bs, nc).transpose(1, 2)[:, None]).mul_(scale[s])
        grad = torch.bmm(dlogits.view(ng, nrc, bs), x3)
        mask = None if has_rows[s].all() else torch.from_numpy(has_rows[s]).view(ng, 1, 1)
        stack.opt.update(stack.w, grad, stack.wd, s, mask)


def _dev_correct(stack: _Stack, feats: Features) -> np.ndarray:
    """Correct dev predictions of every problem, ``(G, R)`` (SentEval ``score``)."""
    nr, nc = stack.n_regs, stack.nclasses
    out = np.empty((len(stack.groups), nr), dtype=np.int64)
    for k, g in enumerate(stack.groups):
        pred = (feats.x.index_select(0, g.dev) @ stack.w[k].t()).view(-1, nr, nc).argmax(-1)
        out[k] = (pred == feats.y.index_select(0, g.dev)[:, None]).sum(0).numpy()
    return out


def _early_stop(stack: _Stack, feats: Features, tenacity: int, nepoch: int) -> None:
    """SentEval's per-evaluation bookkeeping, vectorised over problems (docs/protocol.md §B.5)."""
    correct = _dev_correct(stack, feats)
    live = ~stack.stopped
    improved = live & (correct > stack.best_correct)
    stack.best_correct = np.where(improved, correct, stack.best_correct)
    worse = live & ~improved
    newly = worse & (stack.count >= tenacity)
    stack.count += worse  # never reset after an improvement
    stack.stopped |= newly
    stack.end_epoch[newly] = nepoch
    if improved.any():
        ng, nr, nc = improved.shape[0], improved.shape[1], stack.nclasses
        mask = torch.from_numpy(improved)[:, :, None, None].expand(ng, nr, nc, 1).reshape(ng, nr * nc, 1)
        stack.best = torch.where(mask, stack.w, stack.best)


def _retire(stack: _Stack, done: np.ndarray, results: dict[int, FitResult], nepoch: int) -> None:
    """Move finished groups' best parameters to ``results`` and drop them from the stack."""
    dim = stack.w.shape[2]
    nr, nc = stack.n_regs, stack.nclasses
    for k in np.flatnonzero(done):
        g = stack.groups[k]
        end = np.where(stack.stopped[k], stack.end_epoch[k], nepoch)
        params = stack.best[k].view(nr, nc, dim).transpose(1, 2).contiguous()
        results[g.gid] = FitResult(params, stack.best_correct[k].copy(), len(g.dev), end)
    keep = np.flatnonzero(~done)
    if len(keep) == len(stack.groups):
        return
    rows = torch.from_numpy(keep)
    stack.groups = [stack.groups[k] for k in keep]
    stack.w, stack.best, stack.wd = stack.w[rows], stack.best[rows], stack.wd[rows]
    for name in ("best_correct", "count", "stopped", "end_epoch"):
        setattr(stack, name, getattr(stack, name)[keep])
    stack.opt.keep(rows)


def _fit_chunk(feats: Features, groups: list[_Group], p0: torch.Tensor, cfg: TrainConfig,
               results: dict[int, FitResult]) -> None:
    """SentEval ``fit`` loop, in lockstep over ``groups``."""
    stack = _make_stack(groups, p0, cfg)
    nepoch = 0
    while stack.groups and nepoch <= cfg.max_epoch:
        for _ in range(cfg.epoch_size):
            _run_pass(stack, feats, cfg.batch_size)
        nepoch += cfg.epoch_size
        _early_stop(stack, feats, cfg.tenacity, nepoch)
        _retire(stack, stack.stopped.all(axis=1), results, nepoch)
    if stack.groups:
        _retire(stack, np.ones(len(stack.groups), dtype=bool), results, nepoch)


@contextlib.contextmanager
def _intra_op_threads(n: int) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count, restoring the caller's afterwards.

    Each training step is ~20 small ops of well under a millisecond: OpenMP fork/join costs
    more than it saves, and when another process occupies a core every parallel op waits a
    scheduler quantum (measured: ~8 ms per op instead of ~0.01 ms on a busy 2-core machine).
    """
    old = torch.get_num_threads()
    if old == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def fit_groups(feats: Features, groups: list[FitGroup], cfg: TrainConfig,
               max_groups: int = 16, threads: int = 1) -> list[FitResult]:
    """Train every (group, weight decay) problem as SentEval's MLP would, in lockstep.

    All groups must have the same number of weight-decay values. Groups are independent,
    so training them in chunks of ``max_groups`` (to keep each step's minibatch block in
    cache) gives the same results as one chunk.
    """
    if cfg.optim not in OPTIMIZERS:
        raise ValueError(f"unknown optimiser {cfg.optim!r}; expected one of {OPTIMIZERS}")
    if len({len(g.regs) for g in groups}) > 1:
        raise ValueError("all groups of one fit_groups call need the same number of regs")
    prepared = [_prepare_group(i, g, cfg.seed) for i, g in enumerate(groups)]
    p0 = initial_params(feats.dim, feats.nclasses, cfg.seed)  # same for every group
    results: dict[int, FitResult] = {}
    with torch.inference_mode(), _intra_op_threads(threads):
        for start in range(0, len(prepared), max_groups):
            _fit_chunk(feats, prepared[start : start + max_groups], p0, cfg, results)
    return [results[i] for i in range(len(groups))]
