"""pick_device: CUDA when present, else the CPU; SENTEMB_DEVICE overrides; a one-line error for CUDA
asked for where there is none."""

from __future__ import annotations

import pytest
import torch

from sentemb.errors import ConfigError
from sentemb.utils.device import pick_device


@pytest.fixture()
def cuda(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No SENTEMB_DEVICE; ``cuda.setattr(torch.cuda, "is_available", ...)`` decides whether CUDA exists."""
    monkeypatch.delenv("SENTEMB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    return monkeypatch


def test_cuda_when_available(cuda: pytest.MonkeyPatch) -> None:
    cuda.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda", 0)


def test_cpu_otherwise(cuda: pytest.MonkeyPatch) -> None:
    cuda.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")


@pytest.mark.parametrize(("wanted", "available", "expected"), [
    ("cpu", True, torch.device("cpu")), ("cuda:1", True, torch.device("cuda", 1)), ("cpu", False, torch.device("cpu")),
])
def test_env_overrides(cuda: pytest.MonkeyPatch, wanted: str, available: bool, expected: torch.device) -> None:
    cuda.setattr(torch.cuda, "is_available", lambda: available)
    cuda.setenv("SENTEMB_DEVICE", wanted)
    assert pick_device() == expected


@pytest.mark.parametrize("wanted", ["cuda", "cuda:0", "not-a-device"])
def test_bad_env_is_one_line_config_error(cuda: pytest.MonkeyPatch, wanted: str) -> None:
    cuda.setattr(torch.cuda, "is_available", lambda: False)
    cuda.setenv("SENTEMB_DEVICE", wanted)
    with pytest.raises(ConfigError) as err:
        pick_device()
    assert "SENTEMB_DEVICE" in str(err.value) and "\n" not in str(err.value)
