"""RetryPolicy: exponential backoff with full jitter that honours ``Retry-After``."""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent

from peppasync.clock import Clock, SystemClock

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a connector retries a transient failure.

    Attempt ``n`` (1-based) failed: wait ``uniform(0, min(cap, base * 2**(n-1)))`` (full
    jitter), but never less than the server's ``Retry-After``. Give up after
    ``max_attempts`` tries, or when the next wait would end more than ``budget`` seconds
    after the first try began. ``clock``, ``random`` and ``sleep`` are injected so that
    tests run without waiting.
    """

    max_attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    budget: float = 120.0
    clock: Clock = field(default_factory=SystemClock)
    random: Callable[[], float] = _random.random
    sleep: Callable[[float], None] = gevent.sleep

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(f"need 0 < base <= cap, got base={self.base} cap={self.cap}")
        if self.budget < 0:
            raise ValueError(f"budget must not be negative, got {self.budget}")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        ceiling = min(self.cap, self.base * 2.0 ** (attempt - 1))
        jittered = float(self.random()) * ceiling
        if retry_after is not None and retry_after > jittered:
            return retry_after
        return jittered

    def next_delay(self, attempt: int, started: float, retry_after: float | None = None) -> float | None:
        """The wait before another try, or None when the attempts or the budget are spent."""
        if attempt >= self.max_attempts:
            return None
        wait = self.delay(attempt, retry_after)
        if self.clock.monotonic() + wait - started > self.budget:
            return None
        return wait
