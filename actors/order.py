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
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Callable

from peppasync.clock import parse_timestamp
from peppasync.errors import ConnectorError, RejectedError, TransientError, ValidationError
from peppasync.store import Message, ops

from actors.connectors import Priority
from actors.customer_sync import CUSTOMER_KIND, already_synced, customer_version, erp_customer, synced_record
from actors.durable import DurableActor
from actors.validation import minor_unit, normalise_order

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


# The NetSuite item that stands for a gift card sold without a SKU.
GIFT_CARD_ITEM = "GIFT-CARD"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def erp_sales_order(order: dict[str, Any], non_sku_item: str = "") -> dict[str, Any]:
    """The NetSuite sales order for an order: all its lines in one record (contract: SalesOrderUpsert).

    NetSuite computes totals and tax itself (they are read-only), so the order's discount goes
    into the lines: each line's ``amount`` is its price times quantity less its share of the
    discount. Two references are the account's to complete (``NetsuiteAccount``): an order
    without a Shopify customer gets the guest customer, and the currency, named here by its ISO
    code, gets its record's internal id. A line without a SKU is booked on ``non_sku_item`` (an
    internal id) with its own title and price.
    """
    lines = order["lines"]
    amounts = _net_amounts(lines, Decimal(order["discounts"]), minor_unit(order["currency"]))
    body: dict[str, Any] = {
        "externalId": order["id"],
        "otherRefNum": order["name"],
        "memo": f"Shopify {order['name']}" + (" (test order)" if order["test"] else ""),
        "currency": {"refName": order["currency"]},
        "item": {
            "items": [
                {
                    "item": {"id": non_sku_item} if line.get("non_sku") else {"externalId": line["sku"] or GIFT_CARD_ITEM},
                    "quantity": line["quantity"],
                    "rate": float(line["price"]),
                    "amount": float(amount),
                    "description": line["title"],
                }
                for line, amount in zip(lines, amounts)
            ]
        },
    }
    day = order["created_at"][:10]
    if _DAY.fullmatch(day):
        body["tranDate"] = day  # the shop's own date: a late sync must not book the order a day later
    if order["customer_id"]:
        body["entity"] = {"externalId": f"shopify-customer-{order['customer_id']}"}
    return body


def _net_amounts(lines: list[dict[str, Any]], discount: Decimal, unit: Decimal) -> list[Decimal]:
    """Each line's price times quantity less its share of ``discount``, in the currency's minor
    ``unit`` (cents; whole yen), summing exactly.

    Shares follow the lines' amounts; gift cards take none (Shopify does not discount them).
    What rounding leaves over goes to the largest line.
    """
    gross = [Decimal(line["price"]) * line["quantity"] for line in lines]
    eligible = [Decimal(0) if line["gift_card"] else g for line, g in zip(lines, gross)]
    base = sum(eligible, Decimal(0))
    if discount <= 0 or base <= 0:
        return gross
    discount = min(discount, base)
    shares = [(discount * e / base).quantize(unit, rounding=ROUND_DOWN) for e in eligible]
    largest = max(range(len(lines)), key=lambda n: eligible[n])
    shares[largest] += discount - sum(shares, Decimal(0))
    return [g - s for g, s in zip(gross, shares)]


def _wms_country(address: dict[str, Any]) -> str | None:
    """The two-letter ISO code ShipStation's Address takes, if the Shopify address has one."""
    code = str(address.get("country_code") or address.get("country") or "").strip().upper()
    return code if len(code) == 2 and code.isalpha() else None


def _wms_address(address: dict[str, Any], name: str) -> dict[str, Any]:
    """A Shopify address as ShipStation's Address model; ``name`` when the address has none."""
    own = address.get("name") or " ".join(
        str(address.get(k) or "") for k in ("first_name", "last_name")
    ).strip()
    return {
        "name": own or name,
        "company": address.get("company") or None,
        "street1": address.get("address1") or None,
        "street2": address.get("address2") or None,
        "city": address.get("city") or None,
        "state": address.get("province_code") or address.get("province") or None,
        "postalCode": address.get("zip") or None,
        "country": _wms_country(address),
        "phone": address.get("phone") or None,
    }


def _is_address(address: dict[str, Any]) -> bool:
    return any(address.get(k) for k in ("address1", "name", "first_name", "last_name"))


def wms_order(order: dict[str, Any], status: str = "awaiting_shipment") -> dict[str, Any]:
    """The whole createorder body (ShipStation V1) for an order, keyed by the Shopify order id.

    ShipStation requires orderNumber, orderDate, orderStatus, billTo and shipTo, and
    replaces the whole order on every call: a cancellation is this body again with
    ``status="cancelled"``. billTo is the Shopify billing address, else the shipping
    address, else just the customer's name (or email); never empty.
    """
    customer = order.get("customer") or {}
    who = (" ".join(str(customer.get(k) or "") for k in ("first_name", "last_name")).strip()
           or order.get("email") or customer.get("email") or f"Shopify order {order['name']}")
    shipping = order.get("shipping_address") or {}
    ship_to = _wms_address(shipping, who)
    if order.get("needs_shipping", True) and ship_to["country"] is None:
        raise ValidationError(f"the shipping address has no two-letter country code ({shipping.get('country')!r}); "
                              "the WMS takes ISO 3166 codes only", field="shipping_address")
    billing = order.get("billing_address") or {}
    if _is_address(billing):
        bill_to = _wms_address(billing, who)
    elif _is_address(shipping):
        bill_to = dict(ship_to)
    else:
        bill_to = {"name": who}
    placed = order.get("created_at") or order.get("updated_at")
    if not placed:
        raise ValidationError("the order has no created_at; the WMS requires the date it was placed",
                              field="created_at")
    return {
        "orderNumber": order["name"],
        "orderKey": order["id"],
        "orderDate": placed,
        "orderStatus": status,
        "customerEmail": order.get("email") or None,
        "amountPaid": float(order["total"]),
        "billTo": bill_to,
        "shipTo": ship_to,
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
        order = self.state.get("order") or {}
        if status == "sent_to_wms" or (status == "erp_synced" and order.get("needs_shipping")):
            # First the warehouse, so it does not pick an order nobody pays for. An order still
            # marked erp_synced may be there too: a crash can lose the step that recorded its send.
            # If it is not, ShipStation's upsert files it as cancelled, which nobody picks.
            self._cancel_at_wms(order)
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
        """Create or update the order at the WMS (the whole order, upserted by orderKey).

        When the WMS will not update the order, its status there decides: shipped, or
        passed on to a fulfilment provider, means the WMS has it (what a step repeated
        after a crash finds); cancelled there means it will never ship, which is
        refused for an operator to look at.
        """
        held = call("wms", self.service("wms").upsert_order, wms_order(order),
                    order_id=self.state.get("wms_order_id"))
        self.state["wms_order_id"] = held.get("orderId")
        if held.get("orderStatus") == "cancelled":
            raise RejectedError(f"the WMS holds order {self.key} as cancelled, so it will not ship; reopen it in "
                                "the WMS, then retry this message", connector="wms", code="CANCELLED_AT_WMS")

    def _cancel_at_wms(self, order: dict[str, Any]) -> None:
        """Set the WMS order to cancelled (ShipStation cancels through createorder, with the whole order).

        When the WMS will not update the order, its status there decides: cancelled
        already is a step repeated after a crash; shipped means too late, and the
        goods come back as a return; anything else cannot be stopped from here.
        """
        held = call("wms", self.service("wms").upsert_order, wms_order(order, "cancelled"),
                    order_id=self.state.get("wms_order_id"))
        status = held.get("orderStatus")
        if status == "shipped":
            # The parcel is on its way. The ERP still hears of the cancellation.
            self.state["shipped_before_cancel"] = True
            log.warning("order cancelled after the warehouse shipped it; it needs a return",
                        extra={"order_id": self.key})
        elif status != "cancelled":
            raise RejectedError(f"the WMS holds order {self.key} as {status} and will not cancel it; stop it in "
                                "the WMS, then retry this message", connector="wms", code="NOT_CANCELLABLE_AT_WMS")

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
