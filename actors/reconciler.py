"""The reconciler: the self-healing sweep that makes a morning re-sync unnecessary.

Every ``reconcile_interval`` it pages through Shopify orders updated since its
cursor (less an overlap window) and WMS shipments modified since its own, and
compares them with what the order actors hold. Whatever webhooks missed (an
order never seen, an update or cancellation lost, a shipment never notified)
is sent to the order actor as the webhook would have been, and counted as a
repair. An order whose mailbox already holds a webhook with this update is in
flight, not missed; one whose mailbox holds only its own steps is judged like
any other. A shipment of an order with messages waiting is looked at again on
later sweeps, until the order has settled.

It also reads Shopify's ``available`` for every SKU the inventory actors keep
and compares it with what they computed. A difference seen on two sweeps in a
row (one sweep's worth is a sale whose webhook is on its way) is drift: the SKU
actor is told what Shopify shows and sets it right. A push that has waited for
its result over two sweeps is given up, so the SKU asks again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from peppasync.clock import parse_timestamp

from actors.connectors import Priority
from actors.order import call
from actors.order_import import fetch_order
from actors.periodic import PeriodicActor
from actors.shipments import shipment_message
from actors.stock_ledger import StockLedger

__all__ = ["ReconcilerActor", "Settings"]

log = logging.getLogger("peppasync.reconciler")


class Settings:
    """What the reconciler reads from configuration."""

    def __init__(self, interval: float, overlap: float | None = None, lookback: float = 86_400.0,
                 max_hold: float = 900.0) -> None:
        self.interval = interval
        self.overlap = overlap if overlap is not None else max(2 * interval, 5.0)
        self.lookback = lookback
        # How far back a busy order may hold the shipments cursor: every sweep
        # pages from there, and the WMS's request window is small (ShipStation: 40/min).
        self.max_hold = max_hold


_MAILBOX_LOOK = 50  # an order's mailbox holds a few steps and webhooks, rarely more


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ReconcilerActor(PeriodicActor):
    """One per node (key ``main``); its ticks are durable messages it sends itself."""

    kind = "reconciler"

    def tick(self) -> float:
        settings: Settings = self.service("reconcile")
        now = datetime.fromtimestamp(self.clock.time(), timezone.utc)
        start = now - timedelta(seconds=settings.lookback)
        orders_since = parse_timestamp(self.state.get("orders_cursor")) or start
        ships_since = parse_timestamp(self.state.get("shipments_cursor")) or start
        overlap = timedelta(seconds=settings.overlap)
        self.state["orders_cursor"] = _iso(self._orders(orders_since - overlap) or orders_since)
        self._forget_repairs(orders_since - overlap)
        hold_after = now - timedelta(seconds=settings.max_hold)
        self.state["shipments_cursor"] = _iso(self._shipments(ships_since - overlap, hold_after) or ships_since)
        self._stock_sweep()
        self.state["last_run"] = self.clock.time()
        return settings.interval

    def _forget_repairs(self, before: datetime) -> None:
        # Updates older than the window are never paged again: no need to remember them.
        repaired: dict[str, str] = self.state.get("repaired", {})
        for order_id, updated in list(repaired.items()):
            moment = parse_timestamp(updated)
            if moment is not None and moment < before:
                del repaired[order_id]

    def _in_flight(self, order_id: str) -> bool:
        return bool(self._ctx.store.pending("order", order_id, limit=1, now=float("inf")))

    def _on_its_way(self, order_id: str, updated: datetime | None, cancelled: bool) -> bool:
        """Whether the order's mailbox already holds a webhook with this version of it."""
        for message in self._ctx.store.pending("order", order_id, limit=_MAILBOX_LOOK, now=float("inf")):
            payload = message.payload
            body = payload.get("body")
            if payload.get("type") != "webhook" or not isinstance(body, dict):
                continue
            if cancelled and (payload.get("topic") == "orders/cancelled" or body.get("cancelled_at")):
                return True
            seen = parse_timestamp(body.get("updated_at"))
            if not cancelled and (updated is None or (seen is not None and seen >= updated)):
                return True
        return False

    def _orders(self, since: datetime) -> datetime | None:
        shopify = self.service("shopify")
        newest: datetime | None = None
        # An order an operator has to look at is not missed: resending it would
        # only quarantine it twice.
        held = {e.key for e in self._ctx.store.quarantine_list(kind="order")}
        for node in call("shopify", lambda: list(shopify.orders_updated_since(_iso(since)))):
            updated = parse_timestamp(node.get("updatedAt"))
            if updated is not None and (newest is None or updated > newest):
                newest = updated
            order_id = str(node.get("legacyResourceId") or str(node.get("id", "")).rsplit("/", 1)[-1])
            if not order_id or order_id in held or self._on_its_way(order_id, updated, bool(node.get("cancelledAt"))):
                continue
            found = self._ctx.store.get_state("order", order_id)
            state = found[0] if found else {}
            status = state.get("status")
            known = parse_timestamp((state.get("order") or {}).get("updated_at"))
            if status is None:
                topic = "orders/cancelled" if node.get("cancelledAt") else "orders/create"
            elif node.get("cancelledAt") and status not in ("cancelled", "shipped", "fulfilled"):
                topic = "orders/cancelled"
            elif known is not None and updated is not None and updated > known and status != "cancelled":
                topic = "orders/updated"
            else:
                continue
            repaired: dict[str, str] = self.state.setdefault("repaired", {})
            if repaired.get(order_id) == node.get("updatedAt"):
                continue  # sent once already (it may sit in quarantine): an operator's turn now
            body = call("shopify", fetch_order, shopify, str(node.get("id")))
            if body is None:
                continue
            repaired[order_id] = str(node.get("updatedAt"))
            self.send("order", order_id, {
                "type": "webhook",
                "topic": topic,
                "event_id": f"reconcile:{order_id}:{node.get('updatedAt')}",
                "received_at": self.clock.time(),
                "body": body,
                "source": "reconciler",
            })
            self.on_success(lambda: self.hooks.on_repair("missed_order"))
        return newest

    def _shipments(self, since: datetime, hold_after: datetime) -> datetime | None:
        """Repair missed shipments; returns where the next sweep's cursor goes.

        A shipment of an order in flight is looked at again on the next sweep:
        its mailbox may or may not hold this shipment, and once newer shipments
        moved the cursor on, it would never be paged again. So the cursor stops
        at the oldest such shipment (modified after ``hold_after``) until its
        order has settled. An order busy for longer is logged and let go.
        """
        wms = self.service("wms")
        newest: datetime | None = None
        held: datetime | None = None
        for row in call("wms", lambda: list(wms.shipments_since(_iso(since), priority=Priority.HIGH))):
            modified = parse_timestamp(row.get("modifyDate"))
            if modified is not None and (newest is None or modified > newest):
                newest = modified
            order_id = str(row.get("orderKey") or "")
            if not order_id or row.get("voided"):
                continue
            if self._in_flight(order_id):
                if modified is None or modified < hold_after:
                    log.warning("shipment of an order busy for longer than max_hold: not watched any more",
                                extra={"order_id": order_id, "modified": row.get("modifyDate")})
                elif held is None or modified < held:
                    held = modified
                continue
            found = self._ctx.store.get_state("order", order_id)
            if not found or found[0].get("status") not in ("erp_synced", "sent_to_wms"):
                continue
            self.send("order", order_id, shipment_message(row, self.clock.time()))
            self.on_success(lambda: self.hooks.on_repair("missed_shipment"))
        return held if held is not None else newest

    def _stock_sweep(self) -> None:
        services = self._ctx.services
        catalog, settings = services.get("catalog"), services.get("inventory")
        if catalog is None or settings is None or "inventory" not in self._ctx.system.kinds:
            return
        ledgers: dict[str, StockLedger] = {}
        for sku in catalog.skus():
            found = self._ctx.store.get_state("inventory", sku)
            if found is not None and found[0].get("item") and not self._has_pending("inventory", sku):
                ledgers[sku] = StockLedger(sku, found[0])
        if not ledgers:
            self.state.pop("stock", None)
            return
        shopify = self.service("shopify")
        shown = call("shopify", shopify.available, [ledger.state["item"] for ledger in ledgers.values()])
        previous: dict[str, list[Any]] = self.state.get("stock", {})
        seen: dict[str, list[Any]] = {}
        for sku, ledger in ledgers.items():
            seq = int(ledger.state["seq"])
            if ledger.in_flight:
                if previous.get(sku) == ["in_flight", seq]:
                    self.send("inventory", sku, {"type": "nudge", "seq": seq})
                else:
                    seen[sku] = ["in_flight", seq]
                continue
            actual = shown.get(ledger.state["item"])
            target = ledger.sellable(settings.buffer(sku))
            if actual is None or target is None or (actual == target and actual == ledger.belief):
                continue
            mismatch = ["drift", seq, actual]
            if previous.get(sku) != mismatch:
                seen[sku] = mismatch
                continue
            self.send("inventory", sku, {"type": "observed", "available": actual, "seq": seq})
            self.on_success(lambda: self.hooks.on_repair("stock_drift"))
        self.state["stock"] = seen

    def _has_pending(self, kind: str, key: str) -> bool:
        return bool(self._ctx.store.pending(kind, key, limit=1, now=float("inf")))
