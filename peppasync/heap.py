"""Garbage-collector settings for the long-running engine process."""

from __future__ import annotations

import gc

__all__ = ["YOUNG_GENERATION_THRESHOLD", "tune_garbage_collector"]

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
