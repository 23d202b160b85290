"""The shipments sweep: WMS shipments modified since the cursor, one page a step; missed ones are repaired.

A shipment of an order whose status says it is still waiting for one (synced to
the ERP or sent to the WMS) is sent to the order as ``SHIP_NOTIFY`` would have
sent it. A shipment of an order with messages waiting is watched instead: its
mailbox may or may not hold this shipment, so it is judged again at the end of
each sweep until its order has settled (or ``max_hold`` has passed, when it is
logged and let go). The watch is what lets the cursor move past every shipment
a sweep has seen: a cursor held at the oldest busy shipment had every sweep read
all the shipments since then again, through a window of 40 requests a minute.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from peppasync.clock import parse_timestamp

from actors.connectors import Priority, call
from actors.order_flow import SYNCED, OrderState
from actors.order_sweep import iso
from actors.shipments import label_message, shipment_message

if TYPE_CHECKING:
    from actors.reconciler import ReconcilerActor, Settings

__all__ = ["ShipmentsSweep"]

log = logging.getLogger("peppasync.reconciler")

# The fields of a shipment row that its order message is made from.
_KEPT = ("orderKey", "modifyDate", "trackingNumber", "carrierCode", "trackingUrl", "shipDate", "shipmentCost")


class ShipmentsSweep:
    """Pages the WMS's shipments modified at or after the cursor (less the overlap)."""

    name = "shipments"
    needs: tuple[str, ...] = ("wms",)

    def __init__(self, actor: ReconcilerActor, settings: Settings) -> None:
        self._actor = actor
        self._settings = settings

    def begin(self, progress: dict[str, Any], now: float) -> None:
        start = datetime.fromtimestamp(now, UTC) - timedelta(seconds=self._settings.lookback)
        cursor = parse_timestamp(self._actor.state.get("cursor")) or start
        progress.update(since=iso(cursor - timedelta(seconds=self._settings.overlap)), page=1, newest=None)

    def step(self, progress: dict[str, Any], now: float) -> bool:
        """One page; True when it was the last, once the watched shipments were judged again."""
        wms = self._actor.service("wms")
        page = call("wms", wms.shipments_page, progress["since"], progress["page"], priority=Priority.RECONCILE)
        # The page's orders and margins as the store holds them, read at once: a read a row kept
        # every label of the page waiting for the page's last row (hundreds of reads on PostgreSQL).
        keys = [str(row["orderKey"]) for row in page.rows if row.get("orderKey")]
        store = self._actor.store
        orders = store.load_many("order", keys, limit=1) if keys else {}
        margins = (store.load_many("margin", keys, limit=1)
                   if keys and "margin" in self._actor._ctx.system.kinds else {})
        for row in page.rows:
            modified = parse_timestamp(row.get("modifyDate"))
            newest = parse_timestamp(progress["newest"])
            if modified is not None and (newest is None or modified > newest):
                progress["newest"] = iso(modified)
            if row.get("orderKey"):
                self._label(row, margins[str(row["orderKey"])][0] if margins else None)
            if row.get("orderKey") and not row.get("voided"):
                self._judge({k: row.get(k) for k in _KEPT}, orders[str(row["orderKey"])])
        if page.page < page.pages:
            progress["page"] = page.page + 1
            return False
        self._judge_watched(datetime.fromtimestamp(now, UTC) - timedelta(seconds=self._settings.max_hold))
        state = self._actor.state
        state["cursor"] = progress["newest"] or state.get("cursor")
        return True

    def _label(self, row: dict[str, Any], found: tuple[dict[str, Any], int] | None) -> None:
        """Tell the order's margin (its state ``found``) of a label it has not heard of (or whose
        void it missed)."""
        actor = self._actor
        if "margin" not in actor._ctx.system.kinds:
            return
        message = label_message(row, actor.clock.time())
        known = (found[0].get("labels") or {}).get(message["shipment_id"]) if found else None
        if known is None or bool(known.get("voided")) != message["voided"]:
            actor.send("margin", str(row["orderKey"]), message)

    def _judge(self, row: dict[str, Any], loaded: tuple[tuple[dict[str, Any], int] | None, list[Any]]) -> None:
        """Repair, watch or let go the shipment ``row``; ``loaded`` is its order's state and first
        waiting message, as ``Store.load_many`` read them."""
        actor = self._actor
        order_id = str(row["orderKey"])
        watch: dict[str, dict[str, Any]] = actor.state.setdefault("watch", {})
        if loaded[1]:
            watch[order_id] = row
            return
        watch.pop(order_id, None)
        found = loaded[0]
        if not found or OrderState.from_json(found[0]).status not in SYNCED:
            return
        actor.send("order", order_id, shipment_message(row, actor.clock.time()))
        actor.on_success(lambda: actor.hooks.on_repair("missed_shipment"))

    def _judge_watched(self, hold_after: datetime) -> None:
        watch: dict[str, dict[str, Any]] = self._actor.state.get("watch", {})
        orders = self._actor.store.load_many("order", list(watch), limit=1) if watch else {}
        for order_id, row in list(watch.items()):
            modified = parse_timestamp(row.get("modifyDate"))
            if orders[order_id][1] and (modified is None or modified < hold_after):
                log.warning("shipment of an order busy for longer than max_hold: not watched any more",
                            extra={"order_id": order_id, "modified": row.get("modifyDate")})
                del watch[order_id]
            else:
                self._judge(row, orders[order_id])
