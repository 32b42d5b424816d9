"""benchmarks/gpu_check.sh: the dry run (CPU, tiny model) prints every measurement line with a finite
number, or "n/a" where only CUDA has one; the full check on a GPU (``-m gpu``); the peak table."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PEAK_ENV = "SENTEMB_PEAK_BF16_TFLOPS"
# Every line the check measures something on, as "<key>: <number> ...".
LINES = ("train ours", "train ours (no grad diagnostics)", "train ours (no grad diagnostics, short epoch)",
         "train sentence-transformers", "speedup", "train tokens", "train FLOPs", "peak bf16", "train MFU",
         "train peak memory", "encode fp32", "encode bf16", "encode bf16 vs fp32 cosine distance",
         "encode peak memory")
CUDA_ONLY = ("peak bf16", "train MFU", "train peak memory", "encode peak memory")  # "n/a ..." on the CPU
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def run_check(*args: str) -> dict[str, str]:
    """The check's stdout as {key: rest of the line}; the timeout only stops a hang."""
    env = {k: v for k, v in os.environ.items() if k not in (PEAK_ENV, "DRY")} | {"PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout)
    return dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)


def number(out: dict[str, str], key: str) -> float:
    match = NUMBER.match(out[key])
    assert match, f"{key}: no number in {out[key]!r}"
    value = float(match.group())
    assert math.isfinite(value), f"{key}: {value}"
    return value


def check_lines(out: dict[str, str], cuda: bool) -> None:
    missing = [key for key in LINES if key not in out]
    assert not missing, f"missing lines: {missing}"
    for key in LINES:
        if key in CUDA_ONLY and not cuda:
            assert out[key].startswith("n/a"), f"{key}: {out[key]}"
        else:
            number(out, key)
    assert re.fullmatch(r"\d+\.\d\d", out["speedup"].split()[0]), out["speedup"]
    for key in ("train ours", "train sentence-transformers", "encode fp32", "encode bf16", "train FLOPs"):
        assert number(out, key) > 0, key
    assert out["sentences"].startswith(("wiki: ", "synthetic: "))


def test_dry_run_prints_every_line() -> None:
    out = run_check("--dry")
    assert out["device"].startswith("cpu")
    check_lines(out, cuda=False)
    assert "n/a on CPU" in out["train MFU"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_full_check_on_gpu() -> None:
    out = run_check()
    assert out["device"].startswith("cuda"), out["device"]
    assert not out["peak bf16"].startswith("n/a"), f"{out['peak bf16']} (set {PEAK_ENV} for this GPU)"
    check_lines(out, cuda=True)
    assert 0 < number(out, "train MFU") < 100
    assert number(out, "train peak memory") > 0 and number(out, "encode peak memory") > 0


def gpu_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.parametrize(("name", "tflops"), [
    ("NVIDIA H200", 989), ("NVIDIA H100 80GB HBM3", 989), ("NVIDIA H100 PCIe", 756), ("NVIDIA H200 NVL", 835),
    ("NVIDIA GH200 480GB", 989), ("NVIDIA A100-SXM4-80GB", 312), ("NVIDIA L4", 121), ("NVIDIA L40S", 362),
    ("NVIDIA A10", 125), ("NVIDIA A10G", None), ("Tesla V100-SXM2-16GB", None),
])
def test_peak_table(monkeypatch: pytest.MonkeyPatch, name: str, tflops: float | None) -> None:
    module = gpu_check()
    monkeypatch.delenv(PEAK_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    assert module.peak_tflops(torch.device("cuda", 0))[0] == tflops


def test_peak_override_and_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    module = gpu_check()
    monkeypatch.delenv(PEAK_ENV, raising=False)
    assert module.peak_tflops(torch.device("cpu")) == (None, "n/a on CPU")
    monkeypatch.setenv(PEAK_ENV, "123.5")
    assert module.peak_tflops(torch.device("cpu"))[0] == 123.5
