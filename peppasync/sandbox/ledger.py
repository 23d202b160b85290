"""The ledger: what a simulator received, when, how long it took and how it ended."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from peppasync.clock import Clock

__all__ = ["Ledger", "LedgerEntry"]


@dataclass(frozen=True)
class LedgerEntry:
    """One request as the simulator saw it; `key` names what it was about (an order, a SKU)."""

    service: str
    method: str
    path: str
    started: float
    duration: float
    status: int
    outcome: str
    key: str = ""
    detail: str = ""


class Ledger:
    """Requests, outcomes and concurrency over time for one simulated service.

    Safe to share between greenlets and threads. `outcome` is a short word
    ("ok", "throttled", "unauthorized", "invalid", "duplicate", "error", ...).
    """

    def __init__(self, service: str, clock: Clock) -> None:
        self.service = service
        self._clock = clock
        self._cond = threading.Condition()
        self._entries: list[LedgerEntry] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._series: list[tuple[float, int]] = []
        self._events: Counter[str] = Counter()
        # Told (outside the lock) after every finished request or noted event.
        self.listeners: list[Callable[[], object]] = []

    def begin(self) -> float:
        """Count a request in flight; returns its start time for `end`."""
        with self._cond:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            now = self._clock.time()
            self._series.append((now, self._in_flight))
            self._cond.notify_all()
            return now

    def clock_time(self) -> float:
        """Now, by the ledger's clock: the start of a request that `begin` did not count."""
        return self._clock.time()

    def end(self, started: float, method: str, path: str, status: int, outcome: str,
            key: str = "", detail: str = "", in_flight: bool = True) -> LedgerEntry:
        """Record a finished request (and take it out of flight if `begin` counted it)."""
        with self._cond:
            now = self._clock.time()
            if in_flight:
                self._in_flight -= 1
                self._series.append((now, self._in_flight))
            entry = LedgerEntry(self.service, method, path, started, now - started, status,
                                outcome, key, detail)
            self._entries.append(entry)
            self._cond.notify_all()
        for listener in self.listeners:
            listener()
        return entry

    def note(self, event: str, count: int = 1) -> None:
        """Count something that is not a request (a webhook dropped, stock consumed)."""
        with self._cond:
            self._events[event] += count
            self._cond.notify_all()
        for listener in self.listeners:
            listener()

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        with self._cond:
            return self._max_in_flight

    def entries(self, outcome: str | None = None) -> list[LedgerEntry]:
        """The requests so far, optionally only those with one outcome."""
        with self._cond:
            return [e for e in self._entries if outcome is None or e.outcome == outcome]

    def outcomes(self) -> dict[str, int]:
        """How many requests ended with each outcome."""
        with self._cond:
            return dict(Counter(e.outcome for e in self._entries))

    def events(self) -> dict[str, int]:
        with self._cond:
            return dict(self._events)

    def concurrency_series(self) -> list[tuple[float, int]]:
        """(time, requests in flight) at every change."""
        with self._cond:
            return list(self._series)

    def wait_until(self, predicate: Callable[[Ledger], bool], timeout: float) -> bool:
        """Block until `predicate(self)` holds (re-checked on every change); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def snapshot(self, detail: bool = True) -> dict[str, Any]:
        """Everything above as JSON-ready data; without `detail`, only the counts."""
        with self._cond:
            if not detail:
                return {"service": self.service, "requests": len(self._entries),
                        "outcomes": dict(Counter(e.outcome for e in self._entries)), "events": dict(self._events),
                        "in_flight": self._in_flight, "max_in_flight": self._max_in_flight}
            return {
                "service": self.service,
                "requests": len(self._entries),
                "outcomes": dict(Counter(e.outcome for e in self._entries)),
                "events": dict(self._events),
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "concurrency": [list(point) for point in self._series],
                "entries": [asdict(e) for e in self._entries],
            }
