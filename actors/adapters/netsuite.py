"""NetsuiteErp: the ``Erp`` port on NetSuite's REST record API (contracts: peppasync/contracts/netsuite.json).

A sales order is upserted by external id (the storefront's order id) with all its
lines in one record, a customer by ``shopify-customer-{id}``. NetSuite computes
totals and tax itself (read-only), so the order's discount goes into the lines.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal
from typing import Any

from actors.connectors import NetsuiteConnector, Priority, call
from actors.domain import Customer, Line, Order
from actors.validation import minor_unit

__all__ = ["GIFT_CARD_ITEM", "NetsuiteErp", "customer_record", "sales_order_record"]

# The NetSuite item that stands for a gift card sold without a SKU.
GIFT_CARD_ITEM = "GIFT-CARD"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def customer_record(customer: Customer) -> dict[str, Any]:
    """The NetSuite customer upsert body (contract: CustomerUpsert).

    A customer with a first and a last name is a person; NetSuite requires both names of a
    person and a company name otherwise, so one without both is entered as a company under
    the name it has, else its email. Empty fields are left out (null is not a string). In a
    OneWorld account the connector adds the subsidiary (``NetsuiteAccount``).
    """
    body: dict[str, Any] = {"externalId": f"shopify-customer-{customer.id}"}
    if customer.first_name and customer.last_name:
        body.update(isPerson=True, firstName=customer.first_name, lastName=customer.last_name)
    else:
        body.update(isPerson=False, companyName=customer.first_name or customer.last_name or customer.email
                    or f"Shopify customer {customer.id}")
    if customer.email:
        body["email"] = customer.email
    return body


def sales_order_record(order: Order, non_sku_item: str = "") -> dict[str, Any]:
    """The NetSuite sales order for an order: all its lines in one record (contract: SalesOrderUpsert).

    Each line's ``amount`` is its price times quantity less its share of the discount. Two
    references are the account's to complete (``NetsuiteAccount``): an order without a
    customer gets the guest customer, and the currency, named here by its ISO code, gets its
    record's internal id. A line without a SKU is booked on ``non_sku_item`` (an internal id)
    with its own title and price.
    """
    amounts = net_amounts(order.lines, order.discounts, minor_unit(order.currency))
    body: dict[str, Any] = {
        "externalId": order.id,
        "otherRefNum": order.name,
        "memo": f"Shopify {order.name}" + (" (test order)" if order.test else ""),
        "currency": {"refName": order.currency},
        "item": {
            "items": [
                {
                    "item": {"id": non_sku_item} if line.non_sku else {"externalId": line.sku or GIFT_CARD_ITEM},
                    "quantity": line.quantity,
                    "rate": float(line.price),
                    "amount": float(amount),
                    "description": line.title,
                }
                for line, amount in zip(order.lines, amounts)
            ]
        },
    }
    day = order.created_at[:10]
    if _DAY.fullmatch(day):
        body["tranDate"] = day  # the shop's own date: a late sync must not book the order a day later
    if order.customer is not None:
        body["entity"] = {"externalId": f"shopify-customer-{order.customer.id}"}
    return body


def net_amounts(lines: tuple[Line, ...], discount: Decimal, unit: Decimal) -> list[Decimal]:
    """Each line's price times quantity less its share of ``discount``, in the currency's minor
    ``unit`` (cents; whole yen), summing exactly.

    Shares follow the lines' amounts; gift cards take none (Shopify does not discount them).
    What rounding leaves over goes to the largest line.
    """
    gross = [line.price * line.quantity for line in lines]
    eligible = [Decimal(0) if line.gift_card else g for line, g in zip(lines, gross)]
    base = sum(eligible, Decimal(0))
    if discount <= 0 or base <= 0:
        return gross
    discount = min(discount, base)
    shares = [(discount * e / base).quantize(unit, rounding=ROUND_DOWN) for e in eligible]
    largest = max(range(len(lines)), key=lambda n: eligible[n])
    shares[largest] += discount - sum(shares, Decimal(0))
    return [g - s for g, s in zip(gross, shares)]


class NetsuiteErp:
    """The ``Erp`` port on one NetSuite account."""

    def __init__(self, connector: NetsuiteConnector, *, non_sku_item: str = "") -> None:
        self.connector = connector
        self.name = connector.name
        self.non_sku_item = non_sku_item
        self.books_non_sku_lines = bool(non_sku_item)

    def upsert_customer(self, customer: Customer, *, priority: int = Priority.NORMAL) -> None:
        call(self.name, self.connector.upsert_customer, customer.id, customer_record(customer), priority=priority)

    def upsert_sales_order(self, order: Order, *, priority: int = Priority.NORMAL) -> None:
        call(self.name, self.connector.upsert_sales_order, order.id, sales_order_record(order, self.non_sku_item),
             priority=priority)

    def cancel_sales_order(self, order: Order) -> None:
        call(self.name, self.connector.cancel_sales_order, order.id)
