"""What produced an output: the project's own commit (never the caller's directory) and versions.

The commit is read from the git work tree that holds the imported ``sentemb`` package, so
running a stage or ``sentemb evaluate`` from another repository records this project's commit,
with ``-dirty`` when tracked files of it have uncommitted changes. An installed copy outside a
work tree records no commit and the package version.
"""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import sentemb

PACKAGE_DIR = Path(sentemb.__file__).resolve().parent


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(PACKAGE_DIR), *args], capture_output=True, text=True, check=True,
                             timeout=1800)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


@cache
def project_commit() -> str | None:
    """``<sha>`` or ``<sha>-dirty`` of the work tree holding the package; None outside one."""
    head = _git("rev-parse", "HEAD")
    if not head:
        return None
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return head + ("-dirty" if dirty else "")


def versions() -> dict[str, Any]:
    import numpy
    import scipy
    import torch
    import transformers

    return {"sentemb": sentemb.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "cuda": torch.version.cuda if torch.cuda.is_available() else None}


def device_name(device: Any) -> str:
    """The accelerator's marketing name (``NVIDIA H200``) or the CPU's, for comparing timings."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"
