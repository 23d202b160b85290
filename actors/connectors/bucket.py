"""CostBucket: a client-side model of Shopify's GraphQL leaky bucket."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from peppasync.clock import Clock

__all__ = ["CostBucket"]


class CostBucket:
    """Predicts the points Shopify will have, so calls wait instead of being THROTTLED.

    Every response's ``extensions.cost.throttleStatus`` resets the model; between
    reports it refills at ``restoreRate``. ``reserve`` waits until the predicted
    points cover a call's cost and takes them at once, so concurrent greenlets do
    not all spend the same points. Before the first report nothing waits.
    """

    def __init__(self, clock: Clock, sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self.maximum: float | None = None
        self.restore_rate = 0.0
        self._available = 0.0
        self._at = 0.0

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
        if cap is not None:
            available = min(available, cap)
        self.maximum, self._available, self.restore_rate = maximum, available, rate
        self._at = self._clock.monotonic()
        return available

    def wait_for(self, cost: float) -> float:
        """Seconds until ``cost`` points are predicted to be there (0 when they are)."""
        available = self.available()
        if available is None or available >= cost:
            return 0.0
        if self.restore_rate <= 0:
            return 1.0
        return (min(cost, self.maximum or cost) - available) / self.restore_rate

    def reserve(self, cost: float) -> None:
        """Wait until ``cost`` points are predicted, then spend them."""
        while True:
            wait = self.wait_for(cost)
            if wait <= 0:
                break
            self._sleep(wait)
        if self.maximum is not None:
            self._available = self.available() or 0.0
            self._at = self._clock.monotonic()
            self._available -= cost
