"""The stock feed: the WMS's stock levels, polled, become messages to the SKU actors.

Every ``poll_interval`` it reads ``GET /inventory?modifiedSince=`` from just before
its previous read and tells each SKU whose ``onHand``/``allocated`` moved. Each
message carries ``as_of``, the moment the read began: the SKU actor uses it to
know which of its orders the WMS's ``allocated`` already counts. Every tenth
read is a full one, so a SKU that missed a change is brought up to date. New
SKUs are looked up in Shopify's catalogue in batches before anyone needs them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from peppasync.clock import parse_timestamp

from actors.inventory import InventoryActor, InventorySettings
from actors.order import call
from actors.periodic import PeriodicActor

__all__ = ["StockFeedActor"]

log = logging.getLogger("peppasync.inventory")

_FULL_EVERY = 10
_OVERLAP = 2.0  # seconds: modifiedSince has whole seconds, and clocks differ a little
_EPOCH = "2000-01-01T00:00:00Z"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class StockFeedActor(PeriodicActor):
    """One per WMS account (key ``main``); its polls are durable ticks it sends itself."""

    kind = "stock_feed"

    def loaded(self) -> None:
        self._stock_seen: dict[str, tuple[int, int]] = {}

    def tick(self) -> float | None:
        settings: InventorySettings = self.service("inventory")
        polls = int(self.state.get("polls", 0))
        cursor = self.state.get("cursor")
        full = cursor is None or polls % _FULL_EVERY == 0 or not self._stock_seen
        as_of = self.clock.time()
        since = _EPOCH if full else _iso(float(cursor) - _OVERLAP)
        wms = self._ctx.services.get("wms")
        if wms is None:
            log.warning("no WMS is configured: stock is not polled")
            return None
        rows = call("wms", lambda: list(wms.inventory_since(since)))
        self._stock_learn(rows)
        for row in rows:
            self._stock_dispatch(row, as_of, full)
        self.state["cursor"] = as_of
        self.state["polls"] = polls + 1
        return settings.poll_interval

    def _stock_learn(self, rows: list[Any]) -> None:
        catalog = self._ctx.services.get("catalog")
        if catalog is not None:
            catalog.preload(str(r.get("sku")) for r in rows if isinstance(r, dict) and r.get("sku"))

    def _stock_dispatch(self, row: Any, as_of: float, full: bool) -> None:
        if not isinstance(row, dict) or not row.get("sku"):
            return
        sku = str(row["sku"])
        try:
            level = (int(row["onHand"]), int(row.get("allocated") or 0))
        except (KeyError, TypeError, ValueError):
            return  # a row without numbers tells nothing
        if not full and self._stock_seen.get(sku) == level:
            return
        self._stock_seen[sku] = level
        self.send(InventoryActor.kind, sku, {
            "type": "stock", "on_hand": max(0, level[0]), "allocated": max(0, level[1]), "as_of": as_of,
            "changed_at": _epoch(parse_timestamp(row.get("modifyDate"))),
        })


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
