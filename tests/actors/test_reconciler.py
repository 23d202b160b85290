"""The reconciler under a real actor system and store.

Against the sandbox with real connectors where the sandbox can show the case;
with the WMS and Shopify stubbed where a test needs shipments and orders in
states the sandbox does not reach on its own (an order busy for minutes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import gevent
import gevent.event
import pytest

from peppasync.backoff import Backoff
from peppasync.config import parse_config
from peppasync.errors import ConnectorError
from peppasync.sandbox import PROFILES, Sandbox
from peppasync.store import Store, ops

from actors.connectors import OrdersPage, RetryPolicy, ShipmentsPage, ShopifyConnector, WmsConnector
from actors.hooks import ActorHooks
from actors.margin import MarginActor
from actors.reconciler import ReconcilerActor, Settings
from tests.sandboxes import sandbox_factory

QUIET = replace(PROFILES["calm"], name="quiet", erp_latency_median=0.001, erp_latency_sigma=0.0, shipment_delay=0.05)
# Two quick tries: a call that keeps failing gives up at once, as one that has used its budget would.
SHORT_RETRY = RetryPolicy(max_attempts=2, deadline=5.0, backoff=Backoff(base=0.005, cap=0.01))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SweepEvents(ActorHooks):
    """What the sweeps report: finished sweeps and failed steps, by sweep, with a way to wait for them."""

    def __init__(self) -> None:
        self.finished: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.repairs: dict[str, int] = {}
        self._changed = gevent.event.Event()

    def on_sweep(self, sweep: str, seconds: float, at: float) -> None:
        self.finished[sweep] = self.finished.get(sweep, 0) + 1
        self._changed.set()

    def on_sweep_failed(self, sweep: str) -> None:
        self.failed[sweep] = self.failed.get(sweep, 0) + 1
        self._changed.set()

    def on_repair(self, kind: str) -> None:
        self.repairs[kind] = self.repairs.get(kind, 0) + 1
        self._changed.set()

    def wait(self, predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
        """Until ``predicate`` holds, checked at each report and (for what the store holds) every 50 ms."""
        with gevent.Timeout(timeout, False):
            while not predicate():
                self._changed.clear()
                self._changed.wait(0.05)
        return predicate()


class Wms:
    """ShipStation's shipment list: rows modified at or after ``modifyDateStart``, ``size`` to a page."""

    def __init__(self, rows: list[dict[str, Any]], size: int = 100, fail_once: tuple[int, ...] = ()) -> None:
        self.rows = rows
        self.size = size
        self.pages: list[int] = []
        self._fail = set(fail_once)

    def shipments_page(self, since: str, page: int = 1, *, priority: int = 0) -> ShipmentsPage:
        self.pages.append(page)
        if page in self._fail:
            self._fail.discard(page)
            raise ConnectorError("wms: HTTP 500", connector="wms", status=500, transient=True)
        rows = [r for r in self.rows if r["modifyDate"] >= since]
        pages = max(1, -(-len(rows) // self.size))
        return ShipmentsPage(rows[(page - 1) * self.size: page * self.size], page, pages)


class Shopify:
    """Shopify's order list (``updated_at`` since) and single-order query, over ``orders`` by id."""

    def __init__(self, orders: dict[str, dict[str, Any]] | None = None) -> None:
        self.orders = orders or {}

    def orders_page(self, since: str, *, after: str | None = None, page_size: int = 100,
                    priority: int = 0) -> OrdersPage:
        nodes = [{"id": f"gid://shopify/Order/{oid}", "legacyResourceId": oid, **o}
                 for oid, o in self.orders.items() if o["updatedAt"] > since]
        return OrdersPage(nodes, None, False)

    def graphql(self, query: str, variables: dict[str, Any], *, operation: str, estimate: float = 0.0,
                priority: int = 0) -> dict[str, Any]:
        oid = variables["id"].rsplit("/", 1)[-1]
        return {"order": {"id": variables["id"], "legacyResourceId": oid, **self.orders[oid]}}


def _mailbox(store: Store, key: str) -> list[dict[str, Any]]:
    return [m.payload for m in store.pending("order", key, limit=100, now=float("inf"))]


def _state(store: Store, sweep: str) -> dict[str, Any]:
    found = store.get_state("reconciler", sweep)
    return found[0] if found else {}


def _boot(system: Any) -> None:
    system.start()
    system.tell("reconciler", "main", {"type": "tick", "chain": "c1", "boot": True})


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    with sandbox_factory(QUIET) as make:
        yield make


def test_a_lost_order_is_repaired_while_the_wms_fails_and_the_shipments_sweep_resumes_once_it_recovers(
        make_system, store, make_sandbox) -> None:
    sb = make_sandbox(seed=4)  # no webhook target: every order placed is one the engine never heard of
    config = parse_config(sb.config_sections())
    events = SweepEvents()
    system = make_system(ReconcilerActor, hooks=events, services={
        "reconcile": Settings(interval=0.1, overlap=2.0),
        "shopify": ShopifyConnector(config.shopify, retry=SHORT_RETRY),
        "wms": WmsConnector(config.wms, retry=SHORT_RETRY)})
    sb.wms.fail()
    [order] = sb.place_orders(1, malformed_ratio=0.0)
    _boot(system)

    assert events.wait(lambda: events.failed.get("shipments", 0) >= 2 and bool(_mailbox(store, str(order.id))))
    [repair] = _mailbox(store, str(order.id))
    assert (repair["topic"], repair["source"], repair["body"]["id"]) == ("orders/create", "reconciler", order.id)
    assert "shipments" not in events.finished

    sb.wms.recover()

    assert events.wait(lambda: events.finished.get("shipments", 0) >= 1)
    assert _mailbox(store, str(order.id)) == [repair]  # found once, sent once


def test_a_sweep_that_fails_on_a_page_resumes_from_that_page(make_system, store) -> None:
    now = time.time()
    rows = [{"orderKey": f"o{n}", "modifyDate": _iso(now - 60 + n), "trackingNumber": f"1Z-{n}", "carrierCode": "ups"}
            for n in range(5)]
    store.write([ops.PutState("order", r["orderKey"], {"status": "sent_to_wms"}) for r in rows])
    wms = Wms(rows, size=2, fail_once=(2,))
    events = SweepEvents()
    system = make_system(ReconcilerActor, hooks=events, services={
        "reconcile": Settings(interval=30.0, overlap=2.0, retry=0.05), "wms": wms})
    _boot(system)

    assert events.wait(lambda: events.finished.get("shipments", 0) == 1 and bool(_mailbox(store, "o4")))
    assert wms.pages == [1, 2, 2, 3]
    assert events.failed == {"shipments": 1}
    assert [[p["tracking_number"] for p in _mailbox(store, r["orderKey"])] for r in rows] == [
        ["1Z-0"], ["1Z-1"], ["1Z-2"], ["1Z-3"], ["1Z-4"]]
    assert events.wait(lambda: "last_success" in _state(store, "shipments"))
    state = _state(store, "shipments")
    assert state["cursor"] == _iso(now - 56) and "sweep" not in state


def test_the_shipments_cursor_moves_past_a_busy_orders_shipment_which_is_repaired_once_the_order_settles(
        make_system, store) -> None:
    now = time.time()
    # Order "busy" shipped a while ago, while a step of it was still waiting; "done" shipped just now.
    wms = Wms([
        {"orderKey": "busy", "modifyDate": _iso(now - 60), "trackingNumber": "1Z-BUSY", "carrierCode": "ups"},
        {"orderKey": "done", "modifyDate": _iso(now - 1), "trackingNumber": "1Z-DONE", "carrierCode": "ups"},
    ])
    store.write([ops.PutState("order", "busy", {"status": "sent_to_wms"}),
                 ops.PutState("order", "done", {"status": "fulfilled"})])
    [step] = store.write([ops.Insert("order", "busy", {"type": "advance"})])
    events = SweepEvents()
    system = make_system(ReconcilerActor, hooks=events, services={
        "reconcile": Settings(interval=0.1, overlap=2.0), "wms": wms, "shopify": Shopify()})
    _boot(system)

    assert events.wait(lambda: events.finished.get("shipments", 0) >= 2 and "cursor" in _state(store, "shipments"))
    assert _mailbox(store, "busy") == [{"type": "advance"}]  # in flight: left alone for now
    assert _state(store, "shipments")["cursor"] == _iso(now - 1)
    store.write([ops.Start(step)])
    store.write([ops.Done(step)])  # the order settles without having heard of its shipment

    assert events.wait(lambda: any(p["type"] == "shipment" for p in _mailbox(store, "busy")))
    [shipment] = _mailbox(store, "busy")
    assert shipment["tracking_number"] == "1Z-BUSY"
    assert _mailbox(store, "done") == []


def test_a_shipment_of_an_order_busy_for_longer_than_max_hold_is_let_go_and_logged(make_system, store, caplog) -> None:
    now = time.time()
    wms = Wms([{"orderKey": "stuck", "modifyDate": _iso(now - 120), "trackingNumber": "1Z-OLD", "carrierCode": "ups"}])
    store.write([ops.PutState("order", "stuck", {"status": "sent_to_wms"}),
                 ops.Insert("order", "stuck", {"type": "advance"})])
    events = SweepEvents()
    system = make_system(ReconcilerActor, hooks=events, services={
        "reconcile": Settings(interval=0.1, overlap=2.0, max_hold=60.0), "wms": wms})
    _boot(system)

    assert events.wait(lambda: events.finished.get("shipments", 0) >= 2 and "cursor" in _state(store, "shipments"))

    state = _state(store, "shipments")
    assert state["cursor"] == _iso(now - 120) and state.get("watch") == {}
    assert any(r.getMessage().startswith("shipment of an order busy") and r.order_id == "stuck"
               for r in caplog.records)


def test_an_update_missed_while_its_order_was_busy_is_repaired_unless_its_webhook_is_waiting(
        make_system, store) -> None:
    now = time.time()
    synced_at, edited_at = _iso(now - 120), _iso(now - 30)
    shopify = Shopify({
        # Edited in Shopify while its ERP step waited; the orders/updated webhook was lost.
        "busy": {"updatedAt": edited_at, "cancelledAt": None},
        # Edited too, and that webhook is in its mailbox already.
        "coming": {"updatedAt": edited_at, "cancelledAt": None},
        # Cancelled while busy; orders/cancelled was lost.
        "gone": {"updatedAt": edited_at, "cancelledAt": edited_at},
    })
    store.write([ops.PutState("order", key, {"status": "erp_synced", "order": {"updated_at": synced_at}})
                 for key in shopify.orders])
    store.write([ops.Insert("order", key, {"type": "advance"}) for key in shopify.orders])
    store.write([ops.Insert("order", "coming", {"type": "webhook", "topic": "orders/updated", "event_id": "e-1",
                                                "body": {"id": "coming", "updated_at": edited_at}})])
    events = SweepEvents()
    system = make_system(ReconcilerActor, hooks=events, services={
        "reconcile": Settings(interval=0.05, overlap=2.0), "wms": Wms([]), "shopify": shopify})
    _boot(system)

    assert events.wait(lambda: events.finished.get("orders", 0) >= 4)  # a few sweeps: nothing is sent twice

    [_, busy] = _mailbox(store, "busy")
    [_, gone] = _mailbox(store, "gone")
    assert (busy["topic"], busy["body"]["updated_at"]) == ("orders/updated", edited_at)
    assert gone["topic"] == "orders/cancelled"
    assert [p["type"] for p in _mailbox(store, "coming")] == ["advance", "webhook"]
    assert events.repairs == {"missed_order": 2}


def test_a_cursor_kept_by_the_single_sweep_of_an_earlier_version_is_taken_over(make_system, store) -> None:
    now = time.time()
    earlier = {"orders_cursor": _iso(now - 10), "shipments_cursor": _iso(now - 20), "repaired": {"7": _iso(now - 10)}}
    store.write([ops.PutState("reconciler", "main", earlier)])
    events = SweepEvents()
    system = make_system(ReconcilerActor, hooks=events, services={
        "reconcile": Settings(interval=30.0, overlap=2.0), "wms": Wms([]), "shopify": Shopify()})
    _boot(system)

    assert events.wait(lambda: all("last_success" in _state(store, s) for s in ("orders", "shipments")))
    assert _state(store, "orders")["cursor"] == _iso(now - 10)
    assert _state(store, "shipments")["cursor"] == _iso(now - 20)
    assert "orders_cursor" not in store.get_state("reconciler", "main")[0]


def _refund_node(refund_id: int) -> dict[str, Any]:
    return {"legacyResourceId": refund_id, "createdAt": "2026-11-28T00:00:00Z", "note": None,
            "refundLineItems": {"nodes": [{"quantity": 1, "restockType": "RETURN",
                                           "subtotalSet": {"shopMoney": {"amount": "10.00"}},
                                           "totalTaxSet": {"shopMoney": {"amount": "0.80"}},
                                           "lineItem": {"id": "gid://shopify/LineItem/1", "sku": "SKU-1",
                                                        "title": "Mug", "isGiftCard": False}}]},
            "transactions": {"nodes": [{"kind": "REFUND", "status": "SUCCESS",
                                        "amountSet": {"shopMoney": {"amount": "10.80"}}}]},
            "refundShippingLines": {"nodes": []}}


def test_a_refund_whose_webhook_was_lost_is_sent_once_unless_booked_or_its_webhook_is_waiting(
        make_system, store) -> None:
    now = time.time()
    updated = _iso(now - 30)
    shopify = Shopify({"paid-back": {"updatedAt": updated, "cancelledAt": None,
                                     "displayFinancialStatus": "PARTIALLY_REFUNDED",
                                     "refunds": [_refund_node(71), _refund_node(72), _refund_node(73)]}})
    # Refund 71 is booked; 73's webhook waits in the mailbox; 72's webhook was lost.
    store.write([ops.PutState("order", "paid-back", {"status": "sent_to_wms", "erp_at": now - 100,
                                                     "order": {"updated_at": updated}, "refunds_booked": ["71"]})])
    store.write([ops.Insert("order", "paid-back", {"type": "webhook", "topic": "refunds/create", "event_id": "e-73",
                                                   "body": {"id": 73, "order_id": "paid-back"}})])
    events = SweepEvents()
    system = make_system(ReconcilerActor, hooks=events, services={
        "reconcile": Settings(interval=0.05, overlap=2.0), "wms": Wms([]), "shopify": shopify})
    _boot(system)

    assert events.wait(lambda: events.finished.get("orders", 0) >= 4)  # a few sweeps: nothing is sent twice

    [_, repair] = _mailbox(store, "paid-back")
    assert (repair["topic"], repair["source"], repair["body"]["id"]) == ("refunds/create", "reconciler", 72)
    assert [(line["line_item"]["sku"], line["restock_type"], line["subtotal"])
            for line in repair["body"]["refund_line_items"]] == [("SKU-1", "return", "10.00")]
    assert events.repairs == {"missed_refund": 1}


def test_the_shipments_sweep_tells_a_margin_of_a_label_it_missed_and_of_a_void_but_not_of_one_it_knows(
        make_system, store) -> None:
    now = time.time()
    wms = Wms([
        {"orderKey": "new", "shipmentId": 71, "modifyDate": _iso(now - 3), "shipmentCost": 7.5, "insuranceCost": 0},
        {"orderKey": "known", "shipmentId": 72, "modifyDate": _iso(now - 2), "shipmentCost": 9.0, "insuranceCost": 0},
        {"orderKey": "voided", "shipmentId": 73, "modifyDate": _iso(now - 1), "shipmentCost": 6.0,
         "insuranceCost": 0, "voided": True},
    ])
    label = {"shipment_cost": "5.00", "insurance_cost": "0", "voided": False}
    store.write([ops.PutState("order", key, {"status": "fulfilled"}) for key in ("new", "known", "voided")]
                + [ops.PutState("margin", "known", {"labels": {"72": label}}),
                   ops.PutState("margin", "voided", {"labels": {"73": label}})])
    events = SweepEvents()
    system = make_system(ReconcilerActor, MarginActor, hooks=events, services={
        "reconcile": Settings(interval=0.1, overlap=2.0), "wms": wms, "shopify": Shopify()})
    _boot(system)

    def labels(key: str) -> dict[str, Any]:
        found = store.get_state("margin", key)
        return found[0].get("labels", {}) if found else {}

    assert events.wait(lambda: "71" in labels("new") and labels("voided")["73"]["voided"]
                       and events.finished.get("shipments", 0) >= 2)
    assert labels("new")["71"]["shipment_cost"] == "7.5"
    assert labels("known") == {"72": label}  # heard of already: not told again with the page's figures
