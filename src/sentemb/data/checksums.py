"""Pinned upstream SHA-256 of every SentEval downstream file the pipeline reads (docs/protocol.md §B.4).

The values are those of ``senteval.tar`` from ``princeton-nlp/datasets-for-simcse`` at the pinned
revision (``e145e8b``), taken from the offline mirror's SHA256SUMS, whose ``senteval/downstream``
files are byte-identical to the tarball's. With ``data.strict_upstream`` on, both the hub path and
the mirror path must produce exactly these bytes, so an evaluation number can never silently
come from a different (e.g. the broken 2021-05-03 ``6d3dd71``) copy of the data.

wiki1m / NLI are deliberately absent: the mirror holds a head of wiki1m and a stand-in NLI file,
so for them only the source's own checksums (SHA256SUMS or the hub's LFS sha256) apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sentemb.data.tasks import TASKS
from sentemb.errors import DataError

# Keys are relative to the ``senteval/downstream`` directory; the values live in the task registry.
UPSTREAM_SHA256: dict[str, str] = {f: sha for task in TASKS.values() for split in task.splits.values()
                                   for f, sha in zip(split.files, split.sha256)}


def verify_upstream(downstream_dir: Path, actual: Mapping[str, str]) -> None:
    """Check each file's ``actual`` sha256 (keyed like UPSTREAM_SHA256) against the pinned table.

    A file of the table without an entry in ``actual`` is a bug in the caller, not in the data.
    """
    for rel, expected in UPSTREAM_SHA256.items():
        got = actual[rel]
        if got != expected:
            raise DataError(
                Path(downstream_dir) / rel,
                f"sha256 differs from the pinned upstream senteval.tar: expected {expected}, got {got} "
                "(wrong or modified copy; strict_upstream: false accepts it for test fixtures only)",
            )
