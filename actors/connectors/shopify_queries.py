"""The GraphQL documents the Shopify connector sends, and GID helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "FULFILLMENT_CREATE",
    "FULFILLMENT_HOLDS",
    "FULFILLMENT_ORDER_HOLD",
    "FULFILLMENT_ORDER_RELEASE_HOLD",
    "ORDERS_UPDATED_SINCE",
    "ORDER_FULFILLMENT_ORDERS",
    "ORDER_PRODUCT_TAGS",
    "SET_QUANTITIES",
    "UNIT_COST",
    "gid",
    "levels_query",
    "search_value",
    "transactions_query",
    "variants_query",
]

# Summaries only: a node costs one point, so a page of 100 stays far below the 1,000-point cap.
ORDERS_UPDATED_SINCE = """
query OrdersUpdatedSince($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id legacyResourceId name email createdAt updatedAt cancelledAt cancelReason
      displayFinancialStatus displayFulfillmentStatus
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# With each fulfillment order's holds: whose (heldByRequestingApp), why, and our handle
# (https://shopify.dev/docs/api/admin-graphql/latest/objects/FulfillmentHold).
ORDER_FULFILLMENT_ORDERS = """
query OrderFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id displayFulfillmentStatus cancelledAt
    fulfillmentOrders(first: 20) {
      nodes { id status fulfillmentHolds { id handle reason heldByRequestingApp } }
    }
  }
}
"""

FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""

# Only the holds, for the check before an order goes to the warehouse: 12 points, not the 42
# of ORDER_FULFILLMENT_ORDERS. An order has one fulfillment order per location it ships from.
FULFILLMENT_HOLDS = """
query FulfillmentHolds($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 5) {
      nodes { id status fulfillmentHolds { id handle reason heldByRequestingApp } }
    }
  }
}
"""

# Our own hold, told apart from other apps' by its handle; several holds per fulfillment order since
# 2025-01 (https://shopify.dev/docs/api/admin-graphql/latest/mutations/fulfillmentOrderHold).
FULFILLMENT_ORDER_HOLD = """
mutation FulfillmentOrderHold($id: ID!, $hold: FulfillmentOrderHoldInput!) {
  fulfillmentOrderHold(id: $id, fulfillmentHold: $hold) {
    fulfillmentHold { id handle reason heldByRequestingApp }
    userErrors { field message code }
  }
}
"""

# Always with holdIds: without them every hold is released, other apps' too
# (https://shopify.dev/docs/api/admin-graphql/latest/mutations/fulfillmentorderreleasehold).
FULFILLMENT_ORDER_RELEASE_HOLD = """
mutation FulfillmentOrderReleaseHold($id: ID!, $holdIds: [ID!]!) {
  fulfillmentOrderReleaseHold(id: $id, holdIds: $holdIds) {
    fulfillmentOrder { id status }
    userErrors { field message code }
  }
}
"""

# The tags of the products on an order's lines (Product.tags), for workflows that take orders by
# product tag (https://shopify.dev/docs/api/admin-graphql/latest/objects/LineItem#field-product).
ORDER_PRODUCT_TAGS = """
query OrderProductTags($id: ID!) {
  order(id: $id) {
    id
    lineItems(first: 25) { nodes { product { id tags } } }
  }
}
"""

SET_QUANTITIES = """
mutation SetAvailable($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""


# A variant's unit cost, in the shop's default currency (InventoryItem.unitCost).
UNIT_COST = """
query UnitCost($query: String!) {
  productVariants(first: 5, query: $query) {
    nodes { sku inventoryItem { unitCost { amount currencyCode } } }
  }
}
"""


def gid(kind: str, ident: object) -> str:
    """A Shopify global id from a numeric id; a GID passes through unchanged."""
    text = str(ident)
    if text.startswith("gid://"):
        return text
    if not text.isdigit():
        raise ValueError(f"a {kind} id must be a number or a gid://shopify/{kind}/... id, got {ident!r}")
    return f"gid://shopify/{kind}/{text}"


def search_value(text: str) -> str:
    """``text`` as one quoted value of Shopify's search syntax, matched as it is.

    A value may be a quoted string (single or double quotes), and special characters are
    escaped with a backslash (https://shopify.dev/docs/api/usage/search-syntax ; Shopify staff:
    https://community.shopify.com/t/escaping-single-quote-and-double-quote-in-graphql/49653).
    Inside single quotes that leaves the quote itself and the backslash: ``O'Reilly`` becomes
    ``'O\\'Reilly'``. Unescaped, such a quote ended the value early and the rest of the SKU
    became stray search terms.
    """
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def variants_query(skus: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """One aliased ``productVariants`` lookup per SKU in one document, and its variables.

    Each search goes as a variable (``$q0``...), so no SKU can break the document itself: a
    newline in a SKU written into a GraphQL string literal is a syntax error, which failed the
    lookups of every SKU batched with it. The document depends only on how many SKUs there are.
    """
    if not skus:
        raise ValueError("variants_query needs at least one SKU")
    names = [f"q{n}" for n in range(len(skus))]
    parts = [f"  v{n}: productVariants(first: 5, query: ${name}) {{ nodes {{ sku inventoryItem {{ id }} }} }}"
             for n, name in enumerate(names)]
    declared = ", ".join(f"${name}: String!" for name in names)
    variables = {name: f"sku:{search_value(sku)}" for name, sku in zip(names, skus)}
    return f"query VariantsBySku({declared}) {{\n" + "\n".join(parts) + "\n}", variables


def levels_query(item_ids: Sequence[str], location_id: str) -> tuple[str, dict[str, Any]]:
    """One aliased ``inventoryItem`` read per item, with its available quantity at the location."""
    if not item_ids:
        raise ValueError("levels_query needs at least one inventory item")
    names = [f"i{n}" for n in range(len(item_ids))]
    parts = [f"  {name}: inventoryItem(id: ${name}) {{ id inventoryLevel(locationId: $location) "
             '{ quantities(names: ["available"]) { name quantity } } }' for name in names]
    declared = ", ".join(["$location: ID!", *(f"${name}: ID!" for name in names)])
    variables: dict[str, Any] = {"location": location_id, **dict(zip(names, item_ids))}
    return f"query Available({declared}) {{\n" + "\n".join(parts) + "\n}", variables


def transactions_query(order_ids: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """One aliased ``order`` read per order, with its transactions and their fees, and its variables.

    Fees are reported for Shopify Payments transactions only
    (https://shopify.dev/docs/api/admin-graphql/latest/objects/transactionfee).
    ``transactions`` is a list, not a connection: an order costs 6 points, so 50 fit in one call.
    """
    if not order_ids:
        raise ValueError("transactions_query needs at least one order")
    names = [f"o{n}" for n in range(len(order_ids))]
    parts = [f"  {name}: order(id: ${name}) {{ id transactions(first: 50) {{ kind status gateway "
             "amountSet { shopMoney { amount currencyCode } } fees { type amount { amount currencyCode } } } }"
             for name in names]
    declared = ", ".join(f"${name}: ID!" for name in names)
    return f"query OrdersTransactions({declared}) {{\n" + "\n".join(parts) + "\n}", dict(zip(names, order_ids))
