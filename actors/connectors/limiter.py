"""ConcurrencyLimiter: at most ``limit`` calls in flight, the rest wait in FIFO order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import gevent.event

__all__ = ["ConcurrencyLimiter"]


class ConcurrencyLimiter:
    """A counting gate whose limit can change at runtime and which can be paused.

    Waiters park on their own ``gevent.event.Event`` and are admitted strictly in
    arrival order, so a waiting greenlet only yields to the hub and never blocks it.
    Pausing stops admissions (calls in flight finish); nothing is dropped.
    ``on_inflight`` is told every change of the in-flight count.
    """

    def __init__(self, limit: int, *, on_inflight: Callable[[int], None] | None = None) -> None:
        if limit < 1:
            raise ValueError(f"a concurrency limit must be at least 1, got {limit}")
        self._limit = limit
        self._inflight = 0
        self._paused = False
        self._waiters: deque[gevent.event.Event] = deque()
        self._on_inflight = on_inflight or (lambda n: None)

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def inflight(self) -> int:
        return self._inflight

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def paused(self) -> bool:
        return self._paused

    def set_limit(self, limit: int) -> None:
        """Change the limit; a raise admits waiters at once, a cut lets calls in flight finish."""
        if limit < 1:
            raise ValueError(f"a concurrency limit must be at least 1, got {limit}")
        self._limit = limit
        self._admit()

    def pause(self) -> None:
        """Admit nothing until ``resume``; callers keep waiting in order."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._admit()

    def acquire(self) -> None:
        """Wait (cooperatively) for a slot."""
        if not self._paused and not self._waiters and self._inflight < self._limit:
            self._take()
            return
        ticket = gevent.event.Event()
        self._waiters.append(ticket)
        try:
            ticket.wait()
        except BaseException:
            # Killed while waiting: give the slot back if it was already handed over.
            if ticket.is_set():
                self.release()
            else:
                self._waiters.remove(ticket)
            raise

    def release(self) -> None:
        self._inflight -= 1
        self._on_inflight(self._inflight)
        self._admit()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the duration of the block."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def _take(self) -> None:
        self._inflight += 1
        self._on_inflight(self._inflight)

    def _admit(self) -> None:
        while not self._paused and self._waiters and self._inflight < self._limit:
            self._take()
            self._waiters.popleft().set()
