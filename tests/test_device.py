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


# --- every entry point that runs a model takes its device from pick_device ------------------------


@pytest.fixture()
def fake_cuda(cuda: pytest.MonkeyPatch) -> list[torch.device]:
    """CUDA "present", and Module.to recording where models are sent (nothing moves)."""
    moved: list[torch.device] = []
    cuda.setattr(torch.cuda, "is_available", lambda: True)

    def record(self: torch.nn.Module, *args: object, **kwargs: object) -> torch.nn.Module:
        target = args[0] if args else kwargs.get("device")
        if isinstance(target, torch.device):
            moved.append(target)
        return self

    cuda.setattr(torch.nn.Module, "to", record)
    return moved


def test_evaluation_pairs_and_analysis_put_the_model_on_cuda(fake_cuda: list[torch.device], tiny_model_dir) -> None:
    from sentemb.evaluation.runner import EvalRequest, _build_encoder
    from sentemb.pairs.run import _encoder

    _build_encoder(EvalRequest(model=str(tiny_model_dir), pooler="avg"))
    _encoder(tiny_model_dir, "avg")
    assert fake_cuda == [torch.device("cuda", 0)] * 2


def test_no_module_picks_a_device_of_its_own() -> None:
    """One helper decides (utils/device.py); elsewhere models go to ``pick_device()``."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "sentemb"
    bad = [f"{p.relative_to(src)}:{i}" for p in src.rglob("*.py") if p.name != "device.py"
           for i, line in enumerate(p.read_text().splitlines(), 1)
           if not line.lstrip().startswith("#")
           and re.search(r"\.cuda\(\)|\.to\(\s*[\"']cuda|torch\.device\(\s*[\"']cuda", line)]
    assert not bad, bad
