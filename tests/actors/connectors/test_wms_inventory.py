"""WmsInventoryConnector: ShipStation V2's API-Key, linked pages, summed rows, its budget and 429s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest

from peppasync.config import WmsConfig
from peppasync.errors import ConnectorError

from actors.connectors import StockLevel, WmsInventoryConnector

from .conftest import FakeTime, StubServer, json_body

Reply = tuple[int, dict[str, str], bytes]
JSON = {"Content-Type": "application/json"}


def _connector(server: StubServer, fake_time: FakeTime, **config: Any) -> WmsInventoryConnector:
    settings = WmsConfig(inventory_url=server.url, inventory_api_key="v2-key", **config)
    return WmsInventoryConnector(settings, retry=fake_time.policy(random=lambda: 0.0))


def _page(server: StubServer, rows: list[dict[str, Any]], page: int, pages: int) -> bytes:
    def link(n: int) -> dict[str, str]:
        return {"href": f"{server.url}/v2/inventory?page={n}"}

    return json_body({"inventory": rows, "total": 3, "page": page, "pages": pages, "links": {
        "first": link(1), "last": link(pages), "prev": link(page - 1) if page > 1 else {},
        "next": link(page + 1) if page < pages else {}}})


def _row(sku: str, on_hand: int, allocated: int, location: str) -> dict[str, Any]:
    return {"sku": sku, "on_hand": on_hand, "allocated": allocated, "available": on_hand - allocated,
            "average_cost": {"amount": 4.5, "currency": "USD"}, "inventory_warehouse_id": "se-1",
            "inventory_location_id": location}


def test_levels_follow_the_next_links_and_sum_a_skus_rows_across_locations(stub: Callable[..., StubServer],
                                                                           fake_time: FakeTime) -> None:
    server: StubServer

    def handler(request: dict[str, Any]) -> Reply:
        page = int(parse_qs(request["query"]).get("page", ["1"])[0])
        rows = [[_row("MUG", 10, 2, "se-a"), _row("CAP", 5, 0, "se-a")], [_row("MUG", 7, 1, "se-b")]][page - 1]
        return 200, JSON, _page(server, rows, page, 2)

    server = stub(handler)

    levels = _connector(server, fake_time).levels()

    assert levels == {"MUG": StockLevel(17, 3), "CAP": StockLevel(5, 0)}
    assert [r["headers"]["api-key"] for r in server.requests] == ["v2-key", "v2-key"]
    assert [r["query"] for r in server.requests] == ["", "page=2"]


def test_a_configured_warehouse_is_asked_for_with_the_documented_filter(stub: Callable[..., StubServer],
                                                                        fake_time: FakeTime) -> None:
    server: StubServer
    server = stub(lambda r: (200, JSON, _page(server, [], 1, 1)))

    _connector(server, fake_time, inventory_warehouse_id="se-77").levels()

    assert parse_qs(server.requests[0]["query"]) == {"inventory_warehouse_id": ["se-77"]}


def test_a_429_waits_for_the_retry_after_the_api_gives(stub: Callable[..., StubServer], fake_time: FakeTime) -> None:
    throttled = json_body({"request_id": "r-1", "errors": [{"error_source": "ShipStation", "error_type": "system",
                                                              "error_code": "rate_limit_exceeded",
                                                              "message": "Too many requests"}]})
    replies: list[Reply] = [(429, {**JSON, "Retry-After": "7"}, throttled)]
    server: StubServer
    server = stub(lambda r: replies.pop(0) if replies else (200, JSON, _page(server, [_row("MUG", 1, 0, "a")], 1, 1)))
    inventory = _connector(server, fake_time)

    levels = inventory.levels()

    assert levels == {"MUG": StockLevel(1, 0)}
    assert fake_time.slept == [7.0]
    assert inventory.stats()["throttled"] == 1


def test_calls_wait_for_the_per_minute_budget_instead_of_running_into_a_429(stub: Callable[..., StubServer],
                                                                           fake_time: FakeTime) -> None:
    server: StubServer
    server = stub(lambda r: (200, JSON, _page(server, [], 1, 1)))
    inventory = _connector(server, fake_time, inventory_rate_limit=33)

    for _ in range(6):
        inventory.levels()

    # A burst of 3 (a tenth), then 30 more a minute: no 60 s hold more than 33; the next three wait 2 s each.
    assert len(server.requests) == 6
    assert fake_time.slept == [2.0, 2.0, 2.0]


def test_a_refusal_is_permanent_and_carries_the_apis_code_and_message(stub: Callable[..., StubServer],
                                                                       fake_time: FakeTime) -> None:
    refusal = json_body({"request_id": "r-2", "errors": [{"error_source": "ShipStation", "error_type": "security",
                                                          "error_code": "unauthorized",
                                                          "message": "The API key is invalid."}]})
    server = stub(lambda r: (401, JSON, refusal))

    with pytest.raises(ConnectorError) as caught:
        _connector(server, fake_time).levels()

    assert (caught.value.transient, caught.value.status, caught.value.code) == (False, 401, "unauthorized")
    assert "The API key is invalid." in str(caught.value)


def test_a_next_link_to_another_host_is_not_followed_with_the_key(stub: Callable[..., StubServer],
                                                                   fake_time: FakeTime) -> None:
    body = json_body({"inventory": [], "total": 0, "page": 1, "pages": 2, "links": {
        "first": {"href": "x"}, "last": {"href": "x"}, "prev": {},
        "next": {"href": "http://203.0.113.9/v2/inventory?page=2"}}})
    server = stub(lambda r: (200, JSON, body))

    with pytest.raises(ValueError, match="is not on the inventory host"):
        _connector(server, fake_time).levels()

    assert len(server.requests) == 1


def test_a_missing_api_key_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="wms.inventory_api_key"):
        WmsInventoryConnector(WmsConfig())
