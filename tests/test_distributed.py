"""gather_with_grad: two gloo CPU ranks reproduce the single-process global-batch loss and gradient."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from sentemb.losses import InfoNCELoss
from sentemb.losses.base import EmbeddingBatch
from sentemb.training.distributed import gather_with_grad, init_from_env, is_distributed, rank, world_size

WORLD, GLOBAL_B, D_IN, D_OUT = 2, 8, 6, 5
LOSS_KWARGS = {"temperature": 0.1, "hard_negative_weight": 0.5}


def _layer_and_inputs() -> tuple[nn.Linear, torch.Tensor]:
    """The same tiny linear encoder and fixed inputs in every process (same seed)."""
    torch.manual_seed(0)
    layer = nn.Linear(D_IN, D_OUT).double()
    inputs = torch.randn(3, GLOBAL_B, D_IN, dtype=torch.float64)  # anchor, positive, hard negative
    return layer, inputs


def _loss(layer: nn.Linear, inputs: torch.Tensor, gather: bool) -> torch.Tensor:
    views = [layer(x) for x in inputs]  # 3 × (B, D_OUT)
    if gather:
        views = [gather_with_grad(v) for v in views]  # 3 × (W·B, D_OUT)
    batch = EmbeddingBatch(anchor=views[0], positive=views[1], hard_negative=views[2])
    return InfoNCELoss(**LOSS_KWARGS)(batch=batch).total


def _worker(rank_: int, port: int, out_file: str) -> None:
    torch.set_num_threads(1)  # two processes on a shared CI box
    # what torchrun would set; gloo even where CUDA exists, as the tensors here are on the CPU
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank_),
                      LOCAL_RANK=str(rank_), WORLD_SIZE=str(WORLD))
    assert init_from_env(backend="gloo") and dist.get_backend() == "gloo"
    try:
        layer, inputs = _layer_and_inputs()
        local_b = GLOBAL_B // WORLD
        local = inputs[:, rank_ * local_b:(rank_ + 1) * local_b]  # (3, B_local, D_IN)
        loss = _loss(layer, local, gather=True)
        loss.backward()
        grads = [p.grad.clone() for p in layer.parameters()]
        for g in grads:
            dist.all_reduce(g, op=dist.ReduceOp.SUM)
        losses = [torch.zeros((), dtype=torch.float64) for _ in range(WORLD)]
        dist.all_gather(losses, loss.detach())
        unequal_error = _unequal_batch_error(rank_)
        if rank_ == 0:
            torch.save({"losses": losses, "grads": grads, "unequal_error": unequal_error,
                        "world": (world_size(), rank())}, out_file)
    finally:
        dist.destroy_process_group()


def _unequal_batch_error(rank_: int) -> str:
    try:
        gather_with_grad(torch.zeros(2 + rank_, D_OUT))
    except ValueError as err:
        return str(err)
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_equal_single_process(tmp_path: Path) -> None:
    out_file = tmp_path / "rank0.pt"
    mp.spawn(_worker, args=(_free_port(), str(out_file)), nprocs=WORLD, join=True)
    result = torch.load(out_file)

    layer, inputs = _layer_and_inputs()
    expected_loss = _loss(layer, inputs, gather=False)
    expected_loss.backward()

    for loss in result["losses"]:  # every rank computed the global loss
        torch.testing.assert_close(loss, expected_loss.detach(), rtol=0, atol=1e-10)
    for got, param in zip(result["grads"], layer.parameters()):
        torch.testing.assert_close(got, param.grad, rtol=0, atol=1e-6)
    assert result["world"] == (WORLD, 0)
    assert "same (B, D) shape" in result["unequal_error"] and "rank 1: (3, 5)" in result["unequal_error"]


@pytest.mark.parametrize("env_world", [None, "1"])
def test_identity_without_process_group(monkeypatch: pytest.MonkeyPatch, env_world: str | None) -> None:
    if env_world is None:
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("WORLD_SIZE", env_world)
    assert init_from_env() is False
    assert not is_distributed() and world_size() == 1 and rank() == 0
    x = torch.randn(4, 3, requires_grad=True)
    assert gather_with_grad(x) is x


# --- the one loop under two processes: batch_size is global -----------------------------------------

N_ROWS, STEPS = 16, 4


class _Rows:
    """Row indices as the loop's dataset; the objective looks the vectors up."""

    def __len__(self) -> int:
        return N_ROWS

    def batch(self, indices):  # noqa: ANN001, ANN201
        from sentemb.objectives.base import TextBatch

        return TextBatch(sentences=[str(int(i)) for i in indices])


def _objective():  # noqa: ANN202
    from sentemb.losses.base import LossOutput
    from sentemb.objectives.base import Objective

    class Vectors(Objective):
        """A linear encoder of fixed vectors; two views (x and a shifted x), gathered like SimCSE."""

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.register_buffer("x", torch.randn(N_ROWS, D_IN))
            self.layer = nn.Linear(D_IN, D_OUT)
            self.loss = InfoNCELoss(temperature=0.1)

        def forward(self, batch) -> LossOutput:  # noqa: ANN001
            idx = torch.tensor([int(s) for s in batch.sentences])
            a, p = self.layer(self.x[idx]), self.layer(1.1 * self.x[idx] + 0.05)
            out = self.loss(batch=EmbeddingBatch(gather_with_grad(a), gather_with_grad(p)))
            return LossOutput(out.total, out.stats | {"rows": torch.tensor(float(len(idx)))})

    return Vectors()


def _train(out: Path) -> dict[str, torch.Tensor]:
    from sentemb.config import TrainConfig
    from sentemb.layout import RunFiles
    from sentemb.training.loop import Hooks, train

    objective = _objective()
    # no clipping and no weight decay: with Adam, the 1/W of averaged gradients then changes only
    # eps's share of the update (DDP semantics, docs/methods.md §1.4)
    cfg = TrainConfig(batch_size=8, epochs=2, lr=1e-2, eval_steps=None, save_steps=None, max_grad_norm=1e9)
    files = RunFiles(out / "m.json", out / "d.json", steps=out / "steps.jsonl")
    hooks = Hooks(lambda: {"stsb_dev": 0.0}, lambda step, score: None)
    summary = train(objective, _Rows(), cfg, files, out / "ckpt.pt", hooks)  # type: ignore[arg-type]
    assert summary["steps"] == STEPS
    return {k: v.detach().clone() for k, v in objective.state_dict().items()}


def _loop_worker(rank_: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank_),
                      LOCAL_RANK=str(rank_), WORLD_SIZE=str(WORLD))
    assert init_from_env(backend="gloo")
    try:
        state = _train(Path(out) / f"rank{rank_}")
        if rank_ == 0:
            torch.save(state, Path(out) / "state.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_train_on_the_global_batch_of_one(tmp_path: Path) -> None:
    """batch_size 8 under 2 ranks: each rank encodes 4 rows, the loss sees the same 8 rows a
    single process sees at that step, and the parameters follow the single-process run."""
    mp.spawn(_loop_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    two = torch.load(tmp_path / "state.pt")
    one = _train(tmp_path / "single")
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5)
    import json

    rows = [json.loads(line) for line in (tmp_path / "rank0" / "steps.jsonl").read_text().splitlines()]
    assert [r["rows"] for r in rows] == [4.0] * STEPS  # rows each rank encoded
    single = [json.loads(line) for line in (tmp_path / "single" / "steps.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in rows] == pytest.approx([r["loss"] for r in single], rel=1e-5)  # same global loss
    assert not (tmp_path / "rank1" / "steps.jsonl").exists()  # rank 0 logs
