"""The shipment feed: WMS shipments become messages to the orders they belong to.

A ``SHIP_NOTIFY`` webhook names a resource URL; the feed fetches it (on the
WMS host only: the webhook is unsigned) and tells each order actor about its
shipment. The reconciler sends the same rows when it finds shipments the
webhooks missed, so an order may hear of one shipment twice; it ignores the
second.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from peppasync.errors import ValidationError
from peppasync.store import Message

from actors.connectors import Priority, call
from actors.durable import DurableActor

__all__ = ["ShipmentFeedActor", "label_message", "shipment_message"]


def shipment_message(row: dict[str, Any], received_at: float) -> dict[str, Any]:
    """The order message for one WMS shipment row (ShipStation V1 field names)."""
    return {
        "type": "shipment",
        "tracking_number": row.get("trackingNumber"),
        "carrier": row.get("carrierCode"),
        "tracking_url": row.get("trackingUrl") or "",
        "shipped_at": row.get("shipDate"),
        "label_cost": row.get("shipmentCost"),
        "received_at": received_at,
    }


def label_message(row: dict[str, Any], received_at: float) -> dict[str, Any]:
    """The margin message for one WMS shipment row's label: its cost, and whether it was voided."""
    return {
        "type": "label",
        "shipment_id": str(row.get("shipmentId") or row.get("trackingNumber") or ""),
        "shipment_cost": row.get("shipmentCost"),
        "insurance_cost": row.get("insuranceCost"),
        "voided": bool(row.get("voided")),
        "received_at": received_at,
    }


class ShipmentFeedActor(DurableActor):
    """One per WMS account: fans shipments out to order actors."""

    kind = "shipments"
    singleton = True
    replaces_state = True  # it keeps none

    def handle(self, message: Message) -> None:
        payload = message.payload
        if payload.get("type") != "ship_notify":
            raise ValidationError(f"shipment feed message of unknown type {payload.get('type')!r}", field="type")
        url = payload.get("resource_url")
        try:
            # Shipment news waits behind no order create: shipping updates flow as they happen.
            body = call("wms", self.service("wms").fetch, url, priority=Priority.HIGH)
        except ValueError as exc:
            raise ValidationError(str(exc), field="resource_url") from exc
        rows = body.get("shipments", []) if isinstance(body, dict) else body
        self.dispatch(rows, float(payload.get("received_at") or self.clock.time()))

    def dispatch(self, rows: Iterable[Any], received_at: float) -> None:
        margins = "margin" in self._ctx.system.kinds
        for row in rows:
            if not isinstance(row, dict) or not row.get("orderKey"):
                continue
            if margins:
                # Voided labels too: a void takes the label's cost off the order's margin. Its lag
                # counts from now, when the label's cost is known (the fetch waits on the WMS's
                # request window, which shipment_to_shopify measures).
                self.send("margin", str(row["orderKey"]), label_message(row, self.clock.time()))
            if not row.get("voided"):
                self.send("order", str(row["orderKey"]), shipment_message(row, received_at))
