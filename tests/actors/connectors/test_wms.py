"""WmsConnector: the request window, 429s, paging, refused updates and SHIP_NOTIFY fetches."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import gevent
import pytest

from peppasync.config import WmsConfig
from peppasync.errors import ConnectorError

from actors.connectors import AimdLimit, Priority, WmsConnector

from .conftest import FakeTime, StubServer, json_body

Reply = tuple[int, dict[str, str], bytes]


def _window(remaining: int, reset: int, limit: int = 40) -> dict[str, str]:
    return {"X-Rate-Limit-Limit": str(limit), "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(reset), "Content-Type": "application/json"}


def _wms(server: StubServer, fake_time: FakeTime, **kwargs: Any) -> WmsConnector:
    config = WmsConfig(base_url=server.url, api_key="key", api_secret="secret")
    return WmsConnector(config, retry=fake_time.policy(random=lambda: 0.0), **kwargs)


def test_requests_use_basic_auth(stub: Callable[..., StubServer], fake_time: FakeTime) -> None:
    server = stub(lambda r: (200, _window(39, 60), json_body({"orderKey": "1"})))

    _wms(server, fake_time).upsert_order({"orderKey": "1"})

    assert server.requests[0]["headers"]["authorization"] == "Basic " + base64.b64encode(b"key:secret").decode()
    assert (server.requests[0]["method"], server.requests[0]["path"]) == ("POST", "/orders/createorder")


def test_a_spent_window_is_waited_out_instead_of_sending_into_a_429(stub: Callable[..., StubServer],
                                                                    fake_time: FakeTime) -> None:
    replies = [(200, _window(1, 30), b"{}"), (200, _window(0, 30), b"{}"), (200, _window(39, 60), b"{}")]
    server = stub(lambda r: replies.pop(0))
    wms = _wms(server, fake_time)

    for n in range(3):
        wms.fetch(f"{server.url}/shipments?batchId={n}")

    assert fake_time.slept == [30.0]
    assert len(server.requests) == 3
    assert wms.stats()["throttled"] == 0


def test_a_429_waits_for_the_reset_the_headers_give(stub: Callable[..., StubServer], fake_time: FakeTime) -> None:
    body = json_body({"statusCode": 429, "message": "ThrottlerException: Too Many Requests"})
    replies = [(429, _window(0, 12), body), (200, _window(39, 60), json_body({"ok": True}))]
    server = stub(lambda r: replies.pop(0))
    wms = _wms(server, fake_time)

    result = wms.fetch(server.url + "/shipments?batchId=1")

    assert result == {"ok": True}
    assert fake_time.slept == [12.0]
    assert wms.stats()["throttled"] == 1


def test_shipments_are_read_page_by_page(stub: Callable[..., StubServer], fake_time: FakeTime) -> None:
    def handler(request: dict[str, Any]) -> Reply:
        query = {k: v[0] for k, v in parse_qs(request["query"]).items()}
        page = int(query["page"])
        rows = [{"shipmentId": page * 10 + n, "orderKey": f"{page}-{n}"} for n in range(2 if page < 3 else 1)]
        return 200, _window(30, 60), json_body({"shipments": rows, "page": page, "pages": 3, "total": 5})

    server = stub(handler)

    rows = list(_wms(server, fake_time, page_size=2).shipments_since("2026-11-01T00:00:00Z"))

    assert [r["orderKey"] for r in rows] == ["1-0", "1-1", "2-0", "2-1", "3-0"]
    first = parse_qs(server.requests[0]["query"])
    assert first == {"modifyDateStart": ["2026-11-01T00:00:00Z"], "page": ["1"], "pageSize": ["2"]}


def test_shipment_reads_go_ahead_of_order_creates_already_waiting(stub: Callable[..., StubServer],
                                                                  fake_time: FakeTime) -> None:
    def handler(request: dict[str, Any]) -> Reply:
        return 200, _window(39, 60), json_body({"shipments": [], "page": 1, "pages": 1})

    server = stub(handler)
    wms = _wms(server, fake_time, limit=AimdLimit(1, maximum=1))
    wms.pause()
    creates = [gevent.spawn(wms.upsert_order, {"orderKey": str(n)}) for n in range(6)]
    gevent.idle()
    reads = [gevent.spawn(lambda: list(wms.shipments_since("2026-11-27T00:00:00Z", priority=Priority.HIGH))),
             gevent.spawn(wms.fetch, server.url + "/shipments?batchId=9", priority=Priority.HIGH)]
    gevent.idle()

    wms.resume()
    gevent.joinall(creates + reads, raise_error=True)

    paths = [(r["method"], r["path"]) for r in server.requests]
    assert paths[:2] == [("GET", "/shipments"), ("GET", "/shipments")]
    assert paths[2:] == [("POST", "/orders/createorder")] * 6


def test_a_refused_order_is_permanent_and_names_each_field_the_wms_refused(stub: Callable[..., StubServer],
                                                                           fake_time: FakeTime) -> None:
    refusal = {"Message": "The request is invalid.",
               "ModelState": {"apiOrder.billTo": ["The billTo field is required."]}}

    def handler(request: dict[str, Any]) -> Reply:
        if request["method"] == "POST":
            return 400, _window(38, 60), json_body(refusal)
        return 200, _window(37, 60), json_body({"orders": [], "total": 0, "page": 1, "pages": 1})

    server = stub(handler)

    with pytest.raises(ConnectorError) as caught:
        _wms(server, fake_time).upsert_order({"orderKey": "5", "orderNumber": "#1005"})

    assert (caught.value.transient, caught.value.status) == (False, 400)
    assert "apiOrder.billTo: The billTo field is required." in str(caught.value)
    # The WMS does not hold the order, so the refusal was about the body.
    assert [(r["method"], r["path"]) for r in server.requests] == [("POST", "/orders/createorder"), ("GET", "/orders")]


def test_an_update_refused_for_an_order_the_wms_shipped_returns_that_order_read_back_by_its_id(
        stub: Callable[..., StubServer], fake_time: FakeTime) -> None:
    shipped = {"orderId": 77, "orderKey": "5", "orderNumber": "#1005", "orderStatus": "shipped"}

    def handler(request: dict[str, Any]) -> Reply:
        if request["method"] == "POST":
            return 400, _window(38, 60), json_body({"Message": "This order can no longer be changed."})
        return 200, _window(37, 60), json_body(shipped)

    server = stub(handler)

    held = _wms(server, fake_time).upsert_order({"orderKey": "5", "orderNumber": "#1005",
                                                 "orderStatus": "cancelled"}, order_id=77)

    assert held == shipped
    assert server.requests[1]["path"] == "/orders/77"


def test_fetch_refuses_a_resource_url_on_another_host(stub: Callable[..., StubServer], fake_time: FakeTime) -> None:
    server = stub(lambda r: (200, {}, b"{}"))

    with pytest.raises(ValueError, match="is not on the WMS host"):
        _wms(server, fake_time).fetch("http://203.0.113.9/shipments?batchId=1")

    assert server.requests == []


def test_an_order_without_an_order_key_is_refused_before_sending(stub: Callable[..., StubServer],
                                                                 fake_time: FakeTime) -> None:
    server = stub(lambda r: (200, {}, b"{}"))

    with pytest.raises(ValueError, match="needs an orderKey"):
        _wms(server, fake_time).upsert_order({"orderNumber": "1001"})

    assert server.requests == []


def test_missing_credentials_are_refused_naming_the_settings() -> None:
    with pytest.raises(ValueError, match="wms.api_key and wms.api_secret"):
        WmsConnector(WmsConfig(api_key="k", api_secret=""))
