"""A fixed request window, as ShipStation limits calls per minute."""

from __future__ import annotations

import math
import threading

from peppasync.clock import Clock

__all__ = ["RequestWindow", "WindowDecision"]


class WindowDecision:
    """Whether a request fits, and the `X-Rate-Limit-*` headers that say so."""

    __slots__ = ("allowed", "limit", "remaining", "reset")

    def __init__(self, allowed: bool, limit: int, remaining: int, reset: int) -> None:
        self.allowed = allowed
        self.limit = limit
        self.remaining = remaining
        self.reset = reset

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("X-Rate-Limit-Limit", str(self.limit)),
            ("X-Rate-Limit-Remaining", str(self.remaining)),
            ("X-Rate-Limit-Reset", str(self.reset)),
        ]


class RequestWindow:
    """`limit` requests per window of `seconds`; the window starts with its first request."""

    def __init__(self, limit: int, seconds: float, clock: Clock) -> None:
        if limit < 1 or seconds <= 0:
            raise ValueError(f"a request window needs limit >= 1 and seconds > 0, got {limit}, {seconds}")
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._start: float | None = None
        self._used = 0
        self._lock = threading.Lock()

    def admit(self) -> WindowDecision:
        """Count one request if the window has room; the decision carries the headers."""
        with self._lock:
            now = self._clock.monotonic()
            if self._start is None or now - self._start >= self.seconds:
                self._start = now
                self._used = 0
            reset = max(0, math.ceil(self._start + self.seconds - now))
            if self._used >= self.limit:
                return WindowDecision(False, self.limit, 0, reset)
            self._used += 1
            return WindowDecision(True, self.limit, self.limit - self._used, reset)
