"""Garbage-collector settings for long-running processes, and a meter of the collector's pauses."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["YOUNG_GENERATION_THRESHOLD", "PauseMeter", "full_collections_deferred", "tune_garbage_collector"]

#: Net container allocations before the young generation is collected (CPython's default is 700).
YOUNG_GENERATION_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Collect less often, and never walk again what boot created.

    Tens of thousands of active actors are long-lived containers (greenlets,
    dicts, queues). With CPython's default thresholds the cyclic collector
    walks them over and over under load: about 40% of the engine's CPU in
    ``scripts/bench_engine.py``. Reference counting still frees acyclic garbage
    at once; only cyclic garbage waits longer (a few MB at most). Call it once
    boot is done; calling it again is harmless.
    """
    gc.collect()  # garbage frozen now would never be freed
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)


@contextmanager
def full_collections_deferred() -> Iterator[None]:
    """No full (oldest-generation) collection inside the block; one at its end.

    For a run of bounded length in a process whose heap is nearly all long-lived (a
    benchmark's simulators, which keep every order, record and ledger entry of a run):
    a full collection walks every object the run has made, and stops the process for
    as long: 0.6 to 1.5 s at a time in a surge's sandbox, every simulator and its open
    calls with it. The young generations are collected as before (pauses of a few
    milliseconds with CPython's thresholds; raising them, as ``tune_garbage_collector``
    does, makes them fewer but longer), so cyclic garbage waits at most until the block
    ends.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, 2**31 - 1)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)
        gc.collect()


class PauseMeter:
    """The cyclic collector's pauses in this process while started: how many, their total and the longest.

    Nothing else runs in a process while the collector does, so a pause is time every
    greenlet of it (a server's answers included) waits.
    """

    def __init__(self, *, keep: bool = False) -> None:
        self.count = 0
        self.total = 0.0
        self.longest = 0.0
        self._began: float | None = None
        # With ``keep``: each pause as (generation, seconds), until ``drain`` takes them.
        self._kept: list[tuple[int, float]] | None = [] if keep else None

    def start(self) -> None:
        if self._observe not in gc.callbacks:
            gc.callbacks.append(self._observe)

    def stop(self) -> None:
        if self._observe in gc.callbacks:
            gc.callbacks.remove(self._observe)
        self._began = None

    def figures(self) -> dict[str, Any]:
        return {"count": self.count, "total_seconds": round(self.total, 3), "longest_seconds": round(self.longest, 3)}

    def drain(self) -> list[tuple[int, float]]:
        """The pauses kept since the last drain, as (generation, seconds), oldest first."""
        kept, self._kept = self._kept, [] if self._kept is not None else None
        return kept or []

    def _observe(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector, on whichever thread allocated: no lock may be taken here.
        if phase == "start":
            self._began = time.perf_counter()
        elif self._began is not None:
            pause = time.perf_counter() - self._began
            self._began = None
            self.count += 1
            self.total += pause
            self.longest = max(self.longest, pause)
            if self._kept is not None:
                self._kept.append((int(info.get("generation", 0)), pause))
