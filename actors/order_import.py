"""Reading a whole order back from Shopify's Admin GraphQL, in the webhook's REST shape.

The reconciler finds orders the webhooks missed; the order actor understands
one shape only (the ``orders/*`` webhook body), so the GraphQL order is mapped
field by field onto it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.validation import MAX_LINES

__all__ = ["ORDER_QUERY", "REFUNDS_QUERY", "fetch_order", "fetch_refunds", "rest_order", "rest_refund"]

_ESTIMATE = 700  # points: 50 lines x 13 objects (price, discounts, tax lines in both currencies), and the order's

ORDER_QUERY = """
query OrderForSync($id: ID!, $lines: String) {
  order(id: $id) {
    id legacyResourceId name email test createdAt updatedAt cancelledAt currencyCode
    presentmentCurrencyCode taxesIncluded displayFinancialStatus
    totalPriceSet { ...Both }
    subtotalPriceSet { shopMoney { amount } }
    totalTaxSet { shopMoney { amount } }
    totalDiscountsSet { shopMoney { amount } }
    totalShippingPriceSet { shopMoney { amount } }
    currentTotalPriceSet { shopMoney { amount } }
    currentSubtotalPriceSet { shopMoney { amount } }
    currentTotalTaxSet { shopMoney { amount } }
    currentTotalDiscountsSet { shopMoney { amount } }
    totalRefundedShippingSet { shopMoney { amount } }
    shippingLine {
      title code discountedPriceSet { ...Both } taxLines { title rate priceSet { ...Both } }
    }
    customer { id email firstName lastName }
    shippingAddress { ...Address }
    billingAddress { ...Address }
    lineItems(first: 50, after: $lines) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id sku title quantity currentQuantity requiresShipping isGiftCard
        originalUnitPriceSet { ...Both }
        discountAllocations { allocatedAmountSet { ...Both } }
        taxLines { title rate priceSet { ...Both } }
        variant { id }
      }
    }
  }
}

fragment Both on MoneyBag { shopMoney { amount } presentmentMoney { amount } }

fragment Address on MailingAddress {
  firstName lastName name company address1 address2 city province provinceCode zip country countryCodeV2 phone
}
"""


REFUNDS_QUERY = """
query OrderRefunds($id: ID!) {
  order(id: $id) {
    id legacyResourceId
    refunds(first: 10) {
      id legacyResourceId createdAt note
      refundLineItems(first: 25) {
        nodes {
          quantity restockType subtotalSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } }
          lineItem { id sku title isGiftCard }
        }
      }
      transactions(first: 5) { nodes { kind status amountSet { shopMoney { amount } } } }
      refundShippingLines(first: 3) {
        nodes { subtotalAmountSet { shopMoney { amount } } taxAmountSet { shopMoney { amount } } }
      }
    }
  }
}
"""
_REFUNDS_ESTIMATE = 190  # points, as Shopify's cost rules price this query (10 refunds, each with its connections)


def _amount(bag: Any) -> str:
    try:
        return str(bag["shopMoney"]["amount"])
    except (TypeError, KeyError):
        return "0"


def _set(bag: Any, currency: str, presentment: str) -> dict[str, Any] | None:
    """A GraphQL ``MoneyBag`` as the REST ``*_set`` a webhook carries."""
    if not isinstance(bag, dict) or not isinstance(bag.get("shopMoney"), dict):
        return None
    shown = bag.get("presentmentMoney") or bag["shopMoney"]
    return {"shop_money": {"amount": str(bag["shopMoney"].get("amount")), "currency_code": currency},
            "presentment_money": {"amount": str(shown.get("amount")), "currency_code": presentment}}


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
    refunded_shipping = Decimal(_amount(node.get("totalRefundedShippingSet")))
    currency = str(node.get("currencyCode") or "")
    presentment = str(node.get("presentmentCurrencyCode") or currency)
    shipping_line = node.get("shippingLine")
    if isinstance(shipping_line, dict):
        shipping_lines = [{
            "title": shipping_line.get("title"), "code": shipping_line.get("code"), "price": str(shipping),
            "discounted_price_set": _set(shipping_line.get("discountedPriceSet"), currency, presentment),
            "tax_lines": [_tax_line(t, currency, presentment) for t in shipping_line.get("taxLines") or []],
        }]
    else:
        shipping_lines = [{"code": "shipping", "price": str(shipping)}] if shipping else []
    return {
        "id": _legacy(node.get("legacyResourceId") or node.get("id")),
        "name": node.get("name"),
        "email": node.get("email"),
        "test": bool(node.get("test")),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "currency": node.get("currencyCode"),
        "presentment_currency": presentment,
        "taxes_included": bool(node.get("taxesIncluded")),
        "financial_status": str(node.get("displayFinancialStatus") or "").lower() or None,
        "total_price": str(total),
        "total_price_set": _set(node.get("totalPriceSet"), currency, presentment),
        "subtotal_price": str(subtotal),
        "total_tax": str(tax),
        "total_discounts": _amount(node.get("totalDiscountsSet")),
        # After an edit or a refund these are the live figures (a webhook carries both).
        "current_total_price": _amount(node.get("currentTotalPriceSet")),
        "current_subtotal_price": _amount(node.get("currentSubtotalPriceSet")),
        "current_total_tax": _amount(node.get("currentTotalTaxSet")),
        "current_total_discounts": _amount(node.get("currentTotalDiscountsSet")),
        "shipping_lines": shipping_lines,
        # The webhook states refunded shipping as a refund's adjustment; so does the order rebuilt here.
        "refunds": [] if not refunded_shipping else [{
            "id": 0, "order_id": _legacy(node.get("legacyResourceId") or node.get("id")),
            "created_at": node.get("updatedAt"), "refund_line_items": [], "transactions": [],
            "order_adjustments": [{"kind": "shipping_refund", "amount": str(-refunded_shipping)}],
        }],
        "customer": None if not customer else {
            "id": _legacy(customer.get("id")),
            "email": customer.get("email"),
            "first_name": customer.get("firstName"),
            "last_name": customer.get("lastName"),
        },
        "shipping_address": _address(node.get("shippingAddress")),
        "billing_address": _address(node.get("billingAddress")),
        "line_items": [
            {
                "id": _legacy(line.get("id")),
                "sku": line.get("sku"),
                "title": line.get("title"),
                "quantity": line.get("quantity"),
                "current_quantity": line.get("currentQuantity", line.get("quantity")),
                "variant_id": _legacy((line.get("variant") or {}).get("id")) or None,
                "price": _amount(line.get("originalUnitPriceSet")),
                "price_set": _set(line.get("originalUnitPriceSet"), currency, presentment),
                "discount_allocations": [
                    {"amount": _amount(d.get("allocatedAmountSet")),
                     "amount_set": _set(d.get("allocatedAmountSet"), currency, presentment),
                     # Which discount it came from is not read back; nothing downstream uses it.
                     "discount_application_index": 0}
                    for d in line.get("discountAllocations") or []],
                "tax_lines": [_tax_line(t, currency, presentment) for t in line.get("taxLines") or []],
                "requires_shipping": bool(line.get("requiresShipping")),
                "gift_card": bool(line.get("isGiftCard")),
            }
            for line in ((node.get("lineItems") or {}).get("nodes") or [])
        ],
    }


def _tax_line(line: dict[str, Any], currency: str, presentment: str) -> dict[str, Any]:
    return {"title": str(line.get("title") or ""), "rate": line.get("rate") or 0,
            "price": _amount(line.get("priceSet")), "price_set": _set(line.get("priceSet"), currency, presentment)}


def rest_refund(node: dict[str, Any], order_id: int | str) -> dict[str, Any]:
    """A GraphQL ``Refund`` node as the REST refund JSON a ``refunds/create`` webhook would have carried.

    Each refunded line's ``line_item`` carries only what the engine reads of it (id, SKU, title, gift card).
    """
    return {
        "id": _legacy(node.get("legacyResourceId") or node.get("id")),
        "order_id": order_id,
        "created_at": node.get("createdAt"),
        "note": node.get("note"),
        "refund_line_items": [
            {"line_item_id": _legacy((line.get("lineItem") or {}).get("id")), "quantity": line.get("quantity"),
             "restock_type": str(line.get("restockType") or "NO_RESTOCK").lower(),
             "subtotal": _amount(line.get("subtotalSet")), "total_tax": _amount(line.get("totalTaxSet")),
             "line_item": {"id": _legacy((line.get("lineItem") or {}).get("id")),
                           "sku": (line.get("lineItem") or {}).get("sku"),
                           "title": (line.get("lineItem") or {}).get("title"),
                           "gift_card": bool((line.get("lineItem") or {}).get("isGiftCard"))}}
            for line in ((node.get("refundLineItems") or {}).get("nodes") or [])
        ],
        "transactions": [
            {"kind": str(t.get("kind") or "").lower(), "status": str(t.get("status") or "").lower(),
             "amount": _amount(t.get("amountSet"))}
            for t in ((node.get("transactions") or {}).get("nodes") or [])
        ],
        # Refunded shipping is stated as an adjustment, negative for money given back, as in the webhook.
        "order_adjustments": [
            {"kind": "shipping_refund", "amount": str(-Decimal(_amount(s.get("subtotalAmountSet")))),
             "tax_amount": str(-Decimal(_amount(s.get("taxAmountSet"))))}
            for s in ((node.get("refundShippingLines") or {}).get("nodes") or [])
        ],
    }


def fetch_refunds(shopify: Any, order_gid: str, priority: int | None = None) -> list[dict[str, Any]]:
    """An order's refunds (its latest ten), each as a ``refunds/create`` body; none when Shopify has no such order."""
    lane = {} if priority is None else {"priority": priority}
    data = shopify.graphql(REFUNDS_QUERY, {"id": order_gid}, operation="order_refunds", estimate=_REFUNDS_ESTIMATE,
                           **lane)
    order = data.get("order")
    if not order:
        return []
    order_id = _legacy(order.get("legacyResourceId") or order.get("id"))
    return [rest_refund(node, order_id) for node in order.get("refunds") or []]


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

    Lines come 50 to a page: with their price, discounts, tax lines and variant, 100 at once
    would cost more than the 1,000 points Shopify allows one query
    (https://shopify.dev/docs/api/usage/limits).
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
