"""Write docs/contracts.md from the contract files in peppasync/contracts/ and the connector's GraphQL."""

from pathlib import Path

from peppasync.contracts.docs import graphql_section, render

import actors.connectors.shopify_queries as queries
from actors.order_import import ORDER_QUERY, REFUNDS_QUERY


def shopify_documents() -> dict[str, str]:
    """Every GraphQL document the engine sends to Shopify, by where it is defined."""
    documents = {f"shopify_queries.{name}": getattr(queries, name) for name in queries.__all__
                 if isinstance(getattr(queries, name), str) and "{" in getattr(queries, name)}
    documents["shopify_queries.variants_query()"] = queries.variants_query(["SKU"])[0]
    documents["shopify_queries.levels_query()"] = queries.levels_query(["gid://shopify/InventoryItem/1"], "L")[0]
    documents["shopify_queries.transactions_query()"] = queries.transactions_query(["gid://shopify/Order/1"])[0]
    documents["order_import.ORDER_QUERY"] = ORDER_QUERY
    documents["order_import.REFUNDS_QUERY"] = REFUNDS_QUERY
    return documents


def page() -> str:
    return render(graphql_section(shopify_documents()))


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "docs" / "contracts.md"
    target.write_text(page(), encoding="utf-8")
    print(f"wrote {target}")
