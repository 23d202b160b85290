"""The scorecard judges an integration run: here a tiny integrator written with plain requests."""

from __future__ import annotations

from dataclasses import replace

import gevent
import requests

from peppasync.clock import ManualClock
from peppasync.sandbox.scorecard import stock_lags

from .conftest import QUIET
from .helpers import graphql, netsuite, set_available

FULFIL = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { userErrors { message } } }"""


def _integrate(sb, order):
    body = order.payload
    customer = f"shopify-customer-{body['customer']['id']}"
    netsuite(sb, "PUT", f"customer/eid:{customer}", {"companyName": body["email"], "subsidiary": {"id": "1"}})
    lines = [{"item": {"externalId": line["sku"]}, "quantity": line["quantity"]} for line in body["line_items"]]
    netsuite(sb, "PUT", f"salesOrder/eid:{order.id}", {"entity": {"externalId": customer}, "item": {"items": lines}})
    ship = [{"sku": line["sku"], "quantity": line["quantity"]} for line in body["line_items"] if line["requires_shipping"]]
    requests.post(f"{sb.wms_url}/orders/createorder", auth=(sb.wms.api_key, sb.wms.api_secret), timeout=5, json={
        "orderNumber": body["name"], "orderKey": str(order.id), "orderDate": body["created_at"],
        "orderStatus": "awaiting_shipment", "billTo": {"name": "x"}, "shipTo": {"name": "x"}, "items": ship})


def _fulfil_shipped(sb, tracking_override=None):
    shipments = requests.get(f"{sb.wms_url}/shipments", auth=(sb.wms.api_key, sb.wms.api_secret), timeout=5,
                             params={"pageSize": 500}).json()["shipments"]
    for shipment in shipments:
        fos = [f"gid://shopify/FulfillmentOrder/{fo['id']}" for fo in sb.shopify.shop.fulfillment_orders.values()
               if fo["order_id"] == int(shipment["orderKey"])]
        number = tracking_override or shipment["trackingNumber"]
        graphql(sb, FULFIL, {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo} for fo in fos],
                                   "trackingInfo": {"company": shipment["carrierCode"], "number": number}}})


def _sandbox(make_sandbox):
    clock = ManualClock()
    return make_sandbox(replace(QUIET, wms_window_limit=10_000, shipment_delay=1.0), clock=clock), clock


def test_a_correct_integration_scores_consistent(make_sandbox):
    sb, clock = _sandbox(make_sandbox)
    placed = sb.place_orders(8, malformed_ratio=0.0)
    for order in placed:
        _integrate(sb, order)
    clock.advance(2)
    sb.wms.tick()
    _fulfil_shipped(sb)

    card = sb.scorecard()

    assert card.consistent, card.as_dict()
    assert card.placed == card.valid == card.erp_orders == 8
    assert card.erp_max_in_flight >= 1
    assert card.stock_drift == {}


def test_the_scorecard_names_missing_duplicated_and_mistracked_orders(make_sandbox):
    sb, clock = _sandbox(make_sandbox)
    placed = sb.place_orders(4, malformed_ratio=0.0)
    for order in placed[1:]:
        _integrate(sb, order)
    line = {"item": {"externalId": placed[1].payload["line_items"][0]["sku"]}}
    netsuite(sb, "POST", "salesOrder", {"externalId": str(placed[1].id), "entity": {"id": sb.netsuite.erp.guest_customer},
                                        "item": {"items": [line]}})
    clock.advance(2)
    sb.wms.tick()
    _fulfil_shipped(sb, tracking_override="WRONG-1")

    card = sb.scorecard()

    assert not card.consistent
    assert card.erp_missing == (placed[0].id,)
    assert card.wms_missing == (placed[0].id,)
    assert card.erp_duplicate_creates == 1
    assert set(card.tracking_mismatches) == {p.id for p in placed[1:]}
    assert card.unfulfilled_shipments == ()


def test_wait_until_wakes_when_the_simulators_see_the_work_done(make_sandbox):
    sb, _ = _sandbox(make_sandbox)
    order = sb.place_orders(1, malformed_ratio=0.0)[0]
    worker = gevent.spawn(_integrate, sb, order)

    reached = sb.wait_until(lambda s: not s.scorecard().erp_missing and not s.scorecard().wms_missing, timeout=5)

    assert reached
    worker.join(timeout=5)
    assert not sb.wait_until(lambda s: len(s.placed) > 1, timeout=0.01)


def test_a_cancelled_order_must_be_cancelled_where_it_went_and_need_not_go_where_it_did_not(make_sandbox):
    sb, _ = _sandbox(make_sandbox)
    integrated, never_synced = sb.place_orders(2, malformed_ratio=0.0)
    _integrate(sb, integrated)
    sb.cancel_order(integrated.id)
    sb.cancel_order(never_synced.id)

    card = sb.scorecard()

    assert card.wms_not_cancelled == (integrated.id,)
    assert card.erp_not_cancelled == (integrated.id,)
    assert card.erp_missing == () and card.wms_missing == ()
    assert not card.consistent


def test_a_stock_change_counts_as_unwritten_only_while_shopify_shows_more_than_the_wms_has_free(make_sandbox):
    sb, clock = _sandbox(make_sandbox)
    left_high, set_low = sb.catalog.physical[0], sb.catalog.physical[1]
    warehouse = sb.wms.warehouse
    with warehouse.lock:
        for item in (left_high, set_low):  # another sales channel takes a unit of each
            warehouse.stock[item.sku]["onHand"] -= 1
            warehouse.channel_log.append((clock.time(), item.sku))
    clock.advance(1)
    # Shopify gets a lower number for one SKU (before the read, so it follows no read) ...
    set_available(sb, f"gid://shopify/InventoryItem/{set_low.inventory_item_id}", set_low.stock - 5,
                  set_low.stock, "lower-it")
    clock.advance(1)
    # ... then the stock is read; nothing is written after that.
    requests.get(f"{sb.wms_url}/v2/inventory", headers={"API-Key": sb.wms.inventory.api_key},
                 timeout=5).raise_for_status()

    lags = stock_lags(sb)

    # The first still shows its old stock, one more than the warehouse has free; the second shows less.
    assert lags.unreflected == 1
    assert lags.lags == ()
