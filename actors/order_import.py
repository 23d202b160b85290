"""Reading a whole order back from Shopify's Admin GraphQL, in the webhook's REST shape.

The reconciler finds orders the webhooks missed; the order actor understands
one shape only (the ``orders/*`` webhook body), so the GraphQL order is mapped
field by field onto it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.validation import MAX_LINES

__all__ = ["ORDER_QUERY", "fetch_order", "rest_order"]

# Points, as Shopify counts them: 50 lines with their money, discounts and taxes, up to 10 refunds
# of up to 20 lines each, and the order's own objects; under the 1,000 one query may cost.
_ESTIMATE = 913

ORDER_QUERY = """
query OrderForSync($id: ID!, $lines: String) {
  order(id: $id) {
    id legacyResourceId name email test createdAt updatedAt cancelledAt currencyCode presentmentCurrencyCode
    taxesIncluded
    totalPriceSet { ...Money }
    subtotalPriceSet { shopMoney { amount } }
    totalTaxSet { shopMoney { amount } }
    totalDiscountsSet { shopMoney { amount } }
    totalShippingPriceSet { shopMoney { amount } }
    currentTotalPriceSet { shopMoney { amount } }
    currentSubtotalPriceSet { shopMoney { amount } }
    currentTotalTaxSet { shopMoney { amount } }
    currentTotalDiscountsSet { shopMoney { amount } }
    totalRefundedShippingSet { shopMoney { amount } }
    customer { id email firstName lastName }
    shippingAddress { ...Address }
    billingAddress { ...Address }
    shippingLines(first: 5) {
      nodes { title code originalPriceSet { ...Money } discountedPriceSet { ...Money } taxLines { ...Tax } }
    }
    refunds(first: 10) {
      id legacyResourceId createdAt
      refundLineItems(first: 20) {
        nodes {
          quantity restockType subtotalSet { ...Money } totalTaxSet { ...Money }
          lineItem { id sku }
        }
      }
      refundShippingLines(first: 2) { nodes { subtotalAmountSet { ...Money } taxAmountSet { ...Money } } }
    }
    lineItems(first: 50, after: $lines) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id sku title quantity currentQuantity requiresShipping isGiftCard
        originalUnitPriceSet { ...Money }
        discountAllocations { allocatedAmountSet { ...Money } discountApplication { index } }
        taxLines(first: 5) { ...Tax }
        variant { id }
      }
    }
  }
}

fragment Money on MoneyBag {
  shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }
}

fragment Tax on TaxLine {
  title rate priceSet { ...Money }
}

fragment Address on MailingAddress {
  firstName lastName name company address1 address2 city province provinceCode zip country countryCodeV2 phone
}
"""


def _amount(bag: Any) -> str:
    try:
        return str(bag["shopMoney"]["amount"])
    except (TypeError, KeyError):
        return "0"


def _set(bag: Any) -> dict[str, Any] | None:
    """A GraphQL MoneyBag as the REST ``*_set`` of the webhook body (None without one)."""
    try:
        return {"shop_money": {"amount": str(bag["shopMoney"]["amount"]),
                               "currency_code": bag["shopMoney"].get("currencyCode")},
                "presentment_money": {"amount": str(bag["presentmentMoney"]["amount"]),
                                      "currency_code": bag["presentmentMoney"].get("currencyCode")}}
    except (TypeError, KeyError):
        return None


def _taxes(lines: Any) -> list[dict[str, Any]]:
    return [{"title": t.get("title"), "rate": t.get("rate"), "price": _amount(t.get("priceSet")),
             "price_set": _set(t.get("priceSet"))} for t in lines or ()]


def _nodes(connection: Any) -> list[Any]:
    return list((connection or {}).get("nodes") or []) if isinstance(connection, dict) else []


def _refund(node: Any, order_id: int | str, lines: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    shipping = [(Decimal(_amount(s.get("subtotalAmountSet"))), Decimal(_amount(s.get("taxAmountSet"))))
                for s in _nodes(node.get("refundShippingLines"))]
    def item(given: Any) -> dict[str, Any]:
        line = given.get("lineItem") or {}
        return lines.get(_legacy(line.get("id"))) or {"id": _legacy(line.get("id")), "sku": line.get("sku")}

    return {
        "id": _legacy(node.get("legacyResourceId") or node.get("id")), "order_id": order_id,
        "created_at": node.get("createdAt"),
        "refund_line_items": [
            {"line_item_id": _legacy((given.get("lineItem") or {}).get("id")), "line_item": item(given),
             "quantity": given.get("quantity"), "restock_type": str(given.get("restockType") or "").lower(),
             "subtotal": _amount(given.get("subtotalSet")), "subtotal_set": _set(given.get("subtotalSet")),
             "total_tax": _amount(given.get("totalTaxSet")), "total_tax_set": _set(given.get("totalTaxSet"))}
            for given in _nodes(node.get("refundLineItems"))
        ],
        # The webhook states refunded shipping as a negative adjustment of kind shipping_refund.
        "order_adjustments": [
            {"kind": "shipping_refund", "amount": str(-amount), "tax_amount": str(-tax),
             "amount_set": _set(_negated(s.get("subtotalAmountSet")))}
            for s, (amount, tax) in zip(_nodes(node.get("refundShippingLines")), shipping, strict=True)
        ],
        "transactions": [],
    }


def _negated(bag: Any) -> Any:
    try:
        return {side: {**bag[side], "amount": str(-Decimal(str(bag[side]["amount"])))}
                for side in ("shopMoney", "presentmentMoney")}
    except (TypeError, KeyError):
        return None


def _legacy(gid: Any) -> int | str:
    text = str(gid or "").rsplit("/", 1)[-1]
    return int(text) if text.isdigit() else text


def rest_order(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL ``Order`` node as the REST order JSON a webhook would have carried."""
    total, subtotal, tax, shipping = (
        Decimal(_amount(node.get(k)))
        for k in ("totalPriceSet", "subtotalPriceSet", "totalTaxSet", "totalShippingPriceSet")
    )
    customer = node.get("customer")
    order_id = _legacy(node.get("legacyResourceId") or node.get("id"))
    refunded_shipping = Decimal(_amount(node.get("totalRefundedShippingSet")))
    line_items = [
        {
            "id": _legacy(line.get("id")),
            "sku": line.get("sku"),
            "title": line.get("title"),
            "quantity": line.get("quantity"),
            "current_quantity": line.get("currentQuantity", line.get("quantity")),
            "variant_id": _legacy((line.get("variant") or {}).get("id")) or None,
            "price": _amount(line.get("originalUnitPriceSet")),
            "price_set": _set(line.get("originalUnitPriceSet")),
            "discount_allocations": [
                {"amount": _amount(d.get("allocatedAmountSet")), "amount_set": _set(d.get("allocatedAmountSet")),
                 "discount_application_index": (d.get("discountApplication") or {}).get("index", 0)}
                for d in line.get("discountAllocations") or ()
            ],
            "tax_lines": _taxes(line.get("taxLines")),
            "requires_shipping": bool(line.get("requiresShipping")),
            "gift_card": bool(line.get("isGiftCard")),
        }
        for line in ((node.get("lineItems") or {}).get("nodes") or [])
    ]
    by_id = {line["id"]: line for line in line_items}
    refunds = [_refund(r, order_id, by_id) for r in node.get("refunds") or () if isinstance(r, dict)]
    if refunded_shipping and not any(r["order_adjustments"] for r in refunds):
        # An order read without its refunds' shipping lines still says what shipping came back.
        refunds.append({
            "id": 0, "order_id": order_id, "created_at": node.get("updatedAt"), "refund_line_items": [],
            "transactions": [], "order_adjustments": [{"kind": "shipping_refund", "amount": str(-refunded_shipping)}],
        })
    shipping_lines = [
        {"title": s.get("title"), "code": s.get("code"), "price": _amount(s.get("originalPriceSet")),
         "price_set": _set(s.get("originalPriceSet")), "discounted_price": _amount(s.get("discountedPriceSet")),
         "discounted_price_set": _set(s.get("discountedPriceSet")), "tax_lines": _taxes(s.get("taxLines"))}
        for s in _nodes(node.get("shippingLines"))
    ]
    if not shipping_lines and shipping:
        shipping_lines = [{"code": "shipping", "price": str(shipping)}]
    return {
        "id": order_id,
        "name": node.get("name"),
        "email": node.get("email"),
        "test": bool(node.get("test")),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "currency": node.get("currencyCode"),
        "presentment_currency": node.get("presentmentCurrencyCode") or node.get("currencyCode"),
        "taxes_included": bool(node.get("taxesIncluded")),
        "total_price": str(total),
        "total_price_set": _set(node.get("totalPriceSet")),
        "subtotal_price": str(subtotal),
        "total_tax": str(tax),
        "total_discounts": _amount(node.get("totalDiscountsSet")),
        # After an edit or a refund these are the live figures (a webhook carries both).
        "current_total_price": _amount(node.get("currentTotalPriceSet")),
        "current_subtotal_price": _amount(node.get("currentSubtotalPriceSet")),
        "current_total_tax": _amount(node.get("currentTotalTaxSet")),
        "current_total_discounts": _amount(node.get("currentTotalDiscountsSet")),
        "shipping_lines": shipping_lines,
        "refunds": refunds,
        "customer": None if not customer else {
            "id": _legacy(customer.get("id")),
            "email": customer.get("email"),
            "first_name": customer.get("firstName"),
            "last_name": customer.get("lastName"),
        },
        "shipping_address": _address(node.get("shippingAddress")),
        "billing_address": _address(node.get("billingAddress")),
        "line_items": line_items,
    }


def _address(address: Any) -> dict[str, Any] | None:
    if not isinstance(address, dict):
        return None
    return {
        "first_name": address.get("firstName"),
        "last_name": address.get("lastName"),
        "name": address.get("name"),
        "company": address.get("company"),
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "province": address.get("province"),
        "province_code": address.get("provinceCode"),
        "zip": address.get("zip"),
        "country": address.get("country"),
        "country_code": address.get("countryCodeV2"),
        "phone": address.get("phone"),
    }


def fetch_order(shopify: Any, order_gid: str, priority: int | None = None) -> dict[str, Any] | None:
    """One order, whole, by its GraphQL id; None when Shopify no longer has it.

    Lines come 50 to a page: with their money, discounts and taxes, 100 at once would cost more
    than the 1,000 points Shopify allows one query (https://shopify.dev/docs/api/usage/limits).
    A refund's first 20 lines are read (a refund of more lines is read in part).
    ``priority`` is the connector lane to wait in (its default when None).
    """
    node: dict[str, Any] | None = None
    lines: list[Any] = []
    after = None
    while True:
        lane = {} if priority is None else {"priority": priority}
        data = shopify.graphql(ORDER_QUERY, {"id": order_gid, "lines": after}, operation="order", estimate=_ESTIMATE,
                               **lane)
        page = data.get("order")
        if not page:
            return None
        node = node or page
        connection = page.get("lineItems") or {}
        lines.extend(connection.get("nodes") or [])
        info = connection.get("pageInfo") or {}
        after = info.get("endCursor")
        if not info.get("hasNextPage") or not after or len(lines) > MAX_LINES:
            break
    return rest_order({**node, "lineItems": {"nodes": lines}})
