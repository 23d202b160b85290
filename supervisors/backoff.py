"""Backoff: how long to wait before a restart or a retry, growing with each failure in a row.

A strategy is a small value: ``delay(n)`` is a pure function of the attempt
number (and an injectable random source), and ``next(state, now)`` reads a
child's backoff record and the clock's reading and returns the delay and the
new record. A child that ran ``reset_after`` seconds without failing starts
over from the smallest delay.
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass, replace

__all__ = [
    "BackoffState",
    "BackoffStrategy",
    "ConstantBackoffStrategy",
    "ExponentialBackoffStrategy",
]


@dataclass(frozen=True)
class BackoffState:
    """One child's failures in a row and when (monotonic seconds) it last started."""

    attempts: int = 0
    last_start: float = 0.0

    def started(self, now: float) -> BackoffState:
        """The record after the child started (again) at ``now``."""
        return replace(self, last_start=now)


class BackoffStrategy:
    """Base of the backoff strategies."""

    reset_after: float = math.inf

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 0)."""
        raise NotImplementedError

    def next(self, state: BackoffState, now: float) -> tuple[float, BackoffState]:
        """The delay before the next restart of a child that failed at ``now``, and its new record."""
        quiet = now - state.last_start >= self.reset_after
        attempt = 0 if quiet else state.attempts
        return self.delay(attempt), replace(state, attempts=attempt + 1)


class ExponentialBackoffStrategy(BackoffStrategy):
    """Delay n = min(max_delay, min_delay * factor**n) * (1 + U[0,1) * jitter).

    Jitter spreads the restarts of children that failed together (a shared
    outage) so they do not all hit the recovering service at once; with it a
    delay may exceed ``max_delay`` by up to that fraction. ``reset_after``
    defaults to the middle of the range, as Akka's typed backoff does.
    """

    def __init__(
        self,
        min_delay: float,
        max_delay: float,
        factor: float = 2.0,
        jitter: float = 0.2,
        reset_after: float | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        _require_number("min_delay", min_delay, at_least=0.0)
        _require_number("max_delay", max_delay, at_least=min_delay)
        _require_number("factor", factor, at_least=1.0)
        _require_number("jitter", jitter, at_least=0.0)
        if reset_after is not None:
            _require_number("reset_after", reset_after, at_least=0.0)
        if not callable(random):
            raise TypeError(f"random must be a callable returning a float in [0, 1), got {random!r}")
        self.min_delay = float(min_delay)
        self.max_delay = float(max_delay)
        self.factor = float(factor)
        self.jitter = float(jitter)
        middle = (self.min_delay + self.max_delay) / 2
        self.reset_after = middle if reset_after is None else float(reset_after)
        self._random = random

    def delay(self, attempt: int) -> float:
        if attempt < 0:
            raise ValueError(f"attempt counts from 0, got {attempt}")
        return self.base_delay(attempt) * (1.0 + self._random() * self.jitter)

    def base_delay(self, attempt: int) -> float:
        """The delay before jitter: min(max_delay, min_delay * factor**attempt)."""
        if self.min_delay == 0.0:
            return 0.0
        # Compare in logarithms: factor**attempt overflows a float long before attempts run out.
        if math.log(self.min_delay) + attempt * math.log(self.factor) >= math.log(self.max_delay):
            return self.max_delay
        return min(self.max_delay, self.min_delay * self.factor**attempt)

    def __repr__(self) -> str:
        return (
            f"ExponentialBackoffStrategy(min_delay={self.min_delay:g}, max_delay={self.max_delay:g}, "
            f"factor={self.factor:g}, jitter={self.jitter:g}, reset_after={self.reset_after:g})"
        )


class ConstantBackoffStrategy(BackoffStrategy):
    """The same delay every time (0 restarts at once, as OTP does)."""

    def __init__(self, delay: float = 0.0, reset_after: float = math.inf) -> None:
        _require_number("delay", delay, at_least=0.0)
        _require_number("reset_after", reset_after, at_least=0.0)
        self._delay = float(delay)
        self.reset_after = float(reset_after)

    def delay(self, attempt: int) -> float:
        if attempt < 0:
            raise ValueError(f"attempt counts from 0, got {attempt}")
        return self._delay

    def __repr__(self) -> str:
        return f"ConstantBackoffStrategy(delay={self._delay:g})"


def _require_number(name: str, value: object, *, at_least: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isnan(value)
        or value < at_least
    ):
        raise ValueError(f"{name} must be a number >= {at_least:g}, got {value!r}")
