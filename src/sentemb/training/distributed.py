"""Process-group helpers and the differentiable gather of SimCSE (docs/methods.md §1.4, docs/protocol.md §E).

Without gathering, each DDP rank computes InfoNCE on its own slice, so every anchor sees only
B_local − 1 negatives and the contrastive batch silently shrinks with the number of devices.
``gather_with_grad`` lets every rank build the logits over the global batch.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True when a torch.distributed process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of ranks in the default process group (1 without one)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process's rank in the default process group (0 without one)."""
    return dist.get_rank() if is_distributed() else 0


def init_from_env(backend: str | None = None) -> bool:
    """Join the process group that ``torchrun`` describes in the environment; True if distributed.

    A no-op for a plain single process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) and when a group
    already exists. Reads RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (``env://``) and LOCAL_RANK.
    ``backend`` defaults to NCCL when CUDA is available, else gloo.
    """
    if is_distributed():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        # Each rank owns one GPU, so that a bare torch.device("cuda") means this rank's device.
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, init_method="env://")
    return True


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's (B, D) ``x`` in rank order: (world_size·B, D).

    The identity (the same tensor object) without a process group or with one rank.

    ``all_gather`` is not differentiable, so the gathered copies carry no graph. As in SimCSE's
    ``cl_forward``, the local tensor is put back into its own slot, so gradients flow through the
    local rows only. Every rank then computes the same global loss; rank r's backward yields
    exactly the part of the global-loss gradient that passes through its own rows, so the sum
    over ranks is the single-process gradient on the global batch, and DDP's averaging gives
    that gradient divided by world size (Adam largely absorbs the 1/W; clipping does not).

    All ranks must pass the same shape (equal per-rank batch sizes, e.g. ``drop_last=True``);
    otherwise every rank raises ValueError, together, instead of hanging in the collective.
    """
    if not is_distributed() or world_size() == 1:
        return x
    _check_same_shape(x)
    copies = [torch.empty_like(x) for _ in range(world_size())]  # W × (B, D)
    dist.all_gather(copies, x.detach().contiguous())
    copies[rank()] = x  # the local slice keeps its autograd graph
    return torch.cat(copies, dim=0)  # (W·B, D)


def _check_same_shape(x: torch.Tensor) -> None:
    # Every rank runs the same code, so a wrong number of dimensions fails on all of them.
    if x.ndim != 2:
        raise ValueError(f"gather_with_grad expects a (B, D) tensor, got {tuple(x.shape)}")
    # Unequal batch sizes differ between ranks: all_gather would fail or hang depending on the
    # backend, so exchange the shapes first and let every rank reach the same verdict.
    shape = torch.tensor(x.shape, device=x.device)  # (2,)
    shapes = [torch.empty_like(shape) for _ in range(world_size())]  # W × (2,)
    dist.all_gather(shapes, shape)
    if any(not torch.equal(s, shapes[0]) for s in shapes):
        found = ", ".join(f"rank {r}: {tuple(s.tolist())}" for r, s in enumerate(shapes))
        raise ValueError(f"gather_with_grad needs the same (B, D) shape on every rank; got {found}")
