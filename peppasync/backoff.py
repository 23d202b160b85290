"""Backoff: how long to wait after the n-th failure in a row; the one rule for every retry and restart.

After failure ``n`` (counted from 1) the ceiling is ``min(cap, base * factor**(n - 1))``
and the wait is drawn from ``[ceiling * (1 - jitter), ceiling)``. ``jitter=1`` is
full jitter: callers that failed together (a shared outage) spread over the whole
interval instead of coming back together to a service that is recovering.
``jitter=0`` waits the ceiling itself. The cap is a real cap: no wait exceeds it.

A server's ``Retry-After`` is a floor: a wait is never shorter than the other side
asked for. ``random`` is injected, so a test chooses the draw.

Used by the connectors' in-handler retries and the durable retries of a failed
message (both through ``peppasync.retry.RetryPolicy``) and by supervisors between
restarts of a crashed child.
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter under a cap."""

    base: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    jitter: float = 1.0
    random: Callable[[], float] = field(default=_random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        _require("base", self.base, at_least=0.0)
        _require("cap", self.cap, at_least=self.base)
        _require("factor", self.factor, at_least=1.0)
        _require("jitter", self.jitter, at_least=0.0)
        if self.jitter > 1.0:
            raise ValueError(f"jitter must be a fraction between 0 and 1, got {self.jitter!r}")
        if not callable(self.random):
            raise TypeError(f"random must be a callable returning a float in [0, 1), got {self.random!r}")

    def ceiling(self, failures: int) -> float:
        """The longest wait after ``failures`` failures in a row: min(cap, base * factor**(failures - 1))."""
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
            raise ValueError(f"failures counts the failures in a row from 1, got {failures!r}")
        if self.base == 0.0:
            return 0.0
        # Compare in logarithms: factor**n overflows a float long before failures run out.
        if math.log(self.base) + (failures - 1) * math.log(self.factor) >= math.log(self.cap):
            return float(self.cap)
        return min(float(self.cap), self.base * self.factor ** (failures - 1))

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after ``failures`` failures in a row, never less than ``retry_after``."""
        ceiling = self.ceiling(failures)
        wait = ceiling * (1.0 - self.jitter * (1.0 - float(self.random())))
        if retry_after is not None and retry_after > wait:
            return float(retry_after)
        return wait


def _require(name: str, value: object, *, at_least: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isnan(value)
        or value < at_least
    ):
        raise ValueError(f"{name} must be a number >= {at_least:g}, got {value!r}")
