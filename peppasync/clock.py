"""Clocks: the one place that reads time, so tests can inject their own."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "parse_timestamp"]


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 time from an external API as an aware datetime (naive ones are UTC); None if absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Clock(Protocol):
    """Wall time (epoch seconds) and a monotonic reading for intervals."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    # The functions themselves rather than methods that call them: the engine reads the
    # clock several times per message, and a call of a built-in costs no Python frame.
    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)


class ManualClock:
    """A clock that moves only when told to: for tests and simulations."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
        self._mono += seconds
