"""Schedulers: run a callback after a delay, on gevent's timers or on a clock a test moves.

The supervisor never sleeps: a delayed restart is a callback that tells the
supervisor a restart is due. ``ManualScheduler`` runs due callbacks only when
a test advances its ``ManualClock``, so backoff is tested without waiting.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Protocol

import gevent

from peppasync.clock import ManualClock

__all__ = ["GeventScheduler", "ManualScheduler", "Scheduled", "Scheduler"]

log = logging.getLogger("peppasync.supervisors")


class Scheduled(Protocol):
    """A callback waiting to run; ``cancel`` makes sure it never does."""

    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Runs ``callback()`` once, ``delay`` seconds from now."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Scheduled: ...


class _GeventCall:
    __slots__ = ("_greenlet",)

    def __init__(self, greenlet: gevent.Greenlet) -> None:
        self._greenlet = greenlet

    def cancel(self) -> None:
        self._greenlet.kill(block=False)


class GeventScheduler:
    """The real scheduler: each callback runs on its own greenlet from a gevent timer."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Scheduled:
        if delay < 0:
            raise ValueError(f"a delay cannot be negative, got {delay!r}")
        return _GeventCall(gevent.spawn_later(delay, _run, callback))


class _ManualCall:
    __slots__ = ("callback", "cancelled", "due")

    def __init__(self, due: float, callback: Callable[[], None]) -> None:
        self.due = due
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualScheduler:
    """A scheduler driven by a ``ManualClock``: ``advance`` moves time and runs what fell due.

    Callbacks run in the caller's greenlet, in due order (ties in the order
    they were scheduled), and only from ``run_due`` or ``advance``.
    """

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._queue: list[tuple[float, int, _ManualCall]] = []
        self._seq = itertools.count()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Scheduled:
        if delay < 0:
            raise ValueError(f"a delay cannot be negative, got {delay!r}")
        call = _ManualCall(self.clock.monotonic() + delay, callback)
        heapq.heappush(self._queue, (call.due, next(self._seq), call))
        return call

    def pending(self) -> list[float]:
        """Seconds until each waiting callback is due, soonest first."""
        now = self.clock.monotonic()
        return sorted(call.due - now for _, _, call in self._queue if not call.cancelled)

    def run_due(self) -> int:
        """Run every callback due by now; returns how many ran."""
        ran = 0
        now = self.clock.monotonic()
        while self._queue and self._queue[0][0] <= now:
            _, _, call = heapq.heappop(self._queue)
            if not call.cancelled:
                ran += 1
                _run(call.callback)
        return ran

    def advance(self, seconds: float) -> int:
        """Move the clock forward and run what fell due; returns how many ran."""
        self.clock.advance(seconds)
        return self.run_due()


def _run(callback: Callable[[], None]) -> None:
    # A timer's greenlet has nobody to report to: log, never propagate. (A
    # GreenletExit here is a cancel, which gevent already treats as a clean end.)
    try:
        callback()
    except (Exception, gevent.Timeout):
        log.exception("scheduled callback failed")
