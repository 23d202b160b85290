"""Holds placed by another app in Shopify, end to end on the sandbox.

A fraud filter holds some orders' fulfillment orders right after checkout, and an address
check holds some when the warehouse ships them, each for a while. None of the orders held
at checkout reaches the WMS as ``awaiting_shipment`` while it is held, and every shipment,
held ones included, ends as a Shopify fulfillment with its tracking once the hold is lifted.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import gevent
import pytest

from peppasync.consistency import check_consistency
from peppasync.demo import build_demo
from peppasync.sandbox import PROFILES
from peppasync.sandbox.other_app import OTHER_APP

from tests.peppasync.serving import free_port

# Simulated seconds; the sandbox runs ten times faster. The engine looks at a held order every 3 s.
PROFILE = replace(PROFILES["calm"], name="held", order_rate=20.0, erp_latency_median=0.05, shipment_delay=5.0,
                  other_app_hold_rate=0.2, other_app_ship_hold_rate=0.2, other_app_hold_min=20.0,
                  other_app_hold_max=40.0)


@pytest.mark.slow
def test_orders_another_app_holds_wait_for_the_hold_and_every_shipment_is_fulfilled_with_its_tracking(
        tmp_path: Path) -> None:
    sandbox, runtime = build_demo(tmp_path, profile=PROFILE, seed=21, time_scale=10.0,
                                  listen=f"127.0.0.1:{free_port()}")
    shop, warehouse = sandbox.shopify.shop, sandbox.wms.warehouse
    try:
        placed = sandbox.place_orders(30, malformed_ratio=0.0, paced=True)
        with gevent.Timeout(90, False):
            while not (len(warehouse.shipments) == len(placed) and len(shop.fulfillments) == len(placed)
                       and all(h["released"] is not None for h in shop.hold_log)):
                gevent.sleep(0.25)
        result = check_consistency(sandbox, runtime.store)
    finally:
        runtime.stop()
        sandbox.stop()

    at_checkout = {h["order_id"] for h in shop.hold_log if h["reason"] == "HIGH_RISK_OF_FRAUD"}
    at_shipment = {h["order_id"] for h in shop.hold_log if h["reason"] == "INCORRECT_ADDRESS"}
    tracking = {f["order_id"]: {t["number"] for t in f["tracking"]} for f in shop.fulfillments.values()}
    shipped = {int(s["orderKey"]): s["trackingNumber"] for s in warehouse.shipments}
    assert at_checkout and at_shipment
    assert all(h["app"] == OTHER_APP for h in shop.hold_log)
    assert result.scorecard.released_while_held == ()
    assert set(shipped) == {p.id for p in placed}
    assert all(tracking.get(order_id) == {number} for order_id, number in shipped.items())
    assert result.consistent, result.as_dict()
