"""ProgressBar: one line redrawn in place on a terminal, a line every few seconds elsewhere."""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """``update(done, note)`` draws ``label [#####-----] done/total  note``."""

    def __init__(self, out: TextIO, label: str, total: int, *, width: int = 28, every: float = 5.0) -> None:
        self.out = out
        self.label = label
        self.total = max(1, total)
        self.width = width
        self.every = every
        self._tty = out.isatty()
        self._started = time.monotonic()
        self._last = -every
        self._drawn = False

    def update(self, done: int, note: str = "") -> None:
        elapsed = time.monotonic() - self._started
        filled = min(self.width, self.width * done // self.total)
        line = (f"{self.label:<24} [{'#' * filled}{'-' * (self.width - filled)}] {done:>6}/{self.total:<6} "
                f"{elapsed:6.1f}s  {note}").rstrip()
        if self._tty:
            print("\r" + line + "\x1b[K", end="", file=self.out, flush=True)
            self._drawn = True
        elif elapsed - self._last >= self.every:
            print(line, file=self.out, flush=True)
            self._last = elapsed

    def close(self, note: str = "") -> None:
        """Finish the bar's line (with a last note)."""
        elapsed = time.monotonic() - self._started
        if self._tty and self._drawn:
            print("", file=self.out, flush=True)
        if note:
            print(f"{self.label:<24} {note} ({elapsed:.1f} s)", file=self.out, flush=True)
