"""The reconciler under a real actor system and store, with the WMS and Shopify on the far side stubbed."""

import time
from datetime import datetime, timezone

import gevent

from peppasync.store import ops

from actors.reconciler import ReconcilerActor, Settings


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Wms:
    """ShipStation's shipment list: rows modified at or after ``modifyDateStart``."""

    def __init__(self, rows):
        self.rows = rows
        self.reads = 0

    def shipments_since(self, since: str, *, priority: int = 0):
        self.reads += 1
        return iter([r for r in self.rows if r["modifyDate"] >= since])


class Shopify:
    """Shopify's order list (``updated_at`` since) and single-order query, over ``orders`` by id."""

    def __init__(self, orders=None):
        self.orders = orders or {}

    def orders_updated_since(self, since: str):
        return iter([{"id": f"gid://shopify/Order/{oid}", "legacyResourceId": oid, **o}
                     for oid, o in self.orders.items() if o["updatedAt"] >= since])

    def graphql(self, query, variables, *, operation, estimate=None):
        oid = variables["id"].rsplit("/", 1)[-1]
        return {"order": {"id": variables["id"], "legacyResourceId": oid, **self.orders[oid]}}


def _mailbox(store, key):
    return [m.payload for m in store.pending("order", key, limit=100, now=float("inf"))]


def _wait(predicate, timeout=10.0):
    with gevent.Timeout(timeout, False):
        while not predicate():
            gevent.sleep(0.02)
    return predicate()


def test_a_shipment_missed_while_its_order_was_busy_is_repaired_once_the_order_settles(make_system, store):
    now = time.time()
    # Order "busy" shipped a while ago, while a step of it was still waiting; "done" shipped just now.
    wms = Wms([
        {"orderKey": "busy", "modifyDate": _iso(now - 60), "trackingNumber": "1Z-BUSY", "carrierCode": "ups"},
        {"orderKey": "done", "modifyDate": _iso(now - 1), "trackingNumber": "1Z-DONE", "carrierCode": "ups"},
    ])
    store.write([ops.PutState("order", "busy", {"status": "sent_to_wms"}),
                 ops.PutState("order", "done", {"status": "fulfilled"})])
    [step] = store.write([ops.Insert("order", "busy", {"type": "advance"})])
    system = make_system(ReconcilerActor, services={
        "reconcile": Settings(interval=0.1, overlap=2.0), "wms": wms, "shopify": Shopify()})
    system.start()
    system.tell("reconciler", "main", {"type": "tick", "chain": "c1", "boot": True})

    assert _wait(lambda: wms.reads >= 3)
    assert _mailbox(store, "busy") == [{"type": "advance"}]  # in flight: left alone for now
    store.write([ops.Start(step)])
    store.write([ops.Done(step)])  # the order settles without having heard of its shipment

    assert _wait(lambda: any(p["type"] == "shipment" for p in _mailbox(store, "busy")))
    [shipment] = _mailbox(store, "busy")
    assert shipment["tracking_number"] == "1Z-BUSY"
    assert _mailbox(store, "done") == []


def test_an_update_missed_while_its_order_was_busy_is_repaired_unless_its_webhook_is_waiting(make_system, store):
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
    system = make_system(ReconcilerActor, services={
        "reconcile": Settings(interval=0.1, overlap=2.0), "wms": Wms([]), "shopify": shopify})
    system.start()
    system.tell("reconciler", "main", {"type": "tick", "chain": "c1", "boot": True})

    assert _wait(lambda: len(_mailbox(store, "busy")) == 2 and len(_mailbox(store, "gone")) == 2)
    gevent.sleep(0.3)  # a few more sweeps: nothing is sent twice

    [_, busy] = _mailbox(store, "busy")
    [_, gone] = _mailbox(store, "gone")
    assert (busy["topic"], busy["body"]["updated_at"]) == ("orders/updated", edited_at)
    assert gone["topic"] == "orders/cancelled"
    assert [p["type"] for p in _mailbox(store, "coming")] == ["advance", "webhook"]


def test_an_order_busy_for_too_long_does_not_hold_the_shipments_cursor_back_for_ever(make_system, store, caplog):
    now = time.time()
    wms = Wms([
        {"orderKey": "stuck", "modifyDate": _iso(now - 120), "trackingNumber": "1Z-OLD", "carrierCode": "ups"},
        {"orderKey": "done", "modifyDate": _iso(now - 1), "trackingNumber": "1Z-DONE", "carrierCode": "ups"},
    ])
    store.write([ops.PutState("order", "stuck", {"status": "sent_to_wms"}),
                 ops.PutState("order", "done", {"status": "fulfilled"}),
                 ops.Insert("order", "stuck", {"type": "advance"})])
    system = make_system(ReconcilerActor, services={
        "reconcile": Settings(interval=0.1, overlap=2.0, max_hold=60.0), "wms": wms, "shopify": Shopify()})
    system.start()
    system.tell("reconciler", "main", {"type": "tick", "chain": "c1", "boot": True})

    assert _wait(lambda: wms.reads >= 3)

    state = store.get_state("reconciler", "main")[0]
    assert state["shipments_cursor"] == _iso(now - 1)
    assert any(r.getMessage().startswith("shipment of an order busy") and r.order_id == "stuck"
               for r in caplog.records)
