"""The project modules a stage script imports, transitively (static: every ``import`` statement,
also those inside functions), and the smallest list of files and package directories that
covers exactly them: what its ``deps`` in dvc.yaml must be (tests/test_dvc_deps.py).

Run ``python tests/import_closure.py`` to print that list for every stage script, and
``python tests/import_closure.py --write`` to rewrite the code deps of every stage in dvc.yaml
in place (the ``stages/`` and ``src/`` lines of each deps list; nothing else is touched).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "sentemb"


def module_file(name: str) -> Path | None:
    """The file of module ``sentemb.x.y`` (a package's ``__init__.py``), or None if not ours."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from pkg import module`
    return names


def _with_parents(name: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a/__init__``, ``a/b/__init__`` and ``a/b/c``."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(script: Path) -> set[Path]:
    """Every project file executed when ``script`` runs (modules and their packages' __init__)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        for name in _imported(path):
            for part in _with_parents(name):
                file = module_file(part)
                if file is not None and file not in seen:
                    seen.add(file)
                    todo.append(file)
    return seen


def package_files(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*.py") if "__pycache__" not in p.parts}


def covering_deps(files: set[Path]) -> list[str]:
    """The files, with every package directory whose .py files are all in ``files`` collapsed to
    the directory (outermost first), as paths relative to the repository root."""
    out: list[str] = []
    covered: set[Path] = set()
    packages = sorted({p.parent for p in SRC.joinpath(PACKAGE).rglob("__init__.py")}, key=lambda p: len(p.parts))
    for pkg in packages:
        if pkg == SRC / PACKAGE:
            continue  # the whole package is never one stage's dependency
        members = package_files(pkg)
        if members <= files and not members <= covered:
            out.append(str(pkg.relative_to(ROOT)))
            covered |= members
    out += sorted(str(f.relative_to(ROOT)) for f in files - covered)
    return sorted(out)


def expand(deps: list[str]) -> set[Path]:
    """Project .py files named by dvc.yaml deps (directories expanded)."""
    out: set[Path] = set()
    for dep in deps:
        path = ROOT / dep
        if path.is_dir() and path.is_relative_to(SRC):
            out |= package_files(path)
        elif path.suffix == ".py" and path.is_relative_to(SRC):
            out.add(path)
    return out


_SCRIPT = re.compile(r"python (stages/\w+\.py)")
_CODE_DEP = re.compile(r"^(\s*)- (stages|src)/")


def rewrite_code_deps(dvc_yaml: str) -> str:
    """``dvc_yaml`` with each stage's code deps replaced by its script's closure: the run of
    ``- stages/...`` / ``- src/...`` lines under ``deps:`` of the stage whose cmd names the script."""
    out: list[str] = []
    script: str | None = None
    lines = dvc_yaml.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        found = _SCRIPT.search(line)
        script = found.group(1) if found else script
        code = _CODE_DEP.match(line)
        if code and script is not None:
            while i < len(lines) and _CODE_DEP.match(lines[i]):
                i += 1
            out += [f"{code.group(1)}- {d}\n" for d in [script, *covering_deps(closure(ROOT / script))]]
            script = None
            continue
        out.append(line)
        i += 1
    return "".join(out)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        target = ROOT / "dvc.yaml"
        target.write_text(rewrite_code_deps(target.read_text(encoding="utf-8")), encoding="utf-8")
        sys.exit(0)
    for script in sorted((ROOT / "stages").glob("*.py")):
        print(f"{script.name}:")
        for dep in covering_deps(closure(script)):
            print(f"  - {dep}")
    sys.exit(0)
