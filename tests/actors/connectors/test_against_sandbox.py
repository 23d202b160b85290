"""All three connectors against the sandbox: real OAuth, real buckets and windows, real records."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import gevent
import gevent.event
import pytest

from peppasync.backoff import Backoff
from peppasync.clock import ManualClock
from peppasync.config import Config, parse_config
from peppasync.errors import ConnectorError
from peppasync.sandbox import PROFILES, Sandbox

from actors.connectors import NetsuiteConnector, RetryPolicy, ShopifyConnector, WmsConnector, WmsInventoryConnector
from tests.sandboxes import sandbox_factory

from .conftest import StubServer

QUIET = replace(PROFILES["calm"], name="quiet", erp_latency_median=0.001, erp_latency_sigma=0.0,
                shipment_delay=0.05)
# Short real waits: the sandbox is a real server, so retries really wait, briefly.
FAST_RETRY = RetryPolicy(max_attempts=12, deadline=30.0, backoff=Backoff(base=0.005, cap=0.05))


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    with sandbox_factory(QUIET) as make:
        yield make


def _config(sb: Sandbox) -> Config:
    return parse_config(sb.config_sections())


def _sales_order(sku: str, quantity: int = 1) -> dict[str, Any]:
    return {"item": {"items": [{"item": {"externalId": sku}, "quantity": quantity}]}}


# -- NetSuite ---------------------------------------------------------------------------------

def test_netsuite_accepts_the_signed_requests_and_records_the_upserts(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=3)
    erp = NetsuiteConnector(_config(sb).netsuite, retry=FAST_RETRY)
    sku = sb.catalog.items[0].sku

    customer = erp.upsert_customer(77, {"email": "a@example.com", "isPerson": True, "firstName": "Ada",
                                        "lastName": "Lovelace"})
    first = erp.upsert_sales_order(5001, _sales_order(sku, 2))
    again = erp.upsert_sales_order(5001, _sales_order(sku, 3))
    erp.cancel_sales_order(5001)

    orders = sb.ledger()["netsuite"]["state"]["sales_orders"]
    assert customer and first == again
    assert orders["5001"]["status"] == "C"
    assert orders["5001"]["lines"] == [{"sku": sku, "quantity": 3}]
    assert "unauthorized" not in sb.netsuite.ledger.outcomes()


def test_netsuite_refuses_a_wrong_token_secret_and_the_connector_does_not_retry(
        make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=4)
    wrong = replace(_config(sb).netsuite, token_secret="not-the-secret")

    with pytest.raises(ConnectorError) as caught:
        NetsuiteConnector(wrong, retry=FAST_RETRY).upsert_customer(1, {"email": "x@example.com"})

    assert (caught.value.transient, caught.value.status, caught.value.code) == (False, 401, "INVALID_LOGIN")
    assert "signature does not match" in str(caught.value)
    assert sb.netsuite.ledger.outcomes() == {"unauthorized": 1}


def test_an_unknown_item_is_permanent_with_netsuites_code_and_detail(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=5)
    erp = NetsuiteConnector(_config(sb).netsuite, retry=FAST_RETRY)

    with pytest.raises(ConnectorError) as caught:
        erp.upsert_sales_order(6001, _sales_order("NO-SUCH-SKU"))

    # The docs' own example of an unknown item on a sales order answers INVALID_CONTENT at its path.
    assert (caught.value.transient, caught.value.status, caught.value.code) == (False, 400, "INVALID_CONTENT")
    assert "NO-SUCH-SKU" in str(caught.value) and "item.items[0].item" in str(caught.value)
    assert len(sb.netsuite.ledger.entries()) == 1


def test_item_cost_reads_the_item_and_says_none_for_an_unknown_one(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=6)
    erp = NetsuiteConnector(_config(sb).netsuite, retry=FAST_RETRY)
    item = sb.catalog.items[1]

    assert erp.item_cost(item.sku) == pytest.approx(float(item.cost))
    assert erp.item_cost("NO-SUCH-SKU") is None


def test_a_connector_configured_above_the_accounts_limit_adapts_with_few_429s(
        make_sandbox: Callable[..., Sandbox]) -> None:
    profile = replace(QUIET, erp_concurrency_limit=4, erp_latency_median=0.02, erp_load_factor=0.0)
    sb = make_sandbox(profile, seed=7)
    too_high = replace(_config(sb).netsuite, max_concurrency=16)
    erp = NetsuiteConnector(too_high, retry=FAST_RETRY)
    sku = sb.catalog.items[2].sku

    calls = [gevent.spawn(erp.upsert_sales_order, 7000 + n, _sales_order(sku)) for n in range(150)]
    gevent.joinall(calls, raise_error=True)

    outcomes = sb.netsuite.ledger.outcomes()
    assert len(sb.ledger()["netsuite"]["state"]["sales_orders"]) == 150
    # The first 16 calls go out together and 12 of them are refused; after that, a few probes.
    assert 12 <= outcomes["throttled"] <= 20
    assert erp.stats()["limit"] <= 5


def test_a_connector_configured_at_the_accounts_limit_is_never_throttled(
        make_sandbox: Callable[..., Sandbox]) -> None:
    profile = replace(QUIET, erp_concurrency_limit=6, erp_latency_median=0.02, erp_load_factor=0.0)
    sb = make_sandbox(profile, seed=8)
    erp = NetsuiteConnector(_config(sb).netsuite, retry=FAST_RETRY)
    sku = sb.catalog.items[2].sku

    calls = [gevent.spawn(erp.upsert_sales_order, 8000 + n, _sales_order(sku)) for n in range(120)]
    gevent.joinall(calls, raise_error=True)

    assert sb.netsuite.ledger.outcomes() == {"created": 120}
    assert sb.netsuite.ledger.max_in_flight == 6


# -- Shopify ----------------------------------------------------------------------------------

def test_orders_updated_since_pages_through_every_order(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=11)
    placed = sb.place_orders(7, malformed_ratio=0.0)
    shop = ShopifyConnector(_config(sb).shopify, retry=FAST_RETRY)

    orders = list(shop.orders_updated_since("2000-01-01T00:00:00Z", page_size=3))

    assert sorted(o["legacyResourceId"] for o in orders) == sorted(p.id for p in placed)
    assert [o["updatedAt"] for o in orders] == sorted(o["updatedAt"] for o in orders)


def test_variants_and_levels_are_read_by_sku_and_item(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=12)
    shop = ShopifyConnector(_config(sb).shopify, retry=FAST_RETRY)
    items = sb.catalog.items[:3]

    found = shop.variants_by_sku([i.sku for i in items] + ["NO-SUCH-SKU"])
    levels = shop.available(list(found.values()))

    assert found == {i.sku: f"gid://shopify/InventoryItem/{i.inventory_item_id}" for i in items}
    assert all(isinstance(q, int) for q in levels.values()) and len(levels) == 3


def test_a_stale_compare_is_reported_for_that_item_and_succeeds_once_refreshed(
        make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=13)
    shop = ShopifyConnector(_config(sb).shopify, retry=FAST_RETRY)
    a, b = (f"gid://shopify/InventoryItem/{i.inventory_item_id}" for i in sb.catalog.items[:2])
    now = shop.available([a, b])
    qa, qb = now[a], now[b]
    assert qa is not None and qb is not None

    first = shop.set_available([(a, 7, qa), (b, 9, qb + 1)], "sync-1")
    stale = [r.inventory_item_id for r in first if r.code == "CHANGE_FROM_QUANTITY_STALE"]
    fresh = shop.available(stale)
    second = shop.set_available([(a, 7, qa), (b, 9, fresh[b])], "sync-2")
    replay = shop.set_available([(a, 7, qa), (b, 9, fresh[b])], "sync-2")

    assert stale == [b]
    assert [r.code for r in first] == ["NOT_APPLIED", "CHANGE_FROM_QUANTITY_STALE"]
    assert all(r.applied for r in second) and all(r.applied for r in replay)
    assert shop.available([a, b]) == {a: 7, b: 9}


def test_fulfilling_twice_is_one_fulfillment_and_then_success(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=14)
    order = sb.place_orders(1, malformed_ratio=0.0)[0]
    shop = ShopifyConnector(_config(sb).shopify, retry=FAST_RETRY)

    first = shop.fulfill(order.id, "1Z999AA10123456784", "UPS", "https://www.ups.com/track?tracknum=1Z999AA10123456784")
    second = shop.fulfill(order.id, "1Z999AA10123456784", "UPS")

    assert first["already_fulfilled"] is False and first["fulfillment_id"]
    assert second == {"fulfillment_id": None, "already_fulfilled": True, "held": []}


def test_a_held_order_is_not_fulfilled_and_its_holds_say_whose_they_are_until_they_are_lifted(
        make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=16)
    order = sb.place_orders(1, malformed_ratio=0.0)[0]
    [hold] = sb.other_app.hold(order.id, 3600.0, reason="HIGH_RISK_OF_FRAUD")
    shop = ShopifyConnector(_config(sb).shopify, retry=FAST_RETRY)

    while_held = shop.fulfill(order.id, "1Z999AA10123456784", "UPS")
    holds = shop.fulfillment_holds(order.id)
    sb.shopify.shop.release(hold["fo_id"], [hold["id"]])
    after = shop.fulfill(order.id, "1Z999AA10123456784", "UPS")

    assert while_held["fulfillment_id"] is None and while_held["held"] == holds
    assert [(h["reason"], h["heldByRequestingApp"]) for h in holds] == [("HIGH_RISK_OF_FRAUD", False)]
    assert sb.shopify.shop.fulfillments and after["fulfillment_id"] and after["held"] == []
    assert shop.fulfillment_holds(order.id) == []


def test_our_hold_is_placed_once_per_handle_and_releasing_it_leaves_another_apps_hold_in_place(
        make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=17)
    order = sb.place_orders(1, malformed_ratio=0.0)[0]
    sb.other_app.hold(order.id, 3600.0, reason="HIGH_RISK_OF_FRAUD")
    shop = ShopifyConnector(_config(sb).shopify, retry=FAST_RETRY)

    ours = shop.hold_fulfillment(order.id, "peppasync-gates", "build to order: waiting for design")
    again = shop.hold_fulfillment(order.id, "peppasync-gates", "build to order: waiting for design")
    shop.release_holds([(h["fulfillmentOrderId"], h["id"]) for h in ours])
    left = shop.fulfillment_holds(order.id)

    assert [(h["handle"], h["reason"], h["heldByRequestingApp"]) for h in ours] == [
        ("peppasync-gates", "OTHER", True)]
    assert again == ours
    assert [(h["reason"], h["heldByRequestingApp"]) for h in left] == [("HIGH_RISK_OF_FRAUD", False)]


def test_an_orders_product_tags_are_read_from_its_lines_products(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=18)
    placed = sb.place_orders(12, malformed_ratio=0.0)
    shop = ShopifyConnector(_config(sb).shopify, retry=FAST_RETRY)

    tags = {p.id: shop.order_product_tags(p.id) for p in placed}

    expected = {p.id: {t for line in p.payload["line_items"] if (item := sb.catalog.get(line.get("sku")))
                       for t in item.tags} for p in placed}
    assert tags == expected
    assert any(tags.values()) and not all(tags.values())


def test_fulfilling_an_unknown_order_is_permanent(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=15)
    shop = ShopifyConnector(_config(sb).shopify, retry=FAST_RETRY)

    with pytest.raises(ConnectorError) as caught:
        shop.fulfill(999999, "1Z", "UPS")

    assert (caught.value.transient, caught.value.code) == (False, "NOT_FOUND")


def test_many_concurrent_queries_wait_for_a_small_bucket_instead_of_being_throttled(
        make_sandbox: Callable[..., Sandbox]) -> None:
    profile = replace(QUIET, bucket_size=200.0, bucket_restore_rate=400.0)
    sb = make_sandbox(profile, seed=16)
    shop = ShopifyConnector(_config(sb).shopify, retry=FAST_RETRY)
    sb.place_orders(3, malformed_ratio=0.0)
    shop.orders_updated_since("2000-01-01T00:00:00Z", page_size=50).__next__()

    calls = [gevent.spawn(lambda: list(shop.orders_updated_since("2000-01-01T00:00:00Z", page_size=50)))
             for _ in range(40)]
    gevent.joinall(calls, raise_error=True)

    assert all(len(c.value) == 3 for c in calls)
    assert shop.stats()["throttled"] <= 2


# -- WMS --------------------------------------------------------------------------------------

def _wms_order(order_id: int, sku: str, quantity: int, status: str = "awaiting_shipment") -> dict[str, Any]:
    address = {"name": "Ada Lovelace", "street1": "1 Analytical Way", "city": "London", "postalCode": "N1 1AA",
               "country": "GB"}
    return {"orderKey": str(order_id), "orderNumber": f"#{order_id}", "orderDate": "2026-11-27T10:00:00Z",
            "orderStatus": status, "billTo": address, "shipTo": address,
            "items": [{"sku": sku, "name": sku, "quantity": quantity}]}


def test_orders_are_upserted_by_order_key_and_allocate_stock_read_from_the_v2_inventory_api(
        make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(seed=21)
    config = _config(sb).wms
    wms = WmsConnector(config, retry=FAST_RETRY)
    sku = sb.catalog.items[0].sku

    first = wms.upsert_order(_wms_order(9001, sku, 2))
    again = wms.upsert_order(_wms_order(9001, sku, 3))
    levels = WmsInventoryConnector(config, retry=FAST_RETRY).levels()

    assert first["orderId"] == again["orderId"]
    assert again["items"] == [{"sku": sku, "name": sku, "quantity": 3}]
    assert (levels[sku].on_hand, levels[sku].allocated) == (sb.catalog.items[0].stock, 3)
    assert len(levels) == len([i for i in sb.catalog.items if not i.gift_card])


def test_a_cancellation_of_an_order_the_wms_shipped_returns_the_shipped_order_and_changes_nothing(
        make_sandbox: Callable[..., Sandbox]) -> None:
    clock = ManualClock()
    sb = make_sandbox(seed=24, clock=clock)
    wms = WmsConnector(_config(sb).wms, retry=FAST_RETRY)
    sku = sb.catalog.items[0].sku
    created = wms.upsert_order(_wms_order(9201, sku, 1))
    clock.advance(QUIET.shipment_delay)
    sb.wms.tick()

    by_id = wms.upsert_order(_wms_order(9201, sku, 1, "cancelled"), order_id=created["orderId"])
    by_number = wms.upsert_order(_wms_order(9201, sku, 1, "cancelled"))

    assert by_id["orderStatus"] == by_number["orderStatus"] == "shipped"
    assert by_id["orderId"] == by_number["orderId"] == created["orderId"]
    assert len(sb.wms.warehouse.shipments) == 1


def test_a_small_request_window_is_respected_without_a_single_429(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(replace(QUIET, wms_window_limit=3, wms_window_seconds=0.4), seed=22)
    wms = WmsConnector(_config(sb).wms, retry=FAST_RETRY, limit=None)

    calls = [gevent.spawn(lambda: list(wms.shipments_since("2000-01-01T00:00:00Z"))) for _ in range(7)]
    gevent.joinall(calls, raise_error=True)

    assert sb.wms.ledger.outcomes() == {"ok": 7}
    assert wms.stats()["throttled"] == 0


def test_a_ship_notify_resource_url_is_fetched_and_the_shipment_also_appears_in_the_shipment_list(
        make_sandbox: Callable[..., Sandbox], stub: Callable[..., StubServer]) -> None:
    notified = gevent.event.Event()
    notices: list[dict[str, Any]] = []

    def receive(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        notices.append(json.loads(request["body"]))
        notified.set()
        return 200, {}, b""

    receiver = stub(receive)
    sb = make_sandbox(seed=23, wms_webhook_url=receiver.url + "/webhooks/wms")
    wms = WmsConnector(_config(sb).wms, retry=FAST_RETRY)
    wms.upsert_order(_wms_order(9101, sb.catalog.items[0].sku, 1))

    assert notified.wait(10), "the sandbox WMS sent no SHIP_NOTIFY"
    batch = wms.fetch(notices[0]["resource_url"])
    listed = list(wms.shipments_since("2000-01-01T00:00:00Z"))

    assert notices[0]["resource_type"] == "SHIP_NOTIFY"
    assert [s["orderKey"] for s in batch["shipments"]] == ["9101"]
    assert batch["shipments"][0]["trackingNumber"]
    assert [s["shipmentId"] for s in listed] == [s["shipmentId"] for s in batch["shipments"]]
