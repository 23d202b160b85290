"""The stock feed: the WMS's stock levels, polled, become messages to the SKU actors.

Every ``poll_interval`` it reads every level from ShipStation V2's inventory API
(``GET /v2/inventory``, which has no modified-since filter) and tells each SKU
whose ``on_hand``/``allocated`` moved since the last read. Each message carries
``as_of``, the moment the read began: the SKU actor uses it to know which of its
orders the WMS's ``allocated`` already counts. Every tenth read tells every SKU,
so one that missed a change is brought up to date. New SKUs are looked up in
Shopify's catalogue in batches before anyone needs them.
"""

from __future__ import annotations

import logging

from actors.connectors import StockLevel, call
from actors.inventory import InventoryActor, InventorySettings
from actors.periodic import PeriodicActor

__all__ = ["StockFeedActor"]

log = logging.getLogger("peppasync.inventory")

_FULL_EVERY = 10


class StockFeedActor(PeriodicActor):
    """One per WMS account (key ``main``); its polls are durable ticks it sends itself."""

    kind = "stock_feed"
    singleton = True
    replaces_state = True  # its chain and poll count, set anew

    def loaded(self) -> None:
        self._stock_seen: dict[str, StockLevel] = {}

    def tick(self) -> float | None:
        settings: InventorySettings = self.service("inventory")
        polls = int(self.state.get("polls", 0))
        full = polls % _FULL_EVERY == 0 or not self._stock_seen
        inventory = self._ctx.services.get("wms_inventory")
        if inventory is None:
            log.warning("no [wms] inventory_api_key is configured: stock is not polled")
            return None
        as_of = self.clock.time()
        levels: dict[str, StockLevel] = call("wms_inventory", inventory.levels)
        self._stock_learn(levels)
        for sku, level in sorted(levels.items()):
            self._stock_dispatch(sku, level, as_of, full)
        self.state["polls"] = polls + 1
        return settings.poll_interval

    def _stock_learn(self, levels: dict[str, StockLevel]) -> None:
        catalog = self._ctx.services.get("catalog")
        if catalog is not None:
            catalog.preload(sorted(levels))

    def _stock_dispatch(self, sku: str, level: StockLevel, as_of: float, full: bool) -> None:
        if not full and self._stock_seen.get(sku) == level:
            return
        self._stock_seen[sku] = level
        self.send(InventoryActor.kind, sku, {
            "type": "stock", "on_hand": max(0, level.on_hand), "allocated": max(0, level.allocated), "as_of": as_of,
            # V2 gives no modify time: the SKU actor starts the lag clock at the read.
            "changed_at": None,
        })
