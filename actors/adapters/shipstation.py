"""ShipstationWms: the ``Wms`` port on ShipStation V1 orders (contracts: peppasync/contracts/shipstation.json).

ShipStation's createorder creates or replaces a whole order, keyed by ``orderKey``
(the storefront's order id). It requires orderNumber, orderDate, orderStatus,
billTo and shipTo (https://www.shipstation.com/docs/api/orders/create-update-order/);
a cancellation is the same body with ``orderStatus`` cancelled.
"""

from __future__ import annotations

from typing import Any

from peppasync.errors import ValidationError

from actors.connectors import Priority, WmsConnector, call
from actors.domain import Address, Order, WmsOrder, WmsStatus

__all__ = ["ShipstationWms", "createorder_record"]

_STATUSES: dict[str, WmsStatus] = {
    "awaiting_payment": "open",
    "awaiting_shipment": "open",
    "on_hold": "open",
    "shipped": "shipped",
    "pending_fulfillment": "with_provider",
    "cancelled": "cancelled",
}


def _address(address: Address, name: str) -> dict[str, Any]:
    """An address as ShipStation's Address model; ``name`` when the address has none."""
    return {
        "name": address.name or name,
        "company": address.company or None,
        "street1": address.street1 or None,
        "street2": address.street2 or None,
        "city": address.city or None,
        "state": address.region or None,
        "postalCode": address.postal_code or None,
        "country": address.iso_country,
        "phone": address.phone or None,
    }


def createorder_record(order: Order, status: str = "awaiting_shipment", notes: str = "") -> dict[str, Any]:
    """The whole createorder body for an order, keyed by its id.

    billTo is the billing address, else the shipping address, else just the buyer's
    name (or email); never empty. ``notes`` go in ``internalNotes``, which the warehouse
    staff see and the customer does not (why an order is on hold, say).
    """
    who = order.buyer
    shipping = order.shipping_address or Address()
    ship_to = _address(shipping, who)
    if order.needs_shipping and ship_to["country"] is None:
        raise ValidationError(f"the shipping address has no two-letter country code ({shipping.country_code!r}); "
                              "the WMS takes ISO 3166 codes only", field="shipping_address")
    billing = order.billing_address
    if billing is not None and billing.is_postal:
        bill_to = _address(billing, who)
    elif shipping.is_postal:
        bill_to = dict(ship_to)
    else:
        bill_to = {"name": who}
    placed = order.created_at or order.updated_at
    if not placed:
        raise ValidationError("the order has no created_at; the WMS requires the date it was placed",
                              field="created_at")
    return {
        "orderNumber": order.name,
        "orderKey": order.id,
        "orderDate": placed,
        "orderStatus": status,
        "customerEmail": order.email or None,
        "amountPaid": float(order.total),
        "billTo": bill_to,
        "shipTo": ship_to,
        "items": [
            {"sku": line.sku, "name": line.title, "quantity": line.quantity, "unitPrice": float(line.price)}
            for line in order.lines
            if line.requires_shipping
        ],
        **({"internalNotes": notes} if notes else {}),
    }


def _held(order: dict[str, Any]) -> WmsOrder:
    status = str(order.get("orderStatus") or "")
    held_id = order.get("orderId")
    return WmsOrder(id=int(held_id) if isinstance(held_id, int) else None, status=_STATUSES.get(status, "other"),
                    detail=status)


class ShipstationWms:
    """The ``Wms`` port on one ShipStation account."""

    def __init__(self, connector: WmsConnector) -> None:
        self.connector = connector
        self.name = connector.name

    def place_order(self, order: Order, *, held_id: int | None = None, priority: int = Priority.NORMAL,
                    hold: str = "") -> WmsOrder:
        # on_hold keeps it from being picked until it is written again as awaiting_shipment
        # (https://www.shipstation.com/docs/api/orders/create-update-order/: both are updatable).
        status = "on_hold" if hold else "awaiting_shipment"
        return self._write(createorder_record(order, status, hold), held_id, priority)

    def cancel_order(self, order: Order, *, held_id: int | None = None,
                     priority: int = Priority.NORMAL) -> WmsOrder:
        return self._write(createorder_record(order, "cancelled"), held_id, priority)

    def _write(self, body: dict[str, Any], held_id: int | None, priority: int) -> WmsOrder:
        return _held(call(self.name, self.connector.upsert_order, body, order_id=held_id, priority=priority))
