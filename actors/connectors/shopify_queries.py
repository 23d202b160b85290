"""The GraphQL documents the Shopify connector sends, and GID helpers."""

from __future__ import annotations

__all__ = [
    "FULFILLMENT_CREATE",
    "ORDERS_UPDATED_SINCE",
    "ORDER_FULFILLMENT_ORDERS",
    "SET_QUANTITIES",
    "gid",
    "levels_query",
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

ORDER_FULFILLMENT_ORDERS = """
query OrderFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id displayFulfillmentStatus cancelledAt
    fulfillmentOrders(first: 20) { nodes { id status } }
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

SET_QUANTITIES = """
mutation SetAvailable($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
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


def _literal(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def variants_query(skus: list[str]) -> str:
    """One aliased ``productVariants`` lookup per SKU, in one document."""
    parts = []
    for n, sku in enumerate(skus):
        search = _literal(f"sku:'{sku}'")
        parts.append(f"  v{n}: productVariants(first: 5, query: {search}) {{ nodes {{ sku inventoryItem {{ id }} }} }}")
    return "query VariantsBySku {\n" + "\n".join(parts) + "\n}"


def levels_query(item_ids: list[str], location_id: str) -> str:
    """One aliased ``inventoryItem`` read per item, with its available quantity at the location."""
    location = _literal(location_id)
    parts = []
    for n, item in enumerate(item_ids):
        parts.append(
            f"  i{n}: inventoryItem(id: {_literal(item)}) {{ id inventoryLevel(locationId: {location}) "
            '{ quantities(names: ["available"]) { name quantity } } }'
        )
    return "query Available {\n" + "\n".join(parts) + "\n}"
