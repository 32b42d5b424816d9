"""One device choice for the whole package: CUDA when present, else CPU.

Training, evaluation, the analysis stage and pair scoring all call ``pick_device``, so a GPU
user gets the GPU everywhere and a CPU machine never needs a flag. ``SENTEMB_DEVICE`` (e.g.
``cpu`` or ``cuda:1``) overrides the choice; under ``torchrun`` each process uses the GPU of
its ``LOCAL_RANK`` (set by ``training.distributed.init_from_env``).
"""

from __future__ import annotations

import os

import torch

from sentemb.errors import ConfigError


def pick_device() -> torch.device:
    """``$SENTEMB_DEVICE`` if set, else the current CUDA device if any, else the CPU."""
    wanted = os.environ.get("SENTEMB_DEVICE")
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError:
            raise ConfigError(f"SENTEMB_DEVICE: '{wanted}' is not a torch device (e.g. cpu, cuda, cuda:1)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"SENTEMB_DEVICE: '{wanted}' asked for CUDA, which is not available here")
        return device
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
