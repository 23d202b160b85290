"""How late a process's gevent hub wakes a timer: what every ready greenlet and every answer on a socket waits too."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent

__all__ = ["HubLag"]


class HubLag:
    """Samples the hub's lag every ``interval`` seconds from a greenlet of its own while started.

    Each sample is how much later than asked a sleep of ``interval`` ended: one long piece of
    work, or a long round of ready greenlets, before the hub got back to its timers. ``observe``
    is told each sample as it is taken.
    """

    def __init__(self, interval: float = 0.25, observe: Callable[[float], None] | None = None) -> None:
        if not interval > 0:
            raise ValueError(f"the interval must be positive, got {interval!r}")
        self.interval = interval
        self.samples = 0
        self.total = 0.0
        self._observe = observe
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None

    def figures(self) -> dict[str, Any]:
        return {"samples": self.samples, "mean_seconds": self.total / self.samples if self.samples else None}

    def _run(self) -> None:
        while True:
            asked = time.perf_counter()
            gevent.sleep(self.interval)
            lag = max(0.0, time.perf_counter() - asked - self.interval)
            self.samples += 1
            self.total += lag
            if self._observe is not None:
                self._observe(lag)
