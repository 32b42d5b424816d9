"""Logging set-up, done once by each entry point (stages and the ``sentemb`` CLI)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable


def configure(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )


def run_entry_point(main: Callable[[], None]) -> None:
    """Run ``main``; a SentembError becomes one line on stderr and exit status 2.

    Anything else is a bug and keeps its traceback.
    """
    from sentemb.errors import SentembError

    configure()
    try:
        main()
    except SentembError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None
