"""A leaky cost bucket, as Shopify's GraphQL Admin API meters calls."""

from __future__ import annotations

import threading

from peppasync.clock import Clock

__all__ = ["CostBucket"]


class CostBucket:
    """Points that refill continuously at `restore_rate` per second up to `maximum`.

    A call is charged its requested cost up front (or refused, leaving the bucket
    as it was) and refunded the difference once its actual cost is known.
    """

    def __init__(self, maximum: float, restore_rate: float, clock: Clock) -> None:
        if maximum <= 0 or restore_rate <= 0:
            raise ValueError(f"a cost bucket needs a positive size and restore rate, got {maximum}, {restore_rate}")
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self._clock = clock
        self._available = float(maximum)
        self._at = clock.monotonic()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now

    def take(self, cost: float) -> bool:
        """Charge `cost` if that many points are available; False (and no charge) otherwise."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: float) -> None:
        """Give back points charged but not used."""
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + max(0.0, points))

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._available

    def status(self) -> dict[str, float]:
        """The `throttleStatus` object of a response's `extensions.cost`."""
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available, 1),
            "restoreRate": self.restore_rate,
        }
