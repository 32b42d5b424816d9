"""The stages of a dvc.yaml as DVC itself expands them (matrix and ``${...}`` resolved), reduced to
plain data for tests/test_dvc_deps.py and tests/test_layout.py.

Only dvc.yaml (and the params file it interpolates) is read: what a stage declares, never what a
dvc.lock recorded (DVC's stage loader is given no lock data). Paths are relative to the directory
of the dvc.yaml, so a copy of the file in a temporary directory describes the same project.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Out:
    path: str
    metric: bool
    plot: bool
    persist: bool
    cache: bool


@dataclass(frozen=True)
class Stage:
    name: str
    cmd: str
    deps: tuple[str, ...]  # file and directory deps, as written
    params: tuple[tuple[str, tuple[str, ...]], ...]  # (params file, keys); no keys = the whole file
    outs: tuple[Out, ...]  # outs, metrics and plots

    @property
    def kind(self) -> str:
        """``train`` for ``train@simcse_unsup-minilm-42``; the name itself for a plain stage."""
        return self.name.split("@", 1)[0]

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.cmd)

    def option(self, flag: str) -> str | None:
        """The value the cmd passes for ``--flag`` (``--flag value`` or ``--flag=value``)."""
        argv = self.argv
        for i, arg in enumerate(argv):
            if arg == flag and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
        return None

    @property
    def script(self) -> str | None:
        """The Python script the cmd runs (the first ``*.py`` argument), or None."""
        return next((arg for arg in self.argv if arg.endswith(".py")), None)


def load_stages(project: Path) -> dict[str, Stage]:
    """Every stage of ``project``'s dvc.yaml, by name (``train@simcse_unsup-minilm-42``), as DVC
    expands it; no lock data is passed to DVC's loader, so a dvc.lock is never read."""
    from dvc.dependency.param import ParamsDependency
    from dvc.dvcfile import load_file
    from dvc.repo import Repo
    from dvc.stage.loader import StageLoader

    out: dict[str, Stage] = {}
    # uninitialized: a copy of dvc.yaml in a temporary directory has no .dvc/ and no Git
    with Repo(str(project), uninitialized=True) as repo:
        dvcfile = load_file(repo, os.path.join(repo.root_dir, "dvc.yaml"))

        def rel(fs_path: str) -> str:
            return Path(os.path.relpath(fs_path, repo.root_dir)).as_posix()

        for stage in StageLoader(dvcfile, dvcfile.contents).values():
            deps = tuple(rel(d.fs_path) for d in stage.deps if not isinstance(d, ParamsDependency))
            params = tuple((rel(d.fs_path), tuple(d.params or ())) for d in stage.deps
                           if isinstance(d, ParamsDependency))
            outs = tuple(Out(rel(o.fs_path), bool(o.metric), bool(o.plot), bool(o.persist), bool(o.use_cache))
                         for o in stage.outs)
            cmd = stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd)
            out[stage.name] = Stage(stage.name, cmd, deps, params, outs)
    return out
