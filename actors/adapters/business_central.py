"""BusinessCentralErp: the ``Erp`` port on Business Central's API v2.0.

Contracts: ``peppasync/contracts/business_central.json``.

Business Central has no upsert by external id, so creation is made idempotent by a key of
our own: a sales order's number is ``SH{Shopify order id}`` and a customer's
``SHC{Shopify customer id}``. An order is created with all its lines in one request (deep
insert). A create repeated after a crash, or retried after its answer was lost, meets the
number already taken and is refused by Business Central itself
(``Internal_EntityWithSameKeyExists``), so no sequence of crashes makes a second order;
the order is then looked up by its externalDocumentNumber (the Shopify order id) and
brought to the lines wanted (``reconcile``): changed lines patched, missing ones added,
extra ones deleted, then read again until they match. Creating first costs a new order
one call; an order synced again pays one refused create for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from peppasync.errors import ConnectorError, RejectedError, TransientError

from actors.connectors import BusinessCentralConnector, Priority, call
from actors.domain import Customer, Order, Refund
from actors.validation import minor_unit

from .netsuite import GIFT_CARD_ITEM, net_amounts

__all__ = ["BusinessCentralErp", "customer_number", "order_lines", "sales_order_number"]

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Line fields compared when an existing order is brought to the lines wanted.
_COMPARED = ("quantity", "unitPrice", "discountAmount", "description")
# Passes of reconciliation before giving up for now (a line write retried after a lost answer
# can add a line twice; the next pass removes it).
_PASSES = 3


def sales_order_number(order_id: str) -> str:
    """The sales order's number: the order's key in Business Central, ``SH`` and the Shopify id."""
    return f"SH{order_id}"


def customer_number(customer_id: str) -> str:
    """The customer's number: ``SHC`` and the Shopify customer id."""
    return f"SHC{customer_id}"


def customer_record(customer: Customer) -> dict[str, Any]:
    """The CustomerCreate body: a person when both names are known, else a company named by what there is."""
    person = bool(customer.first_name and customer.last_name)
    body: dict[str, Any] = {
        "number": customer_number(customer.id),
        "displayName": (customer.full_name if person else customer.first_name or customer.last_name
                        or customer.email or f"Shopify customer {customer.id}")[:100],
        "type": "Person" if person else "Company",
    }
    if customer.email:
        body["email"] = customer.email[:80]
    return body


def order_lines(order: Order, non_sku_item: str = "") -> list[dict[str, Any]]:
    """The SalesOrderLineCreate bodies of an order, in its order: item by number (the SKU), quantity,
    price, and the line's share of the order's discount."""
    amounts = net_amounts(order.lines, order.discounts, minor_unit(order.currency))
    lines = []
    for line, amount in zip(order.lines, amounts):
        discount = line.price * line.quantity - amount
        body: dict[str, Any] = {
            "lineType": "Item",
            "lineObjectNumber": non_sku_item if line.non_sku else (line.sku or GIFT_CARD_ITEM),
            "description": line.title[:100],
            "quantity": line.quantity,
            "unitPrice": float(line.price),
        }
        if discount > 0:
            body["discountAmount"] = float(discount)
        lines.append(body)
    return lines


def sales_order_record(order: Order, *, guest_customer: str, non_sku_item: str = "") -> dict[str, Any]:
    """The SalesOrderCreate body: header and every line (deep insert)."""
    body: dict[str, Any] = {
        "number": sales_order_number(order.id),
        "externalDocumentNumber": order.id,
        "customerNumber": customer_number(order.customer.id) if order.customer is not None else guest_customer,
        "currencyCode": order.currency,
        "salesOrderLines": order_lines(order, non_sku_item),
    }
    day = order.created_at[:10]
    if _DAY.fullmatch(day):
        body["orderDate"] = day  # the shop's own date: a late sync must not book the order a day later
    email = order.email or (order.customer.email if order.customer is not None else "")
    if email:
        body["email"] = email
    return body


class BusinessCentralErp:
    """The ``Erp`` port on one Business Central company."""

    def __init__(self, connector: BusinessCentralConnector, *, guest_customer: str, non_sku_item: str = "") -> None:
        self.connector = connector
        self.name = connector.name
        self.guest_customer = guest_customer
        self.non_sku_item = non_sku_item
        self.books_non_sku_lines = bool(non_sku_item)

    def upsert_customer(self, customer: Customer, *, priority: int = Priority.NORMAL) -> None:
        call(self.name, self._upsert_customer, customer, priority)

    def upsert_sales_order(self, order: Order, *, priority: int = Priority.NORMAL,
                           pending_approval: bool | None = None) -> None:
        """The order flow upserts the order's customer first (``upsert_customer``), when it changed.

        ``pending_approval`` is not written: this adapter maps no approval of Business Central's
        sales orders yet; a build-to-order order is kept from the warehouse and Shopify instead.
        """
        call(self.name, self._upsert_sales_order, order, priority)

    def cancel_sales_order(self, order: Order) -> None:
        call(self.name, self._cancel, order)

    # Money beyond the sales order is not booked in Business Central yet: payments are left to the
    # company's own cash receipt journals, and a refund or a return is refused where an operator
    # sees it (the order's quarantine, with what to book by hand), never dropped in silence.

    def record_payments(self, order: Order, *, priority: int = Priority.NORMAL) -> None:
        """Nothing: Business Central's payments come from its cash receipt journals."""

    def upsert_refund(self, order: Order, refund: Refund, *, priority: int = Priority.NORMAL) -> None:
        raise RejectedError(
            f"{self.name}: refunds are not booked in Business Central by Peppasync: book a sales credit memo "
            f"for Shopify refund {refund.id} of order {order.name} ({refund.total} {refund.currency}) by hand, "
            "then discard this entry", connector=self.name, code="REFUND_NOT_BOOKED")

    def open_return(self, order: Order, *, priority: int = Priority.NORMAL) -> None:
        raise RejectedError(
            f"{self.name}: returns are not opened in Business Central by Peppasync: order {order.name} was "
            "cancelled after it shipped; open a sales return order by hand, then discard this entry",
            connector=self.name, code="RETURN_NOT_OPENED")

    # -- steps (each raises the connector's errors; ``call`` translates them) -----

    def _upsert_customer(self, customer: Customer, priority: int) -> None:
        body = customer_record(customer)
        bc = self.connector
        if bc.create_customer(body, priority=priority) is not None:
            return
        found = bc.find_customer(body["number"], priority=priority)  # the number is taken: it is ours
        if found is None:
            raise TransientError(f"{self.name}: customer {body['number']} exists yet cannot be read")
        changes = {k: v for k, v in body.items() if k != "number" and found.get(k) != v}
        if changes:
            bc.update_customer(str(found["id"]), changes, priority=priority)

    def _upsert_sales_order(self, order: Order, priority: int) -> None:
        body = sales_order_record(order, guest_customer=self.guest_customer, non_sku_item=self.non_sku_item)
        if not body["customerNumber"]:
            raise ConnectorError(f"{self.name}: this order has no Shopify customer and Business Central "
                                 "requires one on every sales order: set [business_central] guest_customer "
                                 "to the number of the customer that takes guest orders",
                                 connector=self.name, code="CONFIG_GUEST_CUSTOMER", transient=False)
        # Create first: a new order costs one call. When its number is taken, the order exists
        # (an earlier sync, or a create whose answer was lost): find it and make its lines right.
        if self.connector.create_sales_order(body, priority=priority) is not None:
            return
        record = self._find(order, priority)
        if record is None:
            raise TransientError(f"{self.name}: sales order {body['number']} exists yet cannot be read")
        self._reconcile(str(record["id"]), order_lines(order, self.non_sku_item), priority)

    def _find(self, order: Order, priority: int) -> Mapping[str, Any] | None:
        """The order's sales order: the one with our number among those with its externalDocumentNumber."""
        number = sales_order_number(order.id)
        found = self.connector.find_sales_orders(order.id, priority=priority)
        ours = next((r for r in found if r.get("number") == number), None)
        # Someone changed its externalDocumentNumber in Business Central: the number still says it is ours.
        return ours if ours is not None else self.connector.find_sales_order(number, priority=priority)

    def _reconcile(self, order_id: str, wanted: Sequence[Mapping[str, Any]], priority: int) -> None:
        """Bring the order's lines to ``wanted`` in their order; read back until they match.

        Lines that hold the wanted item in the wanted place are patched where they differ; from
        the first place where the items part, the order's lines are deleted and the wanted ones
        added, so the lines keep Shopify's order in one pass.
        """
        bc = self.connector
        for _ in range(_PASSES):
            have = bc.sales_order_lines(order_id, priority=priority)
            if _same(have, wanted):
                return
            kept = 0
            while (kept < min(len(have), len(wanted)) and have[kept].get("lineType") == "Item"
                   and have[kept].get("lineObjectNumber") == wanted[kept]["lineObjectNumber"]):
                kept += 1
            for current, line in zip(have[:kept], wanted[:kept]):
                changes = {k: line.get(k, 0) for k in _COMPARED if not _equal(current.get(k), line.get(k, 0))}
                if changes:
                    bc.update_sales_order_line(order_id, str(current["id"]), changes, priority=priority)
            for extra in have[kept:]:
                bc.delete_sales_order_line(order_id, str(extra["id"]), priority=priority)
            for line in wanted[kept:]:
                bc.add_sales_order_line(order_id, dict(line), priority=priority)
        raise TransientError(f"{self.name}: the lines of sales order {order_id} did not settle in {_PASSES} passes")

    def _cancel(self, order: Order) -> None:
        """Delete the order's sales order: Business Central has no cancelled state for an open order."""
        for record in self.connector.find_sales_orders(order.id, priority=Priority.HIGH):
            if record.get("number") == sales_order_number(order.id):
                self.connector.delete_sales_order(str(record["id"]), priority=Priority.HIGH)


def _equal(have: Any, want: Any) -> bool:
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        try:
            return Decimal(str(have or 0)) == Decimal(str(want))
        except ArithmeticError:
            return False
    return bool(have == want)


def _same(have: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]]) -> bool:
    if len(have) != len(wanted):
        return False
    return all(h.get("lineObjectNumber") == w["lineObjectNumber"]
               and all(_equal(h.get(k), w.get(k, 0)) for k in _COMPARED)
               for h, w in zip(have, wanted))
