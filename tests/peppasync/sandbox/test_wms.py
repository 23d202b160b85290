"""The WMS simulator (ShipStation V1 style) from the client side."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import parse_qs

import requests

from peppasync.clock import ManualClock

from .conftest import QUIET


def _auth(sb):
    return (sb.wms.api_key, sb.wms.api_secret)


def _order(key="5600000000001", status="awaiting_shipment", quantity=2):
    return {"orderNumber": "#1001", "orderKey": key, "orderDate": "2026-11-26T12:00:00Z", "orderStatus": status,
            "shipTo": {"name": "Ada Lovelace", "street1": "1 Main St", "city": "Portland", "country": "US"},
            "items": [{"sku": "PS-0001", "name": "Tee", "quantity": quantity, "unitPrice": 19.5}]}


def test_a_wrong_basic_auth_is_refused_with_401(make_sandbox):
    sb = make_sandbox()

    response = requests.get(f"{sb.wms_url}/inventory", auth=("wms-key-1", "guess"), timeout=5)

    assert response.status_code == 401


def test_the_request_after_the_windows_limit_gets_429_with_rate_limit_headers(make_sandbox):
    clock = ManualClock()
    sb = make_sandbox(replace(QUIET, wms_window_limit=3), clock=clock)

    answers = [requests.get(f"{sb.wms_url}/inventory", auth=_auth(sb), timeout=5) for _ in range(4)]
    clock.advance(61)
    after_reset = requests.get(f"{sb.wms_url}/inventory", auth=_auth(sb), timeout=5)

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-Rate-Limit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert answers[3].headers["X-Rate-Limit-Limit"] == "3"
    assert answers[3].headers["X-Rate-Limit-Reset"] == "60"
    assert answers[3].json() == {"statusCode": 429, "message": "ThrottlerException: Too Many Requests"}
    assert after_reset.status_code == 200
    assert sb.wms.ledger.outcomes() == {"ok": 4, "throttled": 1}


def test_createorder_upserts_by_order_key(make_sandbox):
    sb = make_sandbox(replace(QUIET, shipment_delay=3600))

    first = requests.post(f"{sb.wms_url}/orders/createorder", json=_order(quantity=2), auth=_auth(sb), timeout=5)
    second = requests.post(f"{sb.wms_url}/orders/createorder", json=_order(quantity=5), auth=_auth(sb), timeout=5)

    assert first.status_code == second.status_code == 200
    assert first.json()["orderId"] == second.json()["orderId"]
    state = sb.ledger()["wms"]["state"]
    assert state["orders"]["5600000000001"]["items"] == [{"sku": "PS-0001", "quantity": 5}]
    assert state["stock"]["PS-0001"] == {"onHand": 500, "allocated": 5}


def test_an_order_without_a_ship_to_is_refused_with_a_message_naming_it(make_sandbox):
    sb = make_sandbox()
    body = {k: v for k, v in _order().items() if k != "shipTo"}

    response = requests.post(f"{sb.wms_url}/orders/createorder", json=body, auth=_auth(sb), timeout=5)

    assert response.status_code == 400
    assert response.json() == {"Message": "The order is missing shipTo."}


def test_a_shipment_appears_later_and_ship_notify_points_at_it(make_sandbox, receiver):
    sb = make_sandbox(wms_webhook_url=f"{receiver.url}/webhooks/wms")

    requests.post(f"{sb.wms_url}/orders/createorder", json=_order(), auth=_auth(sb), timeout=5)

    assert receiver.wait_for(1)
    notify = receiver.received[0]
    assert parse_qs(notify.query) == {"token": [sb.wms.webhook_token]}
    body = json.loads(notify.body)
    assert body["resource_type"] == "SHIP_NOTIFY"
    shipments = requests.get(body["resource_url"], auth=_auth(sb), timeout=5).json()["shipments"]
    assert [s["orderKey"] for s in shipments] == ["5600000000001"]
    assert shipments[0]["trackingNumber"] and shipments[0]["carrierCode"] and shipments[0]["shipmentCost"] > 0
    listed = requests.get(f"{sb.wms_url}/shipments", params={"modifyDateStart": "2020-01-01T00:00:00Z",
                                                             "page": 1}, auth=_auth(sb), timeout=5).json()
    assert listed["total"] == 1 and listed["pages"] == 1
    assert sb.ledger()["wms"]["state"]["stock"]["PS-0001"] == {"onHand": 498, "allocated": 0}


def test_a_shipped_order_can_no_longer_be_updated(make_sandbox, receiver):
    sb = make_sandbox(wms_webhook_url=receiver.url)
    requests.post(f"{sb.wms_url}/orders/createorder", json=_order(), auth=_auth(sb), timeout=5)
    assert receiver.wait_for(1)

    response = requests.post(f"{sb.wms_url}/orders/createorder", json=_order(status="cancelled"),
                             auth=_auth(sb), timeout=5)

    assert response.status_code == 400
    assert "shipped and can no longer be updated" in response.json()["Message"]


def test_inventory_pages_rows_of_sku_on_hand_and_allocated(make_sandbox):
    sb = make_sandbox()

    page = requests.get(f"{sb.wms_url}/inventory", params={"page": 2, "pageSize": 15}, auth=_auth(sb),
                        timeout=5).json()

    assert page["total"] == 40 and page["pages"] == 3 and page["page"] == 2
    assert page["inventory"][0]["sku"] == "PS-0016"
    assert {"sku", "onHand", "allocated"} <= set(page["inventory"][0])


def test_a_bad_modified_since_is_a_400_that_shows_the_expected_form(make_sandbox):
    sb = make_sandbox()

    response = requests.get(f"{sb.wms_url}/inventory", params={"modifiedSince": "last tuesday"}, auth=_auth(sb),
                            timeout=5)

    assert response.status_code == 400
    assert "2024-01-01T00:00:00Z" in response.json()["Message"]


def test_other_sales_channels_take_stock_at_the_configured_rate(make_sandbox):
    clock = ManualClock()
    sb = make_sandbox(replace(QUIET, channel_consumption_rate=2.0), clock=clock)

    clock.advance(10)
    sb.wms.tick()

    state = sb.ledger()["wms"]["state"]
    assert state["consumed_by_other_channels"] == 20
    assert sum(v["onHand"] for v in state["stock"].values()) == 40 * 500 - 20


def test_an_order_cancelled_before_it_ships_never_ships_and_frees_its_stock(make_sandbox):
    clock = ManualClock()
    sb = make_sandbox(replace(QUIET, shipment_delay=10), clock=clock)
    requests.post(f"{sb.wms_url}/orders/createorder", json=_order(), auth=_auth(sb), timeout=5)

    cancelled = requests.post(f"{sb.wms_url}/orders/createorder", json=_order(status="cancelled"),
                              auth=_auth(sb), timeout=5)
    clock.advance(20)
    sb.wms.tick()

    assert cancelled.status_code == 200
    state = sb.ledger()["wms"]["state"]
    assert state["shipments"] == []
    assert state["stock"]["PS-0001"] == {"onHand": 500, "allocated": 0}
