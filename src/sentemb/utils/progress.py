"""Progress of long work on stderr: a tqdm bar on a terminal, a line every few percent elsewhere.

Encoding, training, transfer fits and pair epochs can run for hours. On a terminal they show a
live bar (rate and ETA); when stderr is not a terminal (CI, DVC logs, ``nohup``), a bar would fill
the log with carriage returns, so one INFO line is written each time another ``every`` percent
is done, with the rate and the ETA. ``SENTEMB_PROGRESS=0`` silences both.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

log = logging.getLogger("sentemb.progress")


def _fmt_eta(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class Progress:
    """Count ``total`` units of work; ``update(n, **postfix)`` after each chunk, ``close()`` at the end."""

    def __init__(self, total: int, desc: str, unit: str = "it", initial: int = 0, every: int = 10) -> None:
        self.total, self.desc, self.unit, self.every = max(int(total), 0), desc, unit, every
        self.done, self.start_done, self.started = initial, initial, time.perf_counter()
        self.next_pct = (initial * 100 // self.total // every + 1) * every if self.total else 100
        self.bar: Any = None
        enabled = os.environ.get("SENTEMB_PROGRESS", "1") != "0" and self.total > 0
        self.quiet = not enabled
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=initial, desc=desc, unit=unit, file=sys.stderr,
                            dynamic_ncols=True, mininterval=0.5, leave=False)

    def update(self, n: int = 1, **postfix: float | None) -> None:
        self.done += n
        shown = {k: f"{v:.4g}" for k, v in postfix.items() if v is not None}
        if self.bar is not None:
            self.bar.update(n)
            if shown:
                self.bar.set_postfix(shown, refresh=False)
            return
        if self.quiet or self.done * 100 < self.next_pct * self.total:
            return
        pct = self.done * 100 // self.total
        self.next_pct = (pct // self.every + 1) * self.every
        elapsed = time.perf_counter() - self.started
        rate = (self.done - self.start_done) / max(elapsed, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        extra = "".join(f", {k} {v}" for k, v in shown.items())
        log.info("%s: %d%% (%d/%d %s), %.3g %s/s, ETA %s%s", self.desc, pct, self.done, self.total, self.unit,
                 rate, self.unit, _fmt_eta(eta), extra)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
