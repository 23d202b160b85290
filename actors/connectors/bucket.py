"""CostBucket: a client-side model of Shopify's GraphQL leaky bucket."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import gevent.event

from peppasync.clock import Clock

__all__ = ["CostBucket"]

# Points within this of a cost cover it: a refill computed as elapsed x rate can fall a
# rounding error short, and a wait for that error would be a wait for nothing.
_EPSILON = 1e-6


class CostBucket:
    """Predicts the points Shopify will have, so calls wait instead of being THROTTLED.

    Every response's ``extensions.cost.throttleStatus`` resets the model; between
    reports it refills at ``restoreRate``. ``reserve`` waits until the predicted
    points cover a call's cost and takes them at once, so concurrent greenlets do
    not all spend the same points. Before the first report nothing waits.

    Callers that have to wait are served first come, first served: only the
    oldest waits for points, the others wait for their turn. Were each to wake
    on its own and take whatever had come back, a stream of 10-point writes would
    keep a 400-point read (the reconciler's order read) waiting for as long as
    the stream lasts, since the points never add up to its cost.

    On a cluster the bucket is the shop's, not the node's: ``set_share`` makes the
    model believe only this node's part of what Shopify reports (points and
    restore rate alike), so the nodes together stay within the bucket
    (``peppasync.store.limits.SharedRate``).
    """

    def __init__(self, clock: Clock, sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self.maximum: float | None = None
        self.restore_rate = 0.0
        self._available = 0.0
        self._at = 0.0
        self._queue: deque[gevent.event.Event] = deque()
        self._share = 1.0

    def set_share(self, share: float) -> None:
        """This node's part (0 < share <= 1) of a bucket the cluster's nodes spend together."""
        if not 0.0 < share <= 1.0:
            raise ValueError(f"a share of the bucket is within (0, 1], got {share}")
        if self.maximum is not None:
            scale = share / self._share
            self._available = (self.available() or 0.0) * scale
            self._at = self._clock.monotonic()
            self.maximum *= scale
            self.restore_rate *= scale
        self._share = share

    def available(self) -> float | None:
        """Predicted points now; None until Shopify has reported once."""
        if self.maximum is None:
            return None
        elapsed = self._clock.monotonic() - self._at
        return min(self.maximum, self._available + elapsed * self.restore_rate)

    def observe(self, throttle_status: Mapping[str, Any], *, cap: float | None = None) -> float | None:
        """Take Shopify's word for the bucket; returns the points available.

        ``cap`` bounds what is believed: while other calls are in flight, Shopify's
        number does not yet include what they will be charged, but ours does.
        """
        try:
            maximum = float(throttle_status["maximumAvailable"])
            available = float(throttle_status["currentlyAvailable"])
            rate = float(throttle_status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return self.available()
        share = self._share
        maximum, available, rate = maximum * share, available * share, rate * share
        if cap is not None:
            available = min(available, cap)
        self.maximum, self._available, self.restore_rate = maximum, available, rate
        self._at = self._clock.monotonic()
        return available

    def wait_for(self, cost: float) -> float:
        """Seconds until ``cost`` points are predicted to be there (0 when they are)."""
        available = self.available()
        if available is None or available + _EPSILON >= cost:
            return 0.0
        if self.restore_rate <= 0:
            return 1.0
        return (min(cost, self.maximum or cost) - available) / self.restore_rate

    @property
    def waiting(self) -> int:
        """Callers waiting for points (or for their turn to wait)."""
        return len(self._queue)

    def reserve(self, cost: float) -> None:
        """Wait (behind those already waiting) until ``cost`` points are predicted, then spend them."""
        if self._queue or self.wait_for(cost) > 0:
            turn = gevent.event.Event()
            self._queue.append(turn)
            if self._queue[0] is turn:
                turn.set()
            try:
                turn.wait()
                while True:
                    wait = self.wait_for(cost)
                    if wait <= 0:
                        break
                    self._sleep(wait)
            finally:
                self._queue.remove(turn)
                if self._queue:
                    self._queue[0].set()
        self._spend(cost)

    def _spend(self, cost: float) -> None:
        if self.maximum is not None:
            self._available = self.available() or 0.0
            self._at = self._clock.monotonic()
            self._available -= cost
