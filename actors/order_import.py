"""Reading a whole order back from Shopify's Admin GraphQL, in the webhook's REST shape.

The reconciler finds orders the webhooks missed; the order actor understands
one shape only (the ``orders/*`` webhook body), so the GraphQL order is mapped
field by field onto it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["ORDER_QUERY", "fetch_order", "rest_order"]

ORDER_QUERY = """
query OrderForSync($id: ID!) {
  order(id: $id) {
    id legacyResourceId name email test createdAt updatedAt cancelledAt currencyCode
    totalPriceSet { shopMoney { amount } }
    subtotalPriceSet { shopMoney { amount } }
    totalTaxSet { shopMoney { amount } }
    totalDiscountsSet { shopMoney { amount } }
    totalShippingPriceSet { shopMoney { amount } }
    customer { id email firstName lastName }
    shippingAddress { firstName lastName name address1 address2 city province provinceCode zip country countryCodeV2 phone }
    lineItems(first: 250) {
      nodes { id sku title quantity requiresShipping isGiftCard originalUnitPriceSet { shopMoney { amount } } }
    }
  }
}
"""


def _amount(bag: Any) -> str:
    try:
        return str(bag["shopMoney"]["amount"])
    except (TypeError, KeyError):
        return "0"


def _legacy(gid: Any) -> int | str:
    text = str(gid or "").rsplit("/", 1)[-1]
    return int(text) if text.isdigit() else text


def rest_order(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL ``Order`` node as the REST order JSON a webhook would have carried."""
    total, subtotal, tax, shipping = (
        Decimal(_amount(node.get(k)))
        for k in ("totalPriceSet", "subtotalPriceSet", "totalTaxSet", "totalShippingPriceSet")
    )
    address = node.get("shippingAddress")
    customer = node.get("customer")
    return {
        "id": _legacy(node.get("legacyResourceId") or node.get("id")),
        "name": node.get("name"),
        "email": node.get("email"),
        "test": bool(node.get("test")),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "currency": node.get("currencyCode"),
        "total_price": str(total),
        "subtotal_price": str(subtotal),
        "total_tax": str(tax),
        "total_discounts": _amount(node.get("totalDiscountsSet")),
        "shipping_lines": [{"code": "shipping", "price": str(shipping)}] if shipping else [],
        "customer": None if not customer else {
            "id": _legacy(customer.get("id")),
            "email": customer.get("email"),
            "first_name": customer.get("firstName"),
            "last_name": customer.get("lastName"),
        },
        "shipping_address": None if not address else {
            "first_name": address.get("firstName"),
            "last_name": address.get("lastName"),
            "name": address.get("name"),
            "address1": address.get("address1"),
            "address2": address.get("address2"),
            "city": address.get("city"),
            "province": address.get("province"),
            "province_code": address.get("provinceCode"),
            "zip": address.get("zip"),
            "country": address.get("country"),
            "country_code": address.get("countryCodeV2"),
            "phone": address.get("phone"),
        },
        "line_items": [
            {
                "id": _legacy(line.get("id")),
                "sku": line.get("sku"),
                "title": line.get("title"),
                "quantity": line.get("quantity"),
                "price": _amount(line.get("originalUnitPriceSet")),
                "requires_shipping": bool(line.get("requiresShipping")),
                "gift_card": bool(line.get("isGiftCard")),
            }
            for line in ((node.get("lineItems") or {}).get("nodes") or [])
        ],
    }


def fetch_order(shopify: Any, order_gid: str) -> dict[str, Any] | None:
    """One order, whole, by its GraphQL id; None when Shopify no longer has it."""
    data = shopify.graphql(ORDER_QUERY, {"id": order_gid}, operation="order", estimate=260)
    node = data.get("order")
    return rest_order(node) if node else None
