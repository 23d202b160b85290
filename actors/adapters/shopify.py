"""ShopifyStorefront: the ``Storefront`` port on Shopify's Admin GraphQL API; and a sale's money.

``sale_facts`` reads the money of an order webhook body (the REST order resource,
``peppasync/contracts/shopify.json``): every amount from its ``*_set`` in both
currencies where Shopify sends one, else from the plain amount in the shop's currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from peppasync.money import MoneyBag

from actors.connectors import ShopifyConnector, call
from actors.domain import Shipment, StorefrontHold
from actors.margin_model import Refund, RefundLine, SaleFacts, SoldLine, Transaction

__all__ = ["ShopifyPayments", "ShopifyStorefront", "ShopifyUnitCosts", "sale_facts"]

# Refunded units that went back on the shelf (returned, or never shipped), so they cost nothing.
# https://shopify.dev/docs/api/admin-rest/latest/resources/refund#resource-object (restock_type)
_BACK_IN_STOCK = frozenset({"return", "cancel", "legacy_restock"})


class ShopifyStorefront:
    """The ``Storefront`` port on one shop."""

    def __init__(self, connector: ShopifyConnector) -> None:
        self.connector = connector
        self.name = connector.name

    def holds(self, order_id: str) -> tuple[StorefrontHold, ...]:
        return _holds(call(self.name, self.connector.fulfillment_holds, order_id))

    def product_tags(self, order_id: str) -> frozenset[str]:
        return frozenset(call(self.name, self.connector.order_product_tags, order_id))

    def hold(self, order_id: str, handle: str, notes: str) -> tuple[StorefrontHold, ...]:
        return _holds(call(self.name, self.connector.hold_fulfillment, order_id, handle, notes))

    def release(self, order_id: str, holds: tuple[StorefrontHold, ...]) -> None:
        mine = [(h.fulfillment_order_id, h.id) for h in holds if h.ours]
        if mine:
            call(self.name, self.connector.release_holds, mine)

    def fulfill(self, order_id: str, shipment: Shipment) -> tuple[StorefrontHold, ...]:
        done = call(self.name, self.connector.fulfill, order_id, shipment.tracking_number, shipment.carrier,
                    shipment.tracking_url)
        return _holds(done["held"])


class ShopifyUnitCosts:
    """The cost book's reader of Shopify's ``InventoryItem.unitCost`` (the shop's default currency;
    https://shopify.dev/docs/api/admin-graphql/latest/objects/InventoryItem)."""

    sources: tuple[str, ...] = ("shopify.unit_cost",)

    def __init__(self, connector: ShopifyConnector) -> None:
        self.connector = connector

    def unit_costs(self, sku: str) -> Mapping[str, Decimal]:
        amount = call(self.connector.name, self.connector.unit_cost, sku)
        return {} if amount is None else {"shopify.unit_cost": Decimal(amount)}


class ShopifyPayments:
    """What an order's payments cost: its captured transactions and their fees.

    Shopify reports fees on Shopify Payments transactions only
    (https://shopify.dev/docs/api/admin-graphql/latest/objects/transactionfee); a charge
    through another gateway has ``fees`` None, and the margin estimates them.
    """

    def __init__(self, connector: ShopifyConnector) -> None:
        self.connector = connector

    def charges(self, order_ids: Sequence[str]) -> dict[str, tuple[Transaction, ...] | None]:
        """Each order's money taken (successful sales and captures), by order id, read in as
        few calls as the API allows; None for an order Shopify does not have."""
        found = call(self.connector.name, self.connector.orders_transactions, order_ids)
        return {order_id: None if transactions is None else _charges(transactions)
                for order_id, transactions in found.items()}


def _charges(transactions: Iterable[Mapping[str, Any]]) -> tuple[Transaction, ...]:
    charges = []
    for t in transactions:
        if t.get("kind") not in ("SALE", "CAPTURE") or t.get("status") != "SUCCESS":
            continue
        fees = t.get("fees") or []
        reported = t.get("gateway") == "shopify_payments" and bool(fees)
        charges.append(Transaction(
            Decimal(str(t["amountSet"]["shopMoney"]["amount"])),
            sum((Decimal(str(f["amount"]["amount"])) for f in fees), Decimal(0)) if reported else None,
        ))
    return tuple(charges)


def sale_facts(body: Mapping[str, Any]) -> SaleFacts:
    """The money of an order as its webhook body states it: lines, shipping, tax and refunds.

    Costs, labels and payment fees are not in the body; the caller adds them. In a shop
    whose prices include tax, a refund line's ``subtotal`` includes its tax too, so the
    tax is taken off to keep every amount tax excluded.
    """
    taxes_included = bool(body.get("taxes_included"))
    lines = tuple(
        SoldLine(
            sku=str(item.get("sku") or ""),
            quantity=int(item["quantity"]),
            price=_bag(item.get("price_set"), item.get("price")),
            discount=_sum(_bag(d.get("amount_set"), d.get("amount")) for d in item.get("discount_allocations") or ()),
            tax=_sum(_bag(t.get("price_set"), t.get("price")) for t in item.get("tax_lines") or ()),
            gift_card=bool(item.get("gift_card")),
        )
        for item in body["line_items"]
    )
    shipping_lines = body.get("shipping_lines") or ()
    skus = {item.get("id"): str(item.get("sku") or "") for item in body["line_items"]}
    return SaleFacts(
        order_id=str(body["id"]),
        shop_currency=str(body["currency"]),
        presentment_currency=str(body.get("presentment_currency") or body["currency"]),
        lines=lines,
        shipping=_sum(_bag(s.get("discounted_price_set") or s.get("price_set"), s.get("price"))
                      for s in shipping_lines),
        shipping_tax=_sum(_bag(t.get("price_set"), t.get("price"))
                          for s in shipping_lines for t in s.get("tax_lines") or ()),
        taxes_included=taxes_included,
        total=_bag(body.get("total_price_set"), body.get("total_price")),
        needs_shipping=any(bool(item.get("requires_shipping", True)) for item in body["line_items"]),
        refunds=tuple(_refund(refund, skus, taxes_included) for refund in body.get("refunds") or ()),
    )


def _refund(refund: Mapping[str, Any], skus: Mapping[Any, str], taxes_included: bool) -> Refund:
    lines = []
    for given in refund.get("refund_line_items") or ():
        amount = _bag(given.get("subtotal_set"), given.get("subtotal"))
        if taxes_included:
            amount = amount - _bag(given.get("total_tax_set"), given.get("total_tax"))
        item = given.get("line_item") or {}
        sku = str(item.get("sku") or skus.get(given.get("line_item_id")) or "")
        lines.append(RefundLine(sku, int(given["quantity"]), amount,
                                restocked=given.get("restock_type") in _BACK_IN_STOCK))
    shipping, other = MoneyBag(), MoneyBag()
    for adjustment in refund.get("order_adjustments") or ():
        # Adjustments are negative for money given back.
        given_back = MoneyBag() - _bag(adjustment.get("amount_set"), adjustment.get("amount"))
        if adjustment.get("kind") == "shipping_refund":
            shipping = shipping + given_back
        else:
            other = other + given_back
    return Refund(str(refund["id"]), tuple(lines), shipping, other)


def _holds(found: Iterable[Mapping[str, Any]]) -> tuple[StorefrontHold, ...]:
    """Shopify's ``FulfillmentHold`` objects as the order flow's values."""
    return tuple(StorefrontHold(str(h["id"]), str(h["reason"]), str(h.get("handle") or ""),
                                bool(h.get("heldByRequestingApp")), str(h.get("fulfillmentOrderId") or ""))
                 for h in found)


def _bag(money_set: Mapping[str, Any] | None, amount: Any) -> MoneyBag:
    if money_set:
        return MoneyBag.of(money_set["shop_money"]["amount"], money_set["presentment_money"]["amount"])
    return MoneyBag.of(Decimal(str(amount or 0)))


def _sum(bags: Iterable[MoneyBag]) -> MoneyBag:
    total = MoneyBag()
    for bag in bags:
        total = total + bag
    return total
