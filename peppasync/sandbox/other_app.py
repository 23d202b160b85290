"""Another app in the simulated shop that holds fulfillment orders for a while: a fraud filter, an address check.

Shopify lets any app with the fulfillment-order scopes hold a fulfillment order
(``fulfillmentOrderHold``); the hold is the other app's, and only it (or someone who
releases every hold) lifts it. Which orders it holds is fixed by the seed and the order id;
how long, by the profile (``other_app_hold_min`` to ``other_app_hold_max`` simulated seconds).
"""

from __future__ import annotations

from typing import Any

import gevent

from peppasync.clock import Clock

from .profile import SandboxProfile, chance
from .shop import ShopState

__all__ = ["OTHER_APP", "OtherApp"]

#: The app the sandbox's holds belong to: never the engine's.
OTHER_APP = "fraud-filter"


class OtherApp:
    """Holds some orders right after checkout, and some when the warehouse ships them, then releases them."""

    def __init__(self, shop: ShopState, clock: Clock, *, profile: SandboxProfile, seed: int,
                 time_scale: float) -> None:
        self.shop = shop
        self.clock = clock
        self.profile = profile
        self.seed = seed
        self.time_scale = time_scale
        self._timers: list[gevent.Greenlet] = []

    def at_checkout(self, order_id: int) -> None:
        """Hold the new order if the seed picks it (``other_app_hold_rate``): a fraud check."""
        if chance(self.seed, "other-app-checkout", order_id) < self.profile.other_app_hold_rate:
            self.hold(order_id, self._duration("checkout", order_id), reason="HIGH_RISK_OF_FRAUD")

    def at_shipment(self, shipment: dict[str, Any]) -> None:
        """Hold a shipped order if the seed picks it (``other_app_ship_hold_rate``): an address check
        that the warehouse did not wait for."""
        key = str(shipment.get("orderKey") or "")
        if key.isdigit() and chance(self.seed, "other-app-ship", key) < self.profile.other_app_ship_hold_rate:
            self.hold(int(key), self._duration("ship", key), reason="INCORRECT_ADDRESS")

    def hold(self, order_id: int, seconds: float, *, reason: str = "OTHER") -> list[dict[str, Any]]:
        """Hold every open fulfillment order of the order now, and release those holds after
        ``seconds`` of simulated time (divided by the time scale); returns the holds placed."""
        holds = [self.shop.hold(fo_id, reason=reason, app=OTHER_APP, handle="review")
                 for fo_id in self.shop.open_fulfillment_order_ids(order_id)]
        if holds:
            self._timers.append(gevent.spawn_later(seconds / self.time_scale, self._release, holds))
        return holds

    def _release(self, holds: list[dict[str, Any]]) -> None:
        for hold in holds:
            self.shop.release(hold["fo_id"], [hold["id"]])

    def _duration(self, when: str, order_id: object) -> float:
        p = self.profile
        return p.other_app_hold_min + (p.other_app_hold_max - p.other_app_hold_min) * chance(
            self.seed, "other-app-duration", when, order_id)

    def stop(self) -> None:
        """Forget the releases still pending."""
        gevent.killall(self._timers, block=False)
        self._timers.clear()
