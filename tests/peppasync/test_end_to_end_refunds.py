"""Refunds the moment orders are placed: each waits for its sales order and is credited in the ERP once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import gevent
import pytest

from peppasync.demo import build_demo
from peppasync.sandbox import PROFILES

from tests.peppasync.serving import free_port

# An ERP slow enough that every refund comes while its order is still on its way to the ERP.
PROFILE = replace(PROFILES["calm"], name="slow-erp", erp_latency_median=6.0, erp_error_rate=0.0,
                  webhook_drop_rate=0.0)


@pytest.mark.slow
def test_refunds_made_before_the_orders_reach_the_erp_are_each_credited_once_and_none_is_quarantined(
        tmp_path: Path) -> None:
    sandbox, runtime = build_demo(tmp_path, profile=PROFILE, seed=5, time_scale=20.0,
                                  listen=f"127.0.0.1:{free_port()}")
    try:
        placed = sandbox.place_orders(6, malformed_ratio=0.0)
        refunds = {f"shopify-refund-{sandbox.refund_order(p.id)['id']}" for p in placed}

        def waiting() -> int:
            states = [runtime.store.get_state("order", str(p.id)) for p in placed]
            return sum(len(found[0].get("refunds_waiting", ())) for found in states if found)

        waited = 0
        with gevent.Timeout(10, False):
            while not waited:
                gevent.sleep(0.05)
                waited = waiting()
        with gevent.Timeout(60, False):
            while set(sandbox.netsuite.erp.credit_documents()) != refunds:
                gevent.sleep(0.25)
        gevent.sleep(0.5)  # time for a second credit, were one to come
        credits = sandbox.netsuite.erp.credit_documents()
        quarantined = runtime.store.quarantine_counts()
        # Booked by the orders themselves, not by the reconciler's refund repairs.
        repaired = runtime.metrics.registry.get_sample_value("peppasync_reconcile_repairs_total",
                                                             {"kind": "missed_refund"})
    finally:
        runtime.stop()
        sandbox.stop()

    assert waited >= 1, "the refunds should have come before their sales orders"
    assert set(credits) == refunds
    assert all(len(kinds) == 1 for kinds in credits.values()), credits
    assert quarantined == {}
    assert not repaired
