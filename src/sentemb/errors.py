"""User-facing errors: each renders as one line that names the file and line or the parameter."""

from __future__ import annotations

from pathlib import Path


class SentembError(Exception):
    """An error caused by input or configuration; the CLI prints it as one line and exits 2."""


class ConfigError(SentembError):
    """A bad key, type or name in params.yaml or on the command line."""


class DataError(SentembError):
    """A missing, corrupt or malformed data file.

    Rendered as ``file:line: reason`` when a line is known, else ``file: reason``.
    """

    def __init__(self, path: str | Path, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")
