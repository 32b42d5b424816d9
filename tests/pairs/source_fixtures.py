"""Helpers for the online pair-source tests (tests/pairs/test_sources_*.py).

Every fixture is a few invented rows in the upstream layout, kept inline in its test module and
written to ``tmp_path`` under the upstream file names at test time; downloads use ``file://``
URLs. pytest puts this directory on ``sys.path`` (rootdir-relative "prepend" imports, no
``__init__.py``), so the test modules import it as ``source_fixtures``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from sentemb.errors import DataError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def line_of(text: str, marker: str) -> int:
    """1-based line of the first occurrence of ``marker`` in ``text``."""
    return text[: text.index(marker)].count("\n") + 1


def zip_dir(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return archive


def raises_at(path: Path, line: int, match: str = ""):
    """``pytest.raises`` for a DataError whose message starts with ``path:line:``."""
    return pytest.raises(DataError, match=rf"^{path}:{line}: .*{match}")
