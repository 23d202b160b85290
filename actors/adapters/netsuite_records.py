"""The NetSuite records an order's money becomes: sales order, customer deposit, refund, return.

Every body keeps the contract of ``peppasync/contracts/netsuite.json``. Amounts are
sent tax exclusive and in the currency's minor unit, so that a sales order's lines,
discount lines, shipping and tax add up to the storefront's total exactly as the
storefront rounded it. How shipping, discounts and tax are written is the account's
choice (``NetsuiteRules``, from ``[netsuite]``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from peppasync.config import NetsuiteConfig
from peppasync.errors import ConnectorError
from peppasync.money import minor_unit

from actors.domain import Line, Order, Payment, Refund, RefundLine

__all__ = [
    "GIFT_CARD_ITEM",
    "NetsuiteRules",
    "deposit_record",
    "net_amounts",
    "refund_record",
    "return_record",
    "sales_order_record",
    "spread",
]

# The NetSuite item that stands for a gift card sold without a SKU of its own.
GIFT_CARD_ITEM = "GIFT-CARD"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The tax details reference NetSuite gives the shipping charge's tax (SuiteTax).
SHIPPING_TAX_REFERENCE = "SHIPPING"


@dataclass(frozen=True)
class NetsuiteRules:
    """How the account books an order's money; every id is a NetSuite internal id.

    - ``shipping``: ``ship_method`` sets the sales order's ``shippingCost`` and a ``shipMethod``
      (a shipping item) found by the Shopify shipping line's title, then its code, in
      ``ship_methods``, else ``default_ship_method``; ``item`` books shipping as a line on
      ``shipping_item``.
    - ``discounts``: ``net`` writes each line net of its discount; ``item`` writes the line at
      its full price followed by a line on ``discount_item`` for its discount.
    - ``tax``: ``erp`` leaves tax to NetSuite's tax engine; ``lines`` overrides the tax details
      with Shopify's tax per line, under ``tax_code``.
    - ``currency``: ``shop`` books in the shop's currency; ``presentment`` in the buyer's, at
      the exchange rate Shopify charged (the subsidiary's base currency being the shop's).
    - ``deposits``: captured payments become customer deposits on the sales order.
    - ``refunds``: ``credit_memo`` or ``cash_refund`` (from ``refund_account`` when given);
      amounts not tied to a line or shipping go on ``refund_item``, else ``non_sku_item``.
    """

    non_sku_item: str = ""
    gift_card_item: str = ""
    shipping: Literal["ship_method", "item"] = "ship_method"
    ship_methods: Mapping[str, int] = field(default_factory=dict)
    default_ship_method: str = ""
    shipping_item: str = ""
    discounts: Literal["net", "item"] = "net"
    discount_item: str = ""
    tax: Literal["erp", "lines"] = "erp"
    tax_code: str = ""
    currency: Literal["shop", "presentment"] = "shop"
    deposits: bool = True
    refunds: Literal["credit_memo", "cash_refund"] = "credit_memo"
    refund_account: str = ""
    refund_item: str = ""

    @classmethod
    def from_config(cls, config: NetsuiteConfig) -> NetsuiteRules:
        """The rules ``[netsuite]`` states (validated by ``peppasync.config``)."""
        return cls(
            non_sku_item=config.non_sku_item, gift_card_item=config.gift_card_item,
            shipping="item" if config.shipping == "item" else "ship_method",
            ship_methods=dict(config.ship_methods), default_ship_method=config.default_ship_method,
            shipping_item=config.shipping_item, discounts="item" if config.discounts == "item" else "net",
            discount_item=config.discount_item, tax="lines" if config.tax == "lines" else "erp",
            tax_code=config.tax_code, currency="presentment" if config.book_currency == "presentment" else "shop",
            deposits=config.deposits, refunds="cash_refund" if config.refunds == "cash_refund" else "credit_memo",
            refund_account=config.refund_account, refund_item=config.refund_item,
        )


# -- amounts ---------------------------------------------------------------------------


def spread(total: Decimal, weights: Sequence[Decimal], unit: Decimal) -> list[Decimal]:
    """``total`` in shares following ``weights``, each in the minor ``unit``, summing exactly.

    What rounding down leaves over goes a unit at a time to the largest weights.
    """
    whole = sum(weights, Decimal(0))
    if not weights or whole <= 0 or total == 0:
        return [Decimal(0) for _ in weights]
    shares = [(total * w / whole).quantize(unit, rounding=ROUND_DOWN) for w in weights]
    left = total - sum(shares, Decimal(0))
    order = sorted(range(len(weights)), key=lambda n: (-weights[n], n))
    step = unit if left > 0 else -unit
    n = 0
    while left != 0 and n < 10 * len(weights):
        shares[order[n % len(order)]] += step
        left -= step
        n += 1
    return shares


def net_amounts(lines: tuple[Line, ...], discount: Decimal, unit: Decimal) -> list[Decimal]:
    """Each line's price times quantity less its share of ``discount``, in the minor ``unit``.

    Shares follow the lines' amounts; gift cards take none (Shopify does not discount them).
    """
    gross = [line.price * line.quantity for line in lines]
    return [g - d for g, d in zip(gross, _discounts(lines, discount, unit))]


def _discounts(lines: Sequence[Line], total: Decimal, unit: Decimal) -> list[Decimal]:
    """Each line's discount: Shopify's allocations where the order has them, scaled to the order's figure."""
    given = [line.discount for line in lines]
    if all(d is not None for d in given) and sum((d or Decimal(0) for d in given), Decimal(0)) > 0:
        return spread(total, [d or Decimal(0) for d in given], unit)
    eligible = [Decimal(0) if line.gift_card else line.price * line.quantity for line in lines]
    return spread(min(total, sum(eligible, Decimal(0))), eligible, unit)


def _taxes(lines: Sequence[Line], total: Decimal, nets: Sequence[Decimal], unit: Decimal) -> list[Decimal]:
    """Each line's tax: Shopify's tax lines where the order has them, scaled to the order's figure."""
    given = [line.tax for line in lines]
    if all(t is not None for t in given) and sum((t or Decimal(0) for t in given), Decimal(0)) > 0:
        return spread(total, [t or Decimal(0) for t in given], unit)
    return spread(total, [Decimal(0) if line.gift_card else n for line, n in zip(lines, nets)], unit)


def _number(amount: Decimal) -> float | int:
    """An amount as a JSON number (NetSuite's currency fields are numbers)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


# -- sales order -------------------------------------------------------------------------


def sales_order_record(order: Order, non_sku_item: str = "", *, rules: NetsuiteRules | None = None) -> dict[str, Any]:
    """The NetSuite sales order for an order: all its lines in one record (contract: SalesOrderUpsert).

    Its item lines, discount lines, shipping and tax add up to the order's total. Two
    references are the account's to complete (``NetsuiteAccount``): an order without a
    customer gets the guest customer, and the currency, named here by its ISO code, gets
    its record's internal id.
    """
    rules = rules or NetsuiteRules(non_sku_item=non_sku_item)
    if non_sku_item and not rules.non_sku_item:
        rules = replace(rules, non_sku_item=non_sku_item)
    booked = order.in_presentment() if rules.currency == "presentment" else order
    body: dict[str, Any] = {
        "externalId": order.id,
        "otherRefNum": order.name,
        "memo": f"Shopify {order.name}" + (" (test order)" if order.test else ""),
        "currency": {"refName": booked.currency},
    }
    if booked.currency != order.currency and order.exchange_rate is not None:
        body["exchangeRate"] = float(order.exchange_rate)
    items, details = _money_lines(booked, rules)
    body["item"] = {"items": items}
    shipping = _shipping(booked, rules, items, details)
    body.update(shipping)
    if rules.tax == "lines":
        body["taxDetailsOverride"] = True
        body["taxDetails"] = {"items": details}
    _dated(body, order.created_at)
    if order.customer is not None:
        body["entity"] = {"externalId": f"shopify-customer-{order.customer.id}"}
    return body


def _money_lines(order: Order, rules: NetsuiteRules) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The item sublist and, for ``tax = "lines"``, the tax details of each line."""
    unit = minor_unit(order.currency)
    lines = order.lines
    discounts = _discounts(lines, order.discounts, unit)
    shipping_tax = sum((s.tax for s in order.shipping), Decimal(0))
    gross = [line.price * line.quantity for line in lines]
    taxes = _taxes(lines, order.tax - shipping_tax, [g - d for g, d in zip(gross, discounts)], unit)
    # Prices that include tax are booked net of it: NetSuite's amounts are tax exclusive.
    taxes_inside = taxes if order.taxes_included else [Decimal(0) for _ in lines]
    items: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for n, (line, full, discount, tax, inside) in enumerate(zip(lines, gross, discounts, taxes, taxes_inside)):
        net = full - discount - inside
        reference = f"line-{n + 1}"
        if rules.discounts == "item" and discount:
            if not rules.discount_item:
                raise _unconfigured("discount_item", "[netsuite] discounts = \"item\" books each line's discount "
                                    "on a discount item: set [netsuite] discount_item to its internal id")
            items.append(_item_line(line, net + discount, rules, reference if rules.tax == "lines" else ""))
            items.append({"item": {"id": rules.discount_item}, "rate": _number(-discount),
                          "amount": _number(-discount), "description": f"Discount on {line.title}"})
        else:
            items.append(_item_line(line, net, rules, reference if rules.tax == "lines" else ""))
        if rules.tax == "lines" and tax:
            details.append(_tax_detail(reference, net, tax, rules))
    return items, details


def _item_line(line: Line, amount: Decimal, rules: NetsuiteRules, tax_reference: str) -> dict[str, Any]:
    if line.non_sku:
        item: dict[str, Any] = {"id": rules.non_sku_item}
    elif line.gift_card and rules.gift_card_item:
        item = {"id": rules.gift_card_item}
    else:
        item = {"externalId": line.sku or GIFT_CARD_ITEM}
    out: dict[str, Any] = {"item": item, "quantity": line.quantity,
                           "rate": _number(amount / line.quantity) if line.quantity else 0,
                           "amount": _number(amount), "description": line.title}
    if tax_reference:
        out["taxDetailsReference"] = tax_reference
    return out


def _tax_detail(reference: str, basis: Decimal, amount: Decimal, rules: NetsuiteRules) -> dict[str, Any]:
    if not rules.tax_code:
        raise _unconfigured("tax_code", "[netsuite] tax = \"lines\" writes Shopify's tax on each line under one "
                            "tax code: set [netsuite] tax_code to its internal id")
    return {"taxDetailsReference": reference, "taxCode": {"id": rules.tax_code}, "taxBasis": _number(basis),
            "taxAmount": _number(amount)}


def _shipping(order: Order, rules: NetsuiteRules, items: list[dict[str, Any]],
              details: list[dict[str, Any]]) -> dict[str, Any]:
    """The shipping charge: body fields to add, or a line appended to ``items``."""
    amount = sum((s.amount for s in order.shipping), Decimal(0))
    tax = sum((s.tax for s in order.shipping), Decimal(0))
    if order.taxes_included:
        amount -= tax
    if not order.shipping or (amount == 0 and tax == 0):
        return {}
    title = " + ".join(s.title or s.code for s in order.shipping)
    if rules.shipping == "item":
        if not rules.shipping_item:
            raise _unconfigured("shipping_item", "[netsuite] shipping = \"item\" books shipping as a line: set "
                                "[netsuite] shipping_item to the internal id of that item")
        line: dict[str, Any] = {"item": {"id": rules.shipping_item}, "quantity": 1, "rate": _number(amount),
                                "amount": _number(amount), "description": title or "Shipping"}
        if rules.tax == "lines":
            line["taxDetailsReference"] = "line-shipping"
            if tax:
                details.append(_tax_detail("line-shipping", amount, tax, rules))
        items.append(line)
        return {}
    if rules.tax == "lines" and tax:
        details.append(_tax_detail(SHIPPING_TAX_REFERENCE, amount, tax, rules))
    return {"shippingCost": _number(amount), **ship_method(order, rules)}


def ship_method(order: Order, rules: NetsuiteRules) -> dict[str, Any]:
    """``shipMethod``, the shipping item for the order's shipping: by the Shopify line's title, then
    its code, in ``ship_methods``, else ``default_ship_method``; none when neither names one (the
    shipping cost is still booked, and NetSuite keeps the customer's own shipping item)."""
    for shipping in order.shipping:
        for key in (shipping.title, shipping.code):
            if key and key in rules.ship_methods:
                return {"shipMethod": {"id": str(rules.ship_methods[key])}}
    if rules.default_ship_method:
        return {"shipMethod": {"id": rules.default_ship_method}}
    return {}


def _dated(body: dict[str, Any], stamp: str) -> None:
    day = stamp[:10]
    if _DAY.fullmatch(day):
        body["tranDate"] = day  # the shop's own date: a late sync must not book a day later


# -- payments ------------------------------------------------------------------------------


def deposit_record(order: Order, payment: Payment, rules: NetsuiteRules) -> dict[str, Any]:
    """A customer deposit of a captured payment, on the order's sales order (contract: CustomerDepositUpsert)."""
    booked = rules.currency == "presentment" and order.presentment_currency != order.currency
    amount = payment.presentment_amount if booked and payment.presentment_amount is not None else payment.amount
    body: dict[str, Any] = {
        "externalId": deposit_external_id(payment),
        "salesOrder": {"externalId": order.id},
        "payment": _number(amount),
        "currency": {"refName": order.presentment_currency if booked else order.currency},
        "memo": f"Shopify {order.name} payment" + (f" ({payment.gateway})" if payment.gateway else ""),
    }
    if booked and order.exchange_rate is not None:
        body["exchangeRate"] = float(order.exchange_rate)
    _dated(body, order.created_at)
    if order.customer is not None:
        body["customer"] = {"externalId": f"shopify-customer-{order.customer.id}"}
    return body


def deposit_external_id(payment: Payment) -> str:
    return f"shopify-payment-{payment.id}"


# -- refunds and returns -----------------------------------------------------------------------


def refund_record(order: Order, refund: Refund, rules: NetsuiteRules) -> dict[str, Any]:
    """A credit memo or cash refund for a storefront refund (contract: CreditMemoUpsert, CashRefundUpsert).

    Its lines are the refunded units at what was refunded for them, then refunded shipping
    and any other amount; with ``tax = "lines"`` each carries Shopify's refunded tax. It adds
    up to what went back to the buyer. Booked in the shop's currency, as Shopify states refunds.
    """
    items: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for n, line in enumerate(refund.lines):
        reference = f"line-{n + 1}" if rules.tax == "lines" else ""
        items.append(_item_line(_as_line(line), line.amount, rules, reference))
        if reference and line.tax:
            details.append(_tax_detail(reference, line.amount, line.tax, rules))
    body: dict[str, Any] = {
        "externalId": refund_external_id(refund),
        "otherRefNum": order.name,
        "memo": f"Shopify refund {refund.id} of {order.name}" + (f": {refund.note}" if refund.note else ""),
        "currency": {"refName": refund.currency},
    }
    if refund.shipping or refund.shipping_tax:
        if rules.shipping == "item" and rules.shipping_item:
            reference = "line-shipping" if rules.tax == "lines" else ""
            shipped: dict[str, Any] = {"item": {"id": rules.shipping_item}, "quantity": 1,
                                       "rate": _number(refund.shipping), "amount": _number(refund.shipping),
                                       "description": "Shipping refunded"}
            if reference:
                shipped["taxDetailsReference"] = reference
                if refund.shipping_tax:
                    details.append(_tax_detail(reference, refund.shipping, refund.shipping_tax, rules))
            items.append(shipped)
        else:
            body["shippingCost"] = _number(refund.shipping)
            body.update(ship_method(order, rules))
            if rules.tax == "lines" and refund.shipping_tax:
                details.append(_tax_detail(SHIPPING_TAX_REFERENCE, refund.shipping, refund.shipping_tax, rules))
    if refund.other:
        item = rules.refund_item or rules.non_sku_item
        if not item:
            raise _unconfigured("refund_item", f"refund {refund.id} gives back {refund.other} {refund.currency} "
                                "beyond its lines and shipping: set [netsuite] refund_item to the internal id of "
                                "the item that books such amounts")
        items.append({"item": {"id": item}, "quantity": 1, "rate": _number(refund.other),
                      "amount": _number(refund.other), "description": "Refund adjustment"})
    if not items:
        # NetSuite refuses a credit document without a line; a refund of shipping alone has none.
        item = rules.refund_item or rules.non_sku_item
        if not item:
            raise _unconfigured("refund_item", f"refund {refund.id} has no lines: set [netsuite] refund_item to "
                                "the internal id of the item that carries such refunds")
        items.append({"item": {"id": item}, "quantity": 1, "rate": 0, "amount": 0, "description": "Refund"})
    body["item"] = {"items": items}
    if rules.tax == "lines":
        body["taxDetailsOverride"] = True
        body["taxDetails"] = {"items": details}
    if rules.refunds == "cash_refund" and rules.refund_account:
        body["account"] = {"id": rules.refund_account}
    _dated(body, refund.created_at or order.created_at)
    if order.customer is not None:
        body["entity"] = {"externalId": f"shopify-customer-{order.customer.id}"}
    return body


def refund_external_id(refund: Refund) -> str:
    return f"shopify-refund-{refund.id}"


def _as_line(line: RefundLine) -> Line:
    return Line(sku=line.sku, title=line.title, quantity=line.quantity, price=Decimal(0),
                gift_card=line.gift_card, non_sku=line.non_sku)


def return_record(order: Order, rules: NetsuiteRules) -> dict[str, Any]:
    """A return authorization for the units of an order cancelled after it shipped (contract:
    ReturnAuthorizationUpsert), created from its sales order."""
    amounts = net_amounts(order.lines, order.discounts, minor_unit(order.currency))
    shipped = [(line, amount) for line, amount in zip(order.lines, amounts)
               if line.requires_shipping and not line.gift_card]
    body: dict[str, Any] = {
        "externalId": return_external_id(order),
        "createdFrom": {"externalId": order.id},
        "otherRefNum": order.name,
        "memo": f"Shopify {order.name} cancelled after it shipped: goods to come back",
        "item": {"items": [_item_line(line, amount, rules, "") for line, amount in shipped]},
    }
    _dated(body, order.updated_at or order.created_at)
    if order.customer is not None:
        body["entity"] = {"externalId": f"shopify-customer-{order.customer.id}"}
    return body


def return_external_id(order: Order) -> str:
    return f"shopify-return-{order.id}"


def _unconfigured(key: str, message: str) -> ConnectorError:
    return ConnectorError(f"netsuite: {message}", connector="netsuite", code=f"CONFIG_{key.upper()}",
                          transient=False)
