"""The engine against the sandbox with each ERP: every valid order in the ERP exactly once with its lines.

The same engine, order flow and configuration code run with ``[erp] kind`` set to each ERP
the sandbox simulates; only the adapter and its connector differ. Orders are placed with
malformed and messy ones among them, some are edited and some cancelled in Shopify; the
verdict is the consistency check the demo and the benchmarks use, read from the
simulators' own ledgers and the engine's quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import gevent
import pytest

from peppasync.consistency import Consistency, check_consistency
from peppasync.demo import build_demo
from peppasync.runtime import Runtime
from peppasync.sandbox import ERP_KINDS, PROFILES, Sandbox

from tests.peppasync.serving import free_port

# Webhooks duplicated, reordered and dropped (the reconciler finds those); the ERP throws 5xx.
PROFILE = replace(PROFILES["calm"], name="rough", order_rate=20.0, webhook_duplicate_rate=0.1,
                  webhook_reorder_rate=0.1, webhook_drop_rate=0.03, erp_error_rate=0.05, erp_latency_median=0.05,
                  shipment_delay=3600.0)  # still at the warehouse when edited: an edit then reaches the ERP


def _settle(sandbox: Sandbox, runtime: Runtime, done: Callable[[Consistency], bool],
            timeout: float = 120.0) -> Consistency:
    result = check_consistency(sandbox, runtime.store)
    with gevent.Timeout(timeout, False):
        while not done(result):
            gevent.sleep(0.25)
            result = check_consistency(sandbox, runtime.store)
    return result


@pytest.mark.slow
@pytest.mark.parametrize("erp", ERP_KINDS)
def test_every_valid_order_reaches_the_erp_exactly_once_with_its_lines(tmp_path: Path, erp: str) -> None:
    sandbox, runtime = build_demo(tmp_path, profile=PROFILE, seed=11, time_scale=20.0,
                                  listen=f"127.0.0.1:{free_port()}", erp=erp)
    try:
        placed = sandbox.place_orders(40, malformed_ratio=0.05, messy_ratio=0.2, paced=True)
        valid = [p for p in placed if p.valid]
        first = _settle(sandbox, runtime, lambda r: not r.scorecard.erp_missing)
        edited, cancelled = valid[0], valid[1]
        line = edited.payload["line_items"][0]
        sandbox.edit_order(edited.id, {line["sku"]: int(line["quantity"]) + 1})
        sandbox.cancel_order(cancelled.id)

        result = _settle(sandbox, runtime, lambda r: r.consistent)
    finally:
        runtime.stop()
        sandbox.stop()

    booked = sandbox.erp.booked()
    assert not first.scorecard.erp_missing
    assert result.consistent, result.as_dict()
    assert sandbox.erp.duplicate_creates() == 0
    assert {p.id for p in valid if p.id != cancelled.id} <= {int(key) for key in booked}
    assert str(cancelled.id) not in booked or booked[str(cancelled.id)].cancelled
    assert (line["sku"], int(line["quantity"]) + 1) in booked[str(edited.id)].lines
    assert result.quarantined_found == result.quarantined_expected
