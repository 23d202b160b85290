"""Build-to-order orders end to end on the sandbox: nothing shipped, fulfilled or approved in the ERP
before its gates pass; a rejected one held with its reason; another app's holds left alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import gevent
import pytest

from peppasync.demo import build_demo
from peppasync.runtime import Runtime
from peppasync.sandbox import PROFILES, Sandbox
from peppasync.sandbox.other_app import OTHER_APP

from tests.peppasync.serving import free_port

PROFILE = replace(PROFILES["calm"], name="gated", order_rate=20.0, erp_latency_median=0.05, shipment_delay=2.0)
GATES = {
    "on_reject": "hold",
    "workflows": {"custom": {"order_tags": ["custom"], "gates": ["finance", "design", "production"]}},
    "finance": {"owner": "finance", "sla_hours": 24, "pass_at_paid_percent": 50},
    "design": {"owner": "design", "sla_hours": 72},
    "production": {"owner": "factory", "sla_hours": 240},
}


def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    with gevent.Timeout(timeout, AssertionError("the sandbox did not get there in time")):
        while not check():
            gevent.sleep(0.1)


def _signal(runtime: Runtime, order_id: int, gate: str, action: str, who: str, why: str = "") -> None:
    runtime.system.tell("gate", f"{order_id}:{gate}", {"type": "signal", "action": action, "who": who, "why": why,
                                                       "signal_id": f"{order_id}:{gate}:{action}"})


def _gate(runtime: Runtime, order_id: int, gate: str) -> dict[str, Any]:
    found = runtime.store.get_state("gate", f"{order_id}:{gate}")
    return found[0]["gate"] if found else {}


@pytest.mark.slow
def test_custom_orders_wait_at_their_gates_everywhere_and_go_on_only_when_the_last_one_passes(
        tmp_path: Path) -> None:
    sandbox, runtime = build_demo(tmp_path, profile=PROFILE, seed=23, time_scale=10.0,
                                  listen=f"127.0.0.1:{free_port()}", gates=GATES)
    shop, warehouse = sandbox.shopify.shop, sandbox.wms.warehouse
    try:
        plain = sandbox.place_orders(2, malformed_ratio=0.0)
        approved, rejected, waiting, fraud = custom = sandbox.place_orders(4, malformed_ratio=0.0, tags="custom",
                                                                          unpaid=True)
        sandbox.other_app.hold(fraud.id, 3600.0, reason="HIGH_RISK_OF_FRAUD")
        _until(lambda: all(str(o.id) in warehouse.orders for o in custom))
        erp_before = {o.id: _erp_status(sandbox, o.id) for o in custom}

        for order in (approved, rejected, waiting, fraud):
            _signal(runtime, order.id, "finance", "approve", "alice", "deposit received by wire")
        _until(lambda: all(_gate(runtime, o.id, "design").get("status") == "open" for o in custom))
        for order in (approved, fraud):
            _signal(runtime, order.id, "design", "approve", "bob", "proof signed")
        _signal(runtime, rejected.id, "design", "reject", "bob", "customer withdrew the artwork")
        _until(lambda: all(_gate(runtime, o.id, "production").get("status") == "open" for o in (approved, fraud)))
        for order in (approved, fraud):
            _signal(runtime, order.id, "production", "approve", "factory-7", "built and checked")
        _until(lambda: str(approved.id) in {str(f["order_id"]) for f in shop.fulfillments.values()})
        _until(lambda: all(str(o.id) in {str(f["order_id"]) for f in shop.fulfillments.values()} for o in plain))
        gevent.sleep(1.0)
        erp_after = {o.id: _erp_status(sandbox, o.id) for o in custom}
        passed_at = _gate(runtime, approved.id, "production")["closed_at"]
    finally:
        runtime.stop()
        sandbox.stop()

    statuses = {key: [(at, status) for at, k, status in warehouse.status_log if k == key]
                for key in (str(o.id) for o in custom)}
    fulfilled = {f["order_id"] for f in shop.fulfillments.values()}
    assert erp_before == {o.id: "A" for o in custom}
    assert erp_after == {o.id: "B" for o in custom}
    assert [s for _, s in statuses[str(approved.id)]][-2:] == ["awaiting_shipment", "shipped"]
    assert all(at >= passed_at for at, s in statuses[str(approved.id)] if s == "awaiting_shipment")
    for order in (rejected, waiting, fraud):
        assert {s for _, s in statuses[str(order.id)]} == {"on_hold"}, statuses[str(order.id)]
        assert order.id not in fulfilled
    assert warehouse.orders[str(rejected.id)]["internalNotes"] == "design rejected by bob: customer withdrew the artwork"
    rejected_holds = [fo["holds"] for fo in shop.fulfillment_orders.values() if fo["order_id"] == rejected.id][0]
    assert ("peppasync-rejected", "design rejected by bob: customer withdrew the artwork") in {
        (h["handle"], h["notes"]) for h in rejected_holds}
    # Our own hold on the order that passed is released; the fraud filter's hold on the other stands.
    ours = [h for h in shop.hold_log if h["order_id"] == approved.id]
    assert [h["app"] for h in ours] == ["peppasync"] and ours[0]["released"] is not None
    fraud_holds = {h["app"]: h["released"] for h in shop.hold_log if h["order_id"] == fraud.id}
    assert fraud_holds[OTHER_APP] is None and fraud_holds["peppasync"] is not None
    assert {o.id for o in plain} <= fulfilled


def _erp_status(sandbox: Sandbox, order_id: int) -> str | None:
    found = sandbox.erp.snapshot()["sales_orders"].get(str(order_id))
    return None if found is None else found["status"]


@pytest.mark.slow
def test_a_gate_rejected_where_rejection_cancels_cancels_the_order_at_the_warehouse_and_in_the_erp(
        tmp_path: Path) -> None:
    sandbox, runtime = build_demo(tmp_path, profile=PROFILE, seed=29, time_scale=10.0,
                                  listen=f"127.0.0.1:{free_port()}", gates={**GATES, "on_reject": "cancel"})
    warehouse = sandbox.wms.warehouse
    try:
        [order] = sandbox.place_orders(1, malformed_ratio=0.0, tags="custom", unpaid=True)
        _until(lambda: str(order.id) in warehouse.orders and _gate(runtime, order.id, "finance").get("status") == "open")
        _signal(runtime, order.id, "finance", "reject", "alice", "card declined twice")
        _until(lambda: warehouse.orders[str(order.id)]["orderStatus"] == "cancelled")
        _until(lambda: _erp_status(sandbox, order.id) == "C")
        state = runtime.store.get_state("order", str(order.id))
    finally:
        runtime.stop()
        sandbox.stop()

    assert state is not None and state[0]["status"] == "cancelled"
    assert state[0]["gates"]["rejected"] == {"gate": "finance", "who": "alice", "why": "card declined twice"}
    assert [s for _, k, s in warehouse.status_log if k == str(order.id)] == ["on_hold", "cancelled"]
    assert not sandbox.shopify.shop.fulfillments
