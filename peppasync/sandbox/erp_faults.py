"""The failures a simulated ERP can be put through, the same for every ERP the sandbox simulates.

``pause()`` holds admitted requests until ``resume()``, like an ERP that stopped answering;
``inject()`` makes every admitted request fail for a while: "5xx" answers 503 or 500 after
the usual latency, "reset" drops the connection unanswered, half of the time after the write
was applied (the answer is lost, not the change). The simulator asks ``current()`` for the
fault in force and waits on ``wait_open()`` before it answers.
"""

from __future__ import annotations

import threading

import gevent.event

from peppasync.clock import Clock

from .ledger import Ledger

__all__ = ["ErpFaults"]


class ErpFaults:
    """Pause and injected faults of one simulated ERP."""

    KINDS = ("5xx", "reset")

    def __init__(self, clock: Clock, ledger: Ledger) -> None:
        self._clock = clock
        self._ledger = ledger
        self._lock = threading.Lock()
        self._open = gevent.event.Event()
        self._open.set()
        self._fault: tuple[str, float] | None = None  # (kind, until), by the clock's monotonic time

    def pause(self) -> None:
        """Hold every admitted request before it is answered (they still count against the limit)."""
        self._open.clear()

    def resume(self) -> None:
        self._open.set()

    def wait_open(self) -> None:
        self._open.wait()

    def inject(self, fault: str, seconds: float) -> None:
        """For the next ``seconds`` (real time), every admitted request fails with ``fault``."""
        if fault not in self.KINDS:
            raise ValueError(f"unknown ERP fault {fault!r}; choose one of {', '.join(self.KINDS)}")
        if not seconds > 0:
            raise ValueError(f"a fault lasts a positive number of seconds, got {seconds!r}")
        with self._lock:
            self._fault = (fault, self._clock.monotonic() + seconds)
        self._ledger.note(f"injected_{fault}")

    def current(self) -> str | None:
        """The fault in force now, if any."""
        with self._lock:
            if self._fault is None or self._clock.monotonic() >= self._fault[1]:
                return None
            return self._fault[0]
