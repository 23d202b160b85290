"""The WMS simulator from the client side: ShipStation V1's orders and shipments, V2's inventory.

Every answer is checked against ``peppasync/contracts/shipstation.json``, the
vendor's documented shapes, and every required field of a createorder is shown
to be refused when it is missing: the sandbox may not be laxer than ShipStation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import gevent
import pytest
import requests
import requests.adapters

from peppasync.clock import ManualClock
from peppasync.contracts import check
from peppasync.sandbox import Sandbox

from .conftest import QUIET, Receiver

MakeSandbox = Callable[..., Sandbox]


def _auth(sb: Sandbox) -> tuple[str, str]:
    return (sb.wms.api_key, sb.wms.api_secret)


def _order(key: str = "5600000000001", status: str = "awaiting_shipment", quantity: int = 2) -> dict[str, Any]:
    address = {"name": "Ada Lovelace", "street1": "1 Main St", "city": "Portland", "state": "OR",
               "postalCode": "97201", "country": "US"}
    return {"orderNumber": "#1001", "orderKey": key, "orderDate": "2026-11-26T12:00:00Z", "orderStatus": status,
            "billTo": dict(address), "shipTo": dict(address),
            "items": [{"sku": "PS-0001", "name": "Tee", "quantity": quantity, "unitPrice": 19.5}]}


def _create(sb: Sandbox, body: Any) -> requests.Response:
    return requests.post(f"{sb.wms_url}/orders/createorder", json=body, auth=_auth(sb), timeout=5)


def _inventory(sb: Sandbox, url: str | None = None, **params: Any) -> requests.Response:
    return requests.get(url or f"{sb.wms_url}/v2/inventory", params=params or None,
                        headers={"API-Key": sb.wms.inventory.api_key}, timeout=5)


def _contract() -> dict[str, Any]:
    text = resources.files("peppasync.contracts").joinpath("shipstation.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def _required_fields(schema: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every (path to a) field some ``required`` list of the schema names, nested objects included."""
    defs = _contract()["$defs"]
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    for name in schema.get("required", []):
        yield (*path, name)
    for name, sub in schema.get("properties", {}).items():
        if isinstance(sub, dict) and ("$ref" in sub or sub.get("type") == "object"):
            yield from _required_fields(sub, (*path, name))


REQUIRED = sorted(set(_required_fields(_contract()["$defs"]["CreateOrderRequest"])))


def _without(body: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    holder = body
    for name in path[:-1]:
        holder = holder[name]
    del holder[path[-1]]
    return body


def test_the_contract_requires_what_shipstation_documents_as_required() -> None:
    assert sorted([("orderNumber",), ("orderDate",), ("orderStatus",), ("billTo",), ("shipTo",)]) == REQUIRED


def test_a_whole_order_keeps_the_contract_and_is_accepted(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(replace(QUIET, shipment_delay=3600))

    response = _create(sb, _order())

    assert check("shipstation", "CreateOrderRequest", _order()) == []
    assert response.status_code == 200
    assert check("shipstation", "CreateOrderResponse", response.json()) == []
    assert check("shipstation", "RateLimitHeaders", dict(response.headers)) == []


@pytest.mark.parametrize("path", REQUIRED, ids=".".join)
def test_a_createorder_missing_a_required_field_is_refused_naming_it(make_sandbox: MakeSandbox,
                                                                     path: tuple[str, ...]) -> None:
    sb = make_sandbox()

    response = _create(sb, _without(_order(), path))

    assert response.status_code == 400
    assert check("shipstation", "ErrorResponse", response.json()) == []
    assert response.json()["ModelState"] == {".".join(("apiOrder", *path)): [f"The {path[-1]} field is required."]}
    assert sb.ledger()["wms"]["state"]["orders"] == {}


@pytest.mark.parametrize(("field", "value"), [
    ("orderNumber", 1001), ("orderStatus", "packed"), ("orderStatus", None), ("billTo", "1 Main St, Portland"),
    ("orderNumber", "#" + "9" * 50),
])
def test_a_createorder_with_a_wrong_type_or_value_is_refused_naming_the_field(make_sandbox: MakeSandbox,
                                                                              field: str, value: Any) -> None:
    sb = make_sandbox()

    response = _create(sb, {**_order(), field: value})

    assert response.status_code == 400
    assert check("shipstation", "ErrorResponse", response.json()) == []
    assert list(response.json()["ModelState"]) == [f"apiOrder.{field}"]


def test_an_item_with_a_quantity_that_is_not_a_whole_number_is_refused_where_it_is(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    body = _order()
    body["items"][0]["quantity"] = "two"

    response = _create(sb, body)

    assert response.status_code == 400
    assert list(response.json()["ModelState"]) == ["apiOrder.items.0.quantity"]


def test_a_wrong_basic_auth_is_refused_with_401_and_shipstations_error_body(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()

    response = requests.get(f"{sb.wms_url}/shipments", auth=("wms-key-1", "guess"), timeout=5)

    assert response.status_code == 401
    assert check("shipstation", "ErrorResponse", response.json()) == []


def test_the_request_after_the_windows_limit_gets_429_with_rate_limit_headers(make_sandbox: MakeSandbox) -> None:
    clock = ManualClock()
    sb = make_sandbox(replace(QUIET, wms_window_limit=3), clock=clock)

    answers = [requests.get(f"{sb.wms_url}/shipments", auth=_auth(sb), timeout=5) for _ in range(4)]
    clock.advance(61)
    after_reset = requests.get(f"{sb.wms_url}/shipments", auth=_auth(sb), timeout=5)

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-Rate-Limit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert answers[3].headers["X-Rate-Limit-Limit"] == "3"
    assert answers[3].headers["X-Rate-Limit-Reset"] == "60"
    assert check("shipstation", "TooManyRequestsResponse", answers[3].json()) == []
    assert check("shipstation", "RateLimitHeaders", dict(answers[3].headers)) == []
    assert after_reset.status_code == 200
    assert sb.wms.ledger.outcomes() == {"ok": 4, "throttled": 1}


def test_createorder_upserts_by_order_key(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(replace(QUIET, shipment_delay=3600))

    first = _create(sb, _order(quantity=2))
    second = _create(sb, _order(quantity=5))

    assert first.status_code == second.status_code == 200
    assert first.json()["orderId"] == second.json()["orderId"]
    state = sb.ledger()["wms"]["state"]
    assert state["orders"]["5600000000001"]["items"] == [{"sku": "PS-0001", "quantity": 5}]
    assert state["stock"]["PS-0001"] == {"onHand": 500, "allocated": 5}


def test_an_order_is_read_back_by_its_id_and_found_by_its_number(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(replace(QUIET, shipment_delay=3600))
    order_id = _create(sb, _order()).json()["orderId"]
    _create(sb, {**_order(key="5600000000002"), "orderNumber": "#1002"})

    by_id = requests.get(f"{sb.wms_url}/orders/{order_id}", auth=_auth(sb), timeout=5)
    by_number = requests.get(f"{sb.wms_url}/orders", params={"orderNumber": "#1001"}, auth=_auth(sb), timeout=5)
    unknown = requests.get(f"{sb.wms_url}/orders/1", auth=_auth(sb), timeout=5)

    assert by_id.status_code == 200 and by_id.json()["orderKey"] == "5600000000001"
    assert check("shipstation", "Order", by_id.json()) == []
    assert check("shipstation", "ListOrdersResponse", by_number.json()) == []
    assert [o["orderKey"] for o in by_number.json()["orders"]] == ["5600000000001"]
    assert unknown.status_code == 404
    assert check("shipstation", "ErrorResponse", unknown.json()) == []


def test_a_shipment_appears_later_and_ship_notify_points_at_it(make_sandbox: MakeSandbox,
                                                               receiver: Receiver) -> None:
    sb = make_sandbox(wms_webhook_url=f"{receiver.url}/webhooks/wms")

    _create(sb, _order())

    assert receiver.wait_for(1)
    notify = receiver.received[0]
    assert parse_qs(notify.query) == {"token": [sb.wms.webhook_token]}
    body = json.loads(notify.body)
    assert check("shipstation", "ShipNotifyWebhook", body) == []
    resource = requests.get(body["resource_url"], auth=_auth(sb), timeout=5).json()
    assert check("shipstation", "ListShipmentsResponse", resource) == []
    shipments = resource["shipments"]
    assert [s["orderKey"] for s in shipments] == ["5600000000001"]
    assert shipments[0]["trackingNumber"] and shipments[0]["carrierCode"] and shipments[0]["shipmentCost"] > 0
    listed = requests.get(f"{sb.wms_url}/shipments", params={"modifyDateStart": "2020-01-01T00:00:00Z",
                                                             "page": "1"}, auth=_auth(sb), timeout=5).json()
    assert listed["total"] == 1 and listed["pages"] == 1
    assert sb.ledger()["wms"]["state"]["stock"]["PS-0001"] == {"onHand": 498, "allocated": 0}


def test_a_shipped_order_can_no_longer_be_updated_and_stays_as_it_was(make_sandbox: MakeSandbox,
                                                                      receiver: Receiver) -> None:
    sb = make_sandbox(wms_webhook_url=receiver.url)
    order_id = _create(sb, _order()).json()["orderId"]
    assert receiver.wait_for(1)

    response = _create(sb, _order(status="cancelled"))

    assert response.status_code == 400
    assert check("shipstation", "ErrorResponse", response.json()) == []
    held = requests.get(f"{sb.wms_url}/orders/{order_id}", auth=_auth(sb), timeout=5).json()
    assert held["orderStatus"] == "shipped"


def test_a_bad_modify_date_start_is_a_400_that_shows_the_expected_form(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()

    response = requests.get(f"{sb.wms_url}/shipments", params={"modifyDateStart": "last tuesday"}, auth=_auth(sb),
                            timeout=5)

    assert response.status_code == 400
    assert "2024-01-01T00:00:00Z" in response.json()["Message"]


def test_other_sales_channels_take_stock_at_the_configured_rate(make_sandbox: MakeSandbox) -> None:
    clock = ManualClock()
    sb = make_sandbox(replace(QUIET, channel_consumption_rate=2.0), clock=clock)

    clock.advance(10)
    sb.wms.tick()

    state = sb.ledger()["wms"]["state"]
    assert state["consumed_by_other_channels"] == 20
    assert sum(v["onHand"] for v in state["stock"].values()) == 40 * 500 - 20


def test_an_order_cancelled_before_it_ships_never_ships_and_frees_its_stock(make_sandbox: MakeSandbox) -> None:
    clock = ManualClock()
    sb = make_sandbox(replace(QUIET, shipment_delay=10), clock=clock)
    _create(sb, _order())

    cancelled = _create(sb, _order(status="cancelled"))
    clock.advance(20)
    sb.wms.tick()

    assert cancelled.status_code == 200
    state = sb.ledger()["wms"]["state"]
    assert state["shipments"] == []
    assert state["stock"]["PS-0001"] == {"onHand": 500, "allocated": 0}


# -- V2 inventory -------------------------------------------------------------------------------

def test_v1_has_no_inventory_resource(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()

    response = requests.get(f"{sb.wms_url}/inventory", auth=_auth(sb), timeout=5)

    assert response.status_code == 404
    assert check("shipstation", "ErrorResponse", response.json()) == []


def test_v2_inventory_lists_every_sku_page_by_page_through_its_links(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(replace(QUIET, shipment_delay=3600))
    _create(sb, _order(quantity=3))

    pages = [_inventory(sb, limit=15).json()]
    while pages[-1]["links"]["next"]:
        pages.append(_inventory(sb, pages[-1]["links"]["next"]["href"]).json())

    assert all(check("shipstation", "V2ListInventoryResponse", page) == [] for page in pages)
    assert [(p["page"], p["pages"], p["total"]) for p in pages] == [(1, 3, 40), (2, 3, 40), (3, 3, 40)]
    rows = {row["sku"]: row for page in pages for row in page["inventory"]}
    assert len(rows) == 40
    assert (rows["PS-0001"]["on_hand"], rows["PS-0001"]["allocated"], rows["PS-0001"]["available"]) == (500, 3, 497)
    assert pages[0]["links"]["prev"] == {} and pages[-1]["links"]["next"] == {}


def test_v2_inventory_filters_by_sku_and_warehouse(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    warehouse = _inventory(sb).json()["inventory"][0]["inventory_warehouse_id"]

    one = _inventory(sb, sku="PS-0002").json()
    elsewhere = _inventory(sb, inventory_warehouse_id="se-0").json()
    grouped = _inventory(sb, group_by="warehouse", inventory_warehouse_id=warehouse).json()

    assert [row["sku"] for row in one["inventory"]] == ["PS-0002"]
    assert elsewhere["inventory"] == [] and elsewhere["total"] == 0
    assert grouped["total"] == 40 and "inventory_location_id" not in grouped["inventory"][0]


def test_v2_refuses_a_missing_key_a_bad_filter_and_too_many_requests_with_its_own_error_body(
        make_sandbox: MakeSandbox) -> None:
    clock = ManualClock()
    sb = make_sandbox(replace(QUIET, inventory_window_limit=2), clock=clock)

    no_key = requests.get(f"{sb.wms_url}/v2/inventory", auth=_auth(sb), timeout=5)
    bad = _inventory(sb, group_by="aisle")
    _inventory(sb)
    throttled = _inventory(sb)

    assert (no_key.status_code, bad.status_code, throttled.status_code) == (401, 400, 429)
    for response in (no_key, bad, throttled):
        assert check("shipstation", "V2ErrorResponse", response.json()) == []
    assert no_key.json()["errors"][0]["error_code"] == "unauthorized"
    assert throttled.json()["errors"][0]["error_code"] == "rate_limit_exceeded"
    assert check("shipstation", "V2TooManyRequestsHeaders", dict(throttled.headers)) == []


def test_an_outage_answers_every_v1_request_with_a_500_until_it_ends_and_takes_none_of_the_window(
        make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(replace(QUIET, wms_window_limit=2))

    sb.wms.fail()
    during = [requests.get(f"{sb.wms_url}/shipments", auth=_auth(sb), timeout=5) for _ in range(3)]
    sb.wms.recover()
    after = [requests.get(f"{sb.wms_url}/shipments", auth=_auth(sb), timeout=5) for _ in range(2)]

    assert [r.status_code for r in during] == [500, 500, 500]
    assert during[0].json() == {"Message": "An error has occurred."}
    assert [r.status_code for r in after] == [200, 200]
    assert sb.wms.ledger.outcomes() == {"error": 3, "ok": 2}


def test_under_a_burst_of_concurrent_requests_the_window_admits_its_limit_and_refuses_the_rest(
        make_sandbox: MakeSandbox) -> None:
    clock = ManualClock()
    sb = make_sandbox(QUIET, clock=clock)  # ShipStation's 40 requests a minute
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=100))

    def get() -> requests.Response:
        return session.get(f"{sb.wms_url}/shipments", auth=_auth(sb), timeout=10)

    burst = [g.get() for g in gevent.joinall([gevent.spawn(get) for _ in range(100)], raise_error=True)]
    clock.advance(60)
    next_window = [g.get() for g in gevent.joinall([gevent.spawn(get) for _ in range(50)], raise_error=True)]

    assert sorted(r.status_code for r in burst) == [200] * 40 + [429] * 60
    assert {r.headers["X-Rate-Limit-Reset"] for r in burst if r.status_code == 429} == {"60"}
    assert sorted(r.status_code for r in next_window) == [200] * 40 + [429] * 10
