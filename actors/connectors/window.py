"""RequestWindow: a client-side model of a fixed request window (``X-Rate-Limit-*`` headers)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from peppasync.clock import Clock

__all__ = ["RequestWindow"]


def _number(headers: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        value = headers.get(name)
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None
    return None


class RequestWindow:
    """Waits for the window to reset instead of sending into a 429.

    Each response's ``X-Rate-Limit-Limit/Remaining/Reset`` (or the lowercase
    ``x-ratelimit-*`` variants) resets the model; each admitted call spends one
    request locally until the next report. Before the first report nothing waits.
    """

    def __init__(self, clock: Clock, sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self.limit: int | None = None
        self.remaining: int | None = None
        self._reset_at = 0.0

    def observe(self, headers: Mapping[str, str]) -> None:
        limit = _number(headers, "X-Rate-Limit-Limit", "x-ratelimit-limit")
        remaining = _number(headers, "X-Rate-Limit-Remaining", "x-ratelimit-remaining")
        reset = _number(headers, "X-Rate-Limit-Reset", "x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        self.limit = int(limit) if limit is not None else self.limit
        self.remaining = int(remaining)
        self._reset_at = self._clock.monotonic() + max(0.0, reset)

    def reset_in(self) -> float:
        """Seconds until the window resets (0 when it already has or is unknown)."""
        return max(0.0, self._reset_at - self._clock.monotonic())

    def admit(self) -> None:
        """Wait until the window has room, then spend one request of it."""
        while self.remaining is not None and self.remaining <= 0:
            wait = self.reset_in()
            if wait <= 0:
                # The window has reset: a full one until the next report says otherwise.
                self.remaining = self.limit if self.limit is not None else None
                break
            self._sleep(wait)
        if self.remaining is not None:
            self.remaining -= 1
