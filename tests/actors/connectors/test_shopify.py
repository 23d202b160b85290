"""ShopifyConnector against a scripted GraphQL endpoint: throttling, the cost bucket, userErrors, paging."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import pytest

from peppasync.config import ShopifyConfig
from peppasync.errors import ConnectorError

from actors.connectors import SetResult, ShopifyConnector

from .conftest import FakeTime, StubServer, json_body

Reply = tuple[int, dict[str, str], bytes]


def _cost(available: float, requested: int = 10, actual: int | None = 10) -> dict[str, Any]:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                     "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": available,
                                        "restoreRate": 50.0}}}


def _data(data: dict[str, Any], available: float = 990.0, requested: int = 10) -> Reply:
    return 200, {"Content-Type": "application/json"}, json_body(
        {"data": data, "extensions": _cost(available, requested)})


def _throttled(available: float, requested: int = 10) -> Reply:
    return 200, {"Content-Type": "application/json"}, json_body({
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": _cost(available, requested, None)})


def _shop(server: StubServer, fake_time: FakeTime, jitter: float = 0.5) -> ShopifyConnector:
    config = ShopifyConfig(shop_url=server.url, api_version="2026-10", access_token="shpat_test",
                           location_id="gid://shopify/Location/1")
    return ShopifyConnector(config, retry=fake_time.policy(random=lambda: jitter))


def _script(*replies: Reply) -> Callable[[dict[str, Any]], Reply]:
    queue = list(replies)
    return lambda request: queue.pop(0)


def test_requests_carry_the_token_to_the_versioned_graphql_url(stub: Callable[..., StubServer],
                                                               fake_time: FakeTime) -> None:
    server = stub(_script(_data({"productVariants": {"nodes": []}, "v0": {"nodes": []}})))

    _shop(server, fake_time).variants_by_sku(["SKU-1"])

    request = server.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/admin/api/2026-10/graphql.json")
    assert request["headers"]["x-shopify-access-token"] == "shpat_test"


def test_a_throttled_body_is_retried_after_the_bucket_refills(stub: Callable[..., StubServer],
                                                              fake_time: FakeTime) -> None:
    variant = {"nodes": [{"sku": "SKU-1", "inventoryItem": {"id": "gid://shopify/InventoryItem/9"}}]}
    server = stub(_script(_throttled(available=2.0, requested=12), _data({"v0": variant})))
    shop = _shop(server, fake_time, jitter=0.0)

    found = shop.variants_by_sku(["SKU-1"])

    assert found == {"SKU-1": "gid://shopify/InventoryItem/9"}
    assert len(server.requests) == 2
    # 10 points missing at 50 points/s: wait 0.2 s, not a blind exponential guess.
    assert fake_time.slept == [pytest.approx(0.2)]
    assert shop.stats()["throttled"] == 1


def test_calls_wait_for_the_bucket_instead_of_being_throttled(stub: Callable[..., StubServer],
                                                              fake_time: FakeTime) -> None:
    variant: dict[str, list[Any]] = {"nodes": []}
    server = stub(_script(_data({"v0": variant}, available=5.0, requested=30), _data({"v0": variant})))
    shop = _shop(server, fake_time)
    shop.variants_by_sku(["A"])

    shop.variants_by_sku(["B"])

    # The second call of the same shape costs 30; 5 were left, 50 come back per second.
    assert fake_time.slept == [pytest.approx(0.5)]
    assert len(server.requests) == 2
    assert shop.stats()["bucket_available"] == pytest.approx(990.0)


def test_a_graphql_error_that_is_not_throttling_is_permanent(stub: Callable[..., StubServer],
                                                             fake_time: FakeTime) -> None:
    body = {"errors": [{"message": "Field 'nope' doesn't exist on type 'Order'",
                        "extensions": {"code": "undefinedField"}}]}
    server = stub(_script((200, {}, json_body(body))))

    with pytest.raises(ConnectorError) as caught:
        list(_shop(server, fake_time).orders_updated_since("2026-01-01T00:00:00Z"))

    assert (caught.value.transient, caught.value.code) == (False, "undefinedField")
    assert "doesn't exist" in str(caught.value)
    assert len(server.requests) == 1


def test_a_bad_token_is_permanent(stub: Callable[..., StubServer], fake_time: FakeTime) -> None:
    server = stub(_script((401, {}, json_body({"errors": "[API] Invalid API key or access token"}))))

    with pytest.raises(ConnectorError) as caught:
        _shop(server, fake_time).variants_by_sku(["A"])

    assert (caught.value.transient, caught.value.status) == (False, 401)
    assert "Invalid API key or access token" in str(caught.value)


def test_orders_are_paged_by_cursor_with_the_updated_at_filter(stub: Callable[..., StubServer],
                                                               fake_time: FakeTime) -> None:
    def page(ids: list[int], more: bool, cursor: str | None) -> Reply:
        return _data({"orders": {"nodes": [{"id": f"gid://shopify/Order/{i}"} for i in ids],
                                 "pageInfo": {"hasNextPage": more, "endCursor": cursor}}})

    server = stub(_script(page([1, 2], True, "c1"), page([3], False, None)))

    orders = list(_shop(server, fake_time).orders_updated_since("2026-11-01T00:00:00Z", page_size=2))

    assert [o["id"] for o in orders] == [f"gid://shopify/Order/{i}" for i in (1, 2, 3)]
    sent = [json.loads(r["body"])["variables"] for r in server.requests]
    assert sent[0] == {"first": 2, "after": None, "query": "updated_at:>'2026-11-01T00:00:00Z'"}
    assert sent[1]["after"] == "c1"
    assert "sortKey: UPDATED_AT" in json.loads(server.requests[0]["body"])["query"]


def test_set_available_returns_user_errors_per_item_instead_of_raising(stub: Callable[..., StubServer],
                                                                       fake_time: FakeTime) -> None:
    errors = [{"field": ["input", "quantities", "1", "changeFromQuantity"], "code": "CHANGE_FROM_QUANTITY_STALE",
               "message": "changeFromQuantity 4 does not match the current quantity 3."}]
    server = stub(_script(_data({"inventorySetQuantities": {"inventoryAdjustmentGroup": None,
                                                            "userErrors": errors}})))

    results = _shop(server, fake_time).set_available([(11, 5, 6), (12, 2, 4)], "sync-1")

    assert results == [
        SetResult("11", False, "NOT_APPLIED", "another quantity in the same call was refused"),
        SetResult("12", False, "CHANGE_FROM_QUANTITY_STALE",
                  "changeFromQuantity 4 does not match the current quantity 3."),
    ]
    sent = json.loads(server.requests[0]["body"])
    assert "@idempotent(key: $key)" in sent["query"]
    assert sent["variables"]["key"] == "sync-1"
    assert sent["variables"]["input"]["name"] == "available"
    assert sent["variables"]["input"]["quantities"][1] == {
        "inventoryItemId": "gid://shopify/InventoryItem/12", "locationId": "gid://shopify/Location/1",
        "quantity": 2, "changeFromQuantity": 4}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda shop: shop.set_available([(1, 1, 0)] * 251, "k"), "at most 250 quantities"),
        (lambda shop: shop.set_available([(1, 1, 0)], ""), "idempotency key is required"),
        (lambda shop: shop.set_available([("abc", 1, 0)], "k"), "InventoryItem id must be a number"),
        (lambda shop: shop.orders_updated_since("x", page_size=0), "page_size must be between 1 and 250"),
        (lambda shop: shop.orders_updated_since("2026' OR '1"), "since must be an ISO 8601 time"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(stub: Callable[..., StubServer], fake_time: FakeTime,
                                                           call: Callable[[ShopifyConnector], Any],
                                                           message: str) -> None:
    server = stub(_script())

    with pytest.raises(ValueError, match=message):
        call(_shop(server, fake_time))

    assert server.requests == []


def test_a_connector_without_an_access_token_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="shopify.access_token is empty"):
        ShopifyConnector(ShopifyConfig(access_token=""))


def test_stock_numbers_go_ahead_of_a_bulk_read_already_waiting(stub: Callable[..., StubServer],
                                                               fake_time: FakeTime) -> None:
    release = gevent.event.Event()

    def answer(request: dict[str, Any]) -> Reply:
        query = json.loads(request["body"])["query"]
        if "productVariants" in query:
            release.wait(10)  # holds the one slot while the others queue
            return _data({"productVariants": {"nodes": []}, "v0": {"nodes": []}})
        if "inventorySetQuantities" in query:
            return _data({"inventorySetQuantities": {"inventoryAdjustmentGroup": {"id": "g"}, "userErrors": []}})
        return _data({"orders": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}})

    server = stub(answer)
    shop = _shop(server, fake_time)
    shop.set_limit(1)
    busy = gevent.spawn(shop.variants_by_sku, ["A"])
    gevent.sleep(0.05)
    paging = gevent.spawn(lambda: list(shop.orders_updated_since("2026-11-01T00:00:00Z")))
    gevent.sleep(0.05)
    stock = gevent.spawn(shop.set_available, [(11, 5, 6)], "sync-1")
    gevent.sleep(0.05)

    release.set()
    gevent.joinall([busy, paging, stock], timeout=10, raise_error=True)

    order = [json.loads(r["body"])["query"] for r in server.requests]
    assert ["productVariants" in order[0], "inventorySetQuantities" in order[1], "orders(" in order[2]] == [
        True, True, True]
