"""The order actor: one per Shopify order, a persisted state machine.

received -> erp_synced -> sent_to_wms -> shipped -> fulfilled, plus cancelled.
Each step is its own durable message (an ``advance`` the actor sends itself),
so a crash between steps resumes at the step, and every external write is an
idempotent upsert, so a step repeated after a crash changes nothing twice.
Webhooks may arrive twice or out of order: events are deduplicated by id, and
an update older than what the actor has seen is ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from peppasync.clock import parse_timestamp
from peppasync.errors import ConnectorError, RejectedError, TransientError, ValidationError
from peppasync.store import Message, ops

from actors.connectors import Priority
from actors.customer_sync import CUSTOMER_KIND, already_synced, customer_version, erp_customer, synced_record
from actors.durable import DurableActor
from actors.validation import normalise_order

__all__ = ["OrderActor", "OrderSettings", "erp_sales_order", "wms_order"]

log = logging.getLogger("peppasync.order")

_EVENTS_KEPT = 50
_SYNCED = ("erp_synced", "sent_to_wms")


@dataclass(frozen=True)
class OrderSettings:
    """What the order flow needs from configuration."""

    # The ERP item that books lines without a SKU; empty: such orders are refused.
    non_sku_item: str = ""


def call(connector: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a connector, turning its failure into what the poison policy understands."""
    try:
        return fn(*args, **kwargs)
    except ConnectorError as exc:
        if exc.transient:
            raise TransientError(f"{connector}: {exc}", retry_after=exc.retry_after) from exc
        raise RejectedError(f"{connector} refused: {exc}", connector=connector, code=exc.code) from exc


def erp_sales_order(order: dict[str, Any], non_sku_item: str = "") -> dict[str, Any]:
    """The NetSuite sales order for an order: all its lines in one record.

    A line without a SKU is booked on ``non_sku_item`` (an internal id) with its own title and price.
    """
    body: dict[str, Any] = {
        "externalId": order["id"],
        "otherRefNum": order["name"],
        "memo": f"Shopify {order['name']}" + (" (test order)" if order["test"] else ""),
        "currency": {"refName": order["currency"]},
        "item": {
            "items": [
                {
                    "item": ({"id": non_sku_item} if line.get("non_sku") else {"externalId": line["sku"]}
                             if line["sku"] else {"externalId": "GIFT-CARD"}),
                    "quantity": line["quantity"],
                    "rate": float(line["price"]),
                    "description": line["title"],
                }
                for line in order["lines"]
            ]
        },
        "discountTotal": float(order["discounts"]),
        "taxTotal": float(order["tax"]),
        "total": float(order["total"]),
    }
    if order["customer_id"]:
        body["entity"] = {"externalId": f"shopify-customer-{order['customer_id']}"}
    return body


def wms_order(order: dict[str, Any]) -> dict[str, Any]:
    """The WMS createorder body (ShipStation V1 shape), keyed by the Shopify order id."""
    address = order["shipping_address"] or {}
    name = address.get("name") or " ".join(
        str(address.get(k) or "") for k in ("first_name", "last_name")
    ).strip()
    return {
        "orderNumber": order["name"],
        "orderKey": order["id"],
        "orderDate": order["created_at"],
        "orderStatus": "awaiting_shipment",
        "customerEmail": order["email"],
        "amountPaid": float(order["total"]),
        "shipTo": {
            "name": name or order["email"],
            "street1": address.get("address1"),
            "street2": address.get("address2"),
            "city": address.get("city"),
            "state": address.get("province_code") or address.get("province"),
            "postalCode": address.get("zip"),
            "country": address.get("country_code") or address.get("country"),
            "phone": address.get("phone"),
        },
        "items": [
            {"sku": line["sku"], "name": line["title"], "quantity": line["quantity"], "unitPrice": float(line["price"])}
            for line in order["lines"]
            if line["requires_shipping"]
        ],
    }


class OrderActor(DurableActor):
    """One Shopify order, from webhook to fulfillment."""

    kind = "order"

    def handle(self, message: Message) -> None:
        payload = message.payload
        kind = payload.get("type")
        if kind == "webhook":
            self._webhook(payload)
        elif kind == "advance":
            self._advance()
        elif kind == "shipment":
            self._shipment(payload)
        else:
            raise ValidationError(f"order message of unknown type {kind!r}", field="type")

    # -- events ----------------------------------------------------------------

    def _webhook(self, payload: dict[str, Any]) -> None:
        event_id = str(payload.get("event_id") or "")
        if event_id and payload.get("digest"):
            # The event id is an unsigned header: with another body it is another event.
            event_id += ":" + str(payload["digest"])[:16]
        events: list[str] = self.state.setdefault("events", [])
        if event_id and event_id in events:
            return
        topic = payload.get("topic")
        body = payload.get("body")
        if topic in ("orders/create", "orders/updated"):
            if isinstance(body, dict) and body.get("cancelled_at"):
                self._cancel(body, payload)
            else:
                self._upsert(body, payload)
        elif topic == "orders/cancelled":
            self._cancel(body, payload)
        elif topic == "refunds/create":
            self.state.setdefault("refunds", []).append(body)
        else:
            raise ValidationError(f"order webhook of unknown topic {topic!r}", field="topic")
        if event_id:
            events.append(event_id)
            del events[:-_EVENTS_KEPT]
        self.save_state()

    def _upsert(self, body: Any, payload: dict[str, Any]) -> None:
        status = self.state.get("status")
        if status == "cancelled":
            return
        catalog = self._ctx.services.get("catalog")
        settings: OrderSettings = self._ctx.services.get("order") or OrderSettings()
        order = normalise_order(body, known_sku=catalog.known if catalog is not None else None,
                                non_sku_lines=bool(settings.non_sku_item))
        current = self.state.get("order")
        if current and order["updated_at"] and current["updated_at"] and order["updated_at"] < current["updated_at"]:
            return  # an older version arrived late
        self.state["order"] = order
        if status not in ("shipped", "fulfilled"):
            self._reserve(order)
        if status is None:
            self.state["received_at"] = float(payload.get("received_at") or self.clock.time())
            self._move("received")
            self._next()
        elif status in _SYNCED and current != order:
            self.state["resync"] = True
            self._next()

    def _cancel(self, body: Any, payload: dict[str, Any]) -> None:
        # The topic is an unsigned header: a signed orders/create body sent again
        # as orders/cancelled must not cancel anything. Only the signed body says so.
        if not isinstance(body, dict) or parse_timestamp(body.get("cancelled_at")) is None:
            raise ValidationError(
                f"{payload.get('topic')} whose body has no cancelled_at time: nothing was cancelled",
                field="cancelled_at",
            )
        status = self.state.get("status")
        if status in ("cancelled", "shipped", "fulfilled"):
            return
        if status == "sent_to_wms":
            # First the warehouse, so it does not pick an order nobody pays for.
            self._cancel_at_wms(self.state["order"])
        if status in _SYNCED:
            call("netsuite", self.service("netsuite").cancel_sales_order, self.key)
        if status is None:
            self.state["received_at"] = float(payload.get("received_at") or self.clock.time())
            self.state["order"] = body if isinstance(body, dict) else {}
        for sku in self.state.pop("stock", {}):
            self.send("inventory", sku, {"type": "release", "order_id": self.key})
        self._move("cancelled")

    def _shipment(self, payload: dict[str, Any]) -> None:
        status = self.state.get("status")
        if status in ("shipped", "fulfilled", "cancelled"):
            return
        if status is None:
            raise TransientError("shipment for an order this engine has not seen yet", retry_after=5.0)
        self.state["shipment"] = {
            k: payload.get(k) for k in ("tracking_number", "carrier", "tracking_url", "shipped_at", "label_cost")
        }
        self.state["shipment_received_at"] = float(payload.get("received_at") or self.clock.time())
        self._move("shipped")
        self._next()
        self.save_state()

    # -- steps -----------------------------------------------------------------

    def _advance(self) -> None:
        status = self.state.get("status")
        order = self.state.get("order")
        if status == "received":
            self._sync_erp(order)
            self._move("erp_synced")
            self._flow("order_to_erp", self.state["received_at"])
            if order["needs_shipping"]:
                self._next()
        elif status == "erp_synced" and self.state.pop("resync", False):
            self._sync_erp(order)
        elif status == "erp_synced" and order["needs_shipping"]:
            self._send_to_wms(order)
            self._allocated()
            self._move("sent_to_wms")
            self._flow("order_to_wms", self.state["received_at"])
        elif status == "sent_to_wms" and self.state.pop("resync", False):
            self._sync_erp(order)
            self._send_to_wms(order)
            self._allocated()
        elif status == "shipped":
            ship = self.state["shipment"]
            call(
                "shopify",
                self.service("shopify").fulfill,
                self.key,
                ship["tracking_number"],
                ship.get("carrier") or "",
                ship.get("tracking_url") or "",
            )
            self._move("fulfilled")
            self._flow("shipment_to_shopify", self.state["shipment_received_at"])
        self.save_state()

    def _sync_erp(self, order: dict[str, Any]) -> None:
        erp = self.service("netsuite")
        customer_id = order.get("customer_id")
        priority = Priority.NORMAL
        if customer_id:
            customer = erp_customer(order)
            version = customer_version(customer)
            found = self._ctx.store.get_state(CUSTOMER_KIND, customer_id)
            if not already_synced(found[0] if found else None, version, order["updated_at"]):
                call("netsuite", erp.upsert_customer, customer_id, customer)
                self._remember_customer(customer_id, synced_record(version, order["updated_at"]))
                # This order's ERP work has begun: its next call goes ahead of new orders' first ones.
                priority = Priority.HIGH
        settings: OrderSettings = self._ctx.services.get("order") or OrderSettings()
        body = erp_sales_order(order, settings.non_sku_item)
        call("netsuite", erp.upsert_sales_order, self.key, body, priority=priority)
        self.state["erp_at"] = self.clock.time()

    def _send_to_wms(self, order: dict[str, Any]) -> None:
        try:
            call("wms", self.service("wms").create_order, wms_order(order))
        except RejectedError as exc:
            # The WMS refuses to change an order it has already shipped: proof
            # that it has the order (a step repeated after a crash finds this).
            if "no longer be updated" not in str(exc):
                raise

    def _cancel_at_wms(self, order: dict[str, Any]) -> None:
        """Set the WMS order to cancelled (ShipStation cancels through createorder, with the whole order)."""
        try:
            call("wms", self.service("wms").create_order, {**wms_order(order), "orderStatus": "cancelled"})
        except RejectedError as exc:
            if "no longer be updated" not in str(exc):
                raise
            if "shipped" in str(exc):
                # Too late: the parcel is on its way. The ERP still hears of the
                # cancellation; the goods come back as a return.
                self.state["shipped_before_cancel"] = True
                log.warning("order cancelled after the warehouse shipped it; it needs a return",
                            extra={"order_id": self.key})
            # Otherwise the WMS has it cancelled already: a step repeated after a crash.

    def _reserve(self, order: dict[str, Any]) -> None:
        """Tell each SKU's inventory actor what this order takes (commit) or no longer takes (release).

        Shopify has already taken the units; the next flush must not give them back.
        """
        if "inventory" not in self._ctx.system.kinds:
            return
        wanted: dict[str, int] = {}
        for line in order["lines"]:
            if line["sku"] and line["requires_shipping"] and line["quantity"] > 0:
                wanted[line["sku"]] = wanted.get(line["sku"], 0) + int(line["quantity"])
        held: dict[str, int] = self.state.get("stock", {})
        for sku, quantity in wanted.items():
            if held.get(sku) != quantity:
                self.send("inventory", sku, {"type": "commit", "order_id": self.key, "quantity": quantity})
        for sku in held:
            if sku not in wanted:
                self.send("inventory", sku, {"type": "release", "order_id": self.key})
        self.state["stock"] = wanted

    def _allocated(self) -> None:
        # Stamped after the WMS answered: a stock read begun later counts the allocation.
        at = self.clock.time()
        for sku in self.state.get("stock", {}):
            self.send("inventory", sku, {"type": "allocated", "order_id": self.key, "at": at})

    def _remember_customer(self, customer_id: str, record: dict[str, Any]) -> None:
        self._ctx.store.write([ops.PutState(CUSTOMER_KIND, customer_id, record)])

    def _next(self) -> None:
        self.send(self.kind, self.key, {"type": "advance"})

    def _move(self, new: str) -> None:
        old = self.state.get("status")
        if old == new:
            return
        self.state["status"] = new
        self.state[f"{new}_at"] = self.clock.time()
        self.on_success(lambda: self.hooks.on_state(self.kind, old, new))

    def _flow(self, flow: str, since: float) -> None:
        seconds = self.clock.time() - since
        self.on_success(lambda: self.hooks.on_flow(flow, seconds))
