"""What the Shopify connector really sends is what Shopify's Admin API 2026-10 accepts.

The requests are the connector's own, captured on their way to the sandbox, and checked against
Shopify's published schema (peppasync.contracts): every document, and the variables sent with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from graphql import OperationDefinitionNode, parse

from peppasync.config import parse_config
from peppasync.contracts import shopify_request_errors
from peppasync.sandbox import Sandbox

import actors.connectors.shopify_queries as queries
from actors.connectors import ShopifyConnector
from actors.order_import import ORDER_QUERY, fetch_order

from .test_against_sandbox import FAST_RETRY, QUIET
from .test_shopify_queries import AWKWARD_SKUS


class RecordingSession(requests.Session):
    """A real requests session that also keeps the JSON body of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if isinstance(request.body, (bytes, str)):
            self.bodies.append(json.loads(request.body))
        return super().send(request, **kwargs)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(QUIET, seed=31, extra_skus=AWKWARD_SKUS)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def recorded(sandbox: Sandbox) -> tuple[ShopifyConnector, RecordingSession]:
    session = RecordingSession()
    return ShopifyConnector(parse_config(sandbox.config_sections()).shopify, retry=FAST_RETRY,
                            session=session), session


def _operation(body: dict[str, Any]) -> str:
    operation = next(d for d in parse(body["query"]).definitions if isinstance(d, OperationDefinitionNode))
    assert operation.name is not None
    return operation.name.value


def _every_operation(sb: Sandbox, shop: ShopifyConnector) -> None:
    """Each call of the connector's API that talks to Shopify, with awkward inputs where it takes them."""
    order, other = sb.place_orders(2, malformed_ratio=0.0)
    ours = shop.hold_fulfillment(other.id, "peppasync-gates", "build to order: waiting for design")
    shop.release_holds([(h["fulfillmentOrderId"], h["id"]) for h in ours])
    list(shop.orders_updated_since("2000-01-01T00:00:00Z", page_size=1))
    found = shop.variants_by_sku([*AWKWARD_SKUS, sb.catalog.items[0].sku, "NO-SUCH-SKU", 12345])
    items = list(found.values())
    levels = shop.available(items)
    shop.set_available([(items[0], 3, levels[items[0]]), (items[1], 4, None)], "contract-1")
    shop.fulfillment_holds(order.id)
    shop.order_product_tags(order.id)
    shop.fulfill(order.id, "1Z999AA10123456784", "UPS", "https://www.ups.com/track?tracknum=1Z999AA10123456784")
    fetch_order(shop, f"gid://shopify/Order/{order.id}")
    shop.unit_cost(AWKWARD_SKUS[0])
    shop.unit_cost(sb.catalog.items[0].sku)
    shop.orders_transactions([order.id, other.id])


def _documents_of_the_connector() -> set[str]:
    """The operation names of every document shopify_queries defines or builds."""
    names = {_operation({"query": getattr(queries, n)}) for n in queries.__all__
             if isinstance(getattr(queries, n), str)}
    return names | {_operation({"query": ORDER_QUERY}),
                    _operation({"query": queries.variants_query(["A"])[0]}),
                    _operation({"query": queries.levels_query(["gid://shopify/InventoryItem/1"], "L")[0]}),
                    _operation({"query": queries.transactions_query(["gid://shopify/Order/1"])[0]})}


def test_every_request_the_connector_sends_is_one_shopify_2026_10_accepts(
        sandbox: Sandbox, recorded: tuple[ShopifyConnector, RecordingSession]) -> None:
    shop, session = recorded

    _every_operation(sandbox, shop)

    refused = {_operation(b): shopify_request_errors(b["query"], b.get("variables"), b.get("operationName"))
               for b in session.bodies}
    assert set(refused) == _documents_of_the_connector()  # every document the connector has was sent
    assert refused == {name: [] for name in refused}


def test_every_quantity_set_carries_change_from_quantity_even_when_it_opts_out(
        sandbox: Sandbox, recorded: tuple[ShopifyConnector, RecordingSession]) -> None:
    shop, session = recorded

    _every_operation(sandbox, shop)

    # Shopify's schema cannot say so (the field is nullable), but since 2026-04 leaving it out is an
    # error and an explicit null is the opt-out:
    # https://shopify.dev/changelog/finalizing-compare-and-swap-redesign-for-inventory-set-quantities
    rows = [row for b in session.bodies if _operation(b) == "SetAvailable"
            for row in b["variables"]["input"]["quantities"]]
    assert [("changeFromQuantity" in row, row.get("changeFromQuantity") is None) for row in rows] == [
        (True, False), (True, True)]


def test_a_field_shopify_does_not_have_is_caught_in_the_connectors_own_request(
        sandbox: Sandbox, recorded: tuple[ShopifyConnector, RecordingSession]) -> None:
    shop, session = recorded
    sandbox.place_orders(1, malformed_ratio=0.0)
    list(shop.orders_updated_since("2000-01-01T00:00:00Z"))
    sent = next(b for b in session.bodies if _operation(b) == "OrdersUpdatedSince")

    # The same request with one field added that Shopify's Order does not have.
    invented = sent["query"].replace("displayFulfillmentStatus", "displayFulfillmentStatus giftMessage", 1)
    errors = shopify_request_errors(invented, sent["variables"])

    assert [(e["extensions"]["code"], e["message"]) for e in errors] == [
        ("undefinedField", "Field 'giftMessage' doesn't exist on type 'Order'")]
