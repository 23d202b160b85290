"""The order flow end to end, on the sandbox's black-friday profile, time-compressed.

Every valid order must reach the ERP exactly once with its lines, the WMS,
and (once shipped) Shopify's fulfillment with its tracking number; every
malformed one must be quarantined with a reason; dropped webhooks must be
repaired by the reconciler. The second test SIGKILLs the engine twice.
"""

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import gevent
import pytest

from peppasync.bench import heal_figures
from peppasync.consistency import check_consistency
from peppasync.demo import build_demo
from peppasync.sandbox import MESSY_KINDS, PROFILES, Sandbox
from peppasync.store import open_store

from tests.peppasync.serving import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
SCALE = 40.0


def _wait_consistent(sandbox, store, timeout):
    result = None
    with gevent.Timeout(timeout, False):
        while True:
            result = check_consistency(sandbox, store)
            if result.consistent:
                return result
            gevent.sleep(0.5)
    return result


def test_black_friday_orders_reach_every_system_once_and_poison_is_quarantined(tmp_path):
    port = free_port()
    sandbox, runtime = build_demo(
        tmp_path, profile="black-friday", seed=11, time_scale=SCALE, listen=f"127.0.0.1:{port}",
        engine={"reconcile_interval": 1.0},
    )
    try:
        placed = sandbox.place_orders(160, malformed_ratio=0.05, messy_ratio=0.1)

        result = _wait_consistent(sandbox, runtime.store, timeout=50)

        assert result is not None and result.consistent, result.as_dict() if result else None
        card = result.scorecard
        assert card.erp_duplicate_creates == 0
        malformed = [p for p in placed if not p.valid]
        assert malformed and result.quarantined_found == len(malformed)
        reasons = {e.reason for e in runtime.store.quarantine_list(kind="order", limit=1000)}
        assert reasons == {"validation"}
        dropped = sum(1 for p in sandbox.webhooks.plans if p.dropped and p.topic == "orders/create")
        repairs = runtime.metrics.registry.get_sample_value(
            "peppasync_reconcile_repairs_total", {"kind": "missed_order"}
        )
        erp_calls = sum(sandbox.netsuite.ledger.outcomes().values())
        assert card.erp_max_in_flight <= sandbox.profile.erp_concurrency_limit
        assert card.throttled["netsuite"] < 0.02 * erp_calls
        assert dropped >= 1, "this seed is chosen so that Shopify drops at least one orders/create"
        assert repairs is not None and repairs >= dropped
    finally:
        runtime.stop()
        sandbox.stop()


def test_messy_but_valid_orders_are_synced_and_none_crashes_an_actor(tmp_path):
    port = free_port()
    sandbox, runtime = build_demo(
        tmp_path, profile="calm", seed=5, time_scale=SCALE, listen=f"127.0.0.1:{port}",
    )
    try:
        placed = sandbox.place_orders(len(MESSY_KINDS) * 5, malformed_ratio=0.0, messy_ratio=1.0)

        result = _wait_consistent(sandbox, runtime.store, timeout=40)

        assert {k for p in placed for k in p.messy} == set(MESSY_KINDS)
        assert result is not None and result.consistent, result.as_dict() if result else None
        restarts = runtime.metrics.registry.get_sample_value("peppasync_actor_restarts_total", {"actor": "order"})
        assert not restarts
    finally:
        runtime.stop()
        sandbox.stop()


def _allocated(sandbox, skus):
    with sandbox.wms.warehouse.lock:
        return {sku: sandbox.wms.warehouse.stock[sku]["allocated"] for sku in skus}


def test_a_cancelled_order_is_cancelled_in_the_erp_and_the_warehouse_which_frees_its_stock(tmp_path):
    # The warehouse holds orders for a simulated hour, so the cancellation finds them unshipped.
    profile = replace(PROFILES["calm"], shipment_delay=3600.0)
    sandbox, runtime = build_demo(tmp_path, profile=profile, seed=3, time_scale=SCALE,
                                  listen=f"127.0.0.1:{free_port()}")
    try:
        placed = sandbox.place_orders(5, malformed_ratio=0.0)
        assert sandbox.wait_until(lambda sb: not sb.scorecard().wms_missing, timeout=30)
        at_wms = placed[0]
        lines = {}
        for line in at_wms.payload["line_items"]:
            if line["requires_shipping"]:
                lines[line["sku"]] = lines.get(line["sku"], 0) + line["quantity"]
        before = _allocated(sandbox, lines)

        sandbox.cancel_order(at_wms.id)
        at_once = sandbox.place_orders(1, malformed_ratio=0.0)[0]
        sandbox.cancel_order(at_once.id)  # most likely before the engine reached the ERP
        result = _wait_consistent(sandbox, runtime.store, timeout=40)

        assert result is not None and result.consistent, result.as_dict() if result else None
        with sandbox.wms.warehouse.lock:
            wms = {key: o["orderStatus"] for key, o in sandbox.wms.warehouse.orders.items()}
        assert wms[str(at_wms.id)] == "cancelled"
        assert wms.get(str(at_once.id)) in (None, "cancelled")
        assert {wms[str(p.id)] for p in placed[1:]} == {"awaiting_shipment"}
        # The warehouse no longer holds the cancelled order's units for it.
        assert _allocated(sandbox, lines) == {sku: before[sku] - n for sku, n in lines.items()}
        sales = sandbox.netsuite.erp.sales_orders()
        assert (sales[str(at_wms.id)].get("orderStatus") or {}).get("id") == "C"
    finally:
        runtime.stop()
        sandbox.stop()


def _live_lines(sandbox, order_id):
    with sandbox.shopify.shop.lock:
        lines = sandbox.shopify.shop.orders[order_id]["line_items"]
        return {line["sku"]: line["current_quantity"] for line in lines if line["current_quantity"]}


def _erp_lines(sandbox, order_id):
    record = sandbox.netsuite.erp.sales_orders().get(str(order_id)) or {}
    return {line["item"].get("externalId"): line["quantity"] for line in (record.get("item") or {}).get("items", [])}


def _wms_lines(sandbox, order_id):
    with sandbox.wms.warehouse.lock:
        order = sandbox.wms.warehouse.orders.get(str(order_id)) or {}
        return {item["sku"]: item["quantity"] for item in order.get("items") or []}


def test_edited_orders_reach_the_erp_and_the_warehouse_with_their_current_lines(tmp_path):
    # The warehouse holds orders for a simulated hour, so the edits find them unshipped.
    profile = replace(PROFILES["calm"], shipment_delay=3600.0)
    sandbox, runtime = build_demo(tmp_path, profile=profile, seed=8, time_scale=SCALE,
                                  listen=f"127.0.0.1:{free_port()}")
    try:
        placed = sandbox.place_orders(3, malformed_ratio=0.0, lines_mean=3.0)
        assert sandbox.wait_until(lambda sb: not sb.scorecard().wms_missing, timeout=30)
        raised, added, removed = placed
        first = raised.payload["line_items"][0]["sku"]
        spare = next(i.sku for i in sandbox.catalog.physical if i.sku not in _live_lines(sandbox, added.id))
        kept = removed.payload["line_items"][0]["sku"]
        gone = {line["sku"]: 0 for line in removed.payload["line_items"] if line["sku"] != kept}
        if not gone:  # a one-line order: give it a second line first, then remove the first
            gone = {kept: 0}
            kept = spare

        sandbox.edit_order(raised.id, {first: _live_lines(sandbox, raised.id)[first] + 2})
        sandbox.edit_order(added.id, {spare: 4})
        sandbox.edit_order(removed.id, {kept: 1, **gone})
        expected = {o.id: _live_lines(sandbox, o.id) for o in placed}
        done = sandbox.wait_until(
            lambda sb: all(_erp_lines(sb, oid) == lines and _wms_lines(sb, oid) == lines
                           for oid, lines in expected.items()), timeout=40)

        assert done, {oid: (lines, _erp_lines(sandbox, oid), _wms_lines(sandbox, oid))
                      for oid, lines in expected.items()}
        assert not runtime.store.quarantine_list(limit=10)
    finally:
        runtime.stop()
        sandbox.stop()


def _serve(config: Path) -> subprocess.Popen[bytes]:
    log = open(config.parent / "engine.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "peppasync", "serve", "--config", str(config)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=log,
    )
    log.close()
    return proc


def _toml(sections: dict) -> str:
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        for key, value in values.items():
            if isinstance(value, dict):  # an inline table, as [netsuite] currencies
                lines.append(f"{key} = {{{', '.join(f'{k} = {v!r}' for k, v in value.items())}}}")
            else:
                lines.append(f"{key} = {value!r}".replace("'", '"'))
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_the_same_final_state_when_the_engine_is_sigkilled_twice_mid_run(tmp_path):
    port = free_port()
    sandbox = Sandbox(
        "black-friday", seed=23, time_scale=SCALE,
        webhook_url=f"http://127.0.0.1:{port}/webhooks/shopify",
        wms_webhook_url=f"http://127.0.0.1:{port}/webhooks/wms",
    )
    sandbox.start()
    sections = sandbox.config_sections()
    sections["server"] = {"listen": f"127.0.0.1:{port}", "shutdown_timeout": 3.0}
    sections["store"] = {"url": f"sqlite:///{tmp_path}/engine.db"}
    sections["engine"] = {"reconcile_interval": 1.0, "retry_min_seconds": 0.05, "retry_max_seconds": 1.0}
    config = tmp_path / "peppasync.toml"
    config.write_text(_toml(sections))
    proc = _serve(config)
    try:
        wait_healthy(port, proc)
        placer = gevent.spawn(sandbox.place_orders, 200, malformed_ratio=0.03, paced=True)
        for kill in range(2):
            # Let some orders through, then kill the engine without warning.
            target = 40 * (kill + 1)
            with gevent.Timeout(40):
                while len(sandbox.netsuite.erp.sales_orders()) < target:
                    gevent.sleep(0.1)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            proc = _serve(config)
            wait_healthy(port, proc)
        placer.join(timeout=60)
        store = open_store(f"sqlite:///{tmp_path}/engine.db")
        try:
            result = _wait_consistent(sandbox, store, timeout=60)
            why = [(e.key, e.reason, e.traceback.strip().splitlines()[-1]) for e in store.quarantine_list(limit=1000)]
        finally:
            store.close()

        assert result is not None and result.consistent, (result.as_dict() if result else None, why)
        assert result.scorecard.erp_duplicate_creates == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        sandbox.stop()


def test_orders_whose_create_webhook_was_lost_in_a_burst_are_repaired_within_two_intervals_of_the_drain(tmp_path):
    # ShipStation's 40 requests a minute and Shopify's bucket, ten times faster; a sweep every
    # 20 simulated seconds, so that one WMS window holds three of them. A burst spends the window
    # at once: repairs that waited for a WMS read would be a window late.
    scale, interval = 10.0, 2.0
    profile = replace(PROFILES["calm"], name="burst", webhook_drop_rate=0.1)
    sandbox, runtime = build_demo(tmp_path, profile=profile, seed=3, time_scale=scale,
                                  listen=f"127.0.0.1:{free_port()}", engine={"reconcile_interval": interval})
    try:
        began = sandbox.clock.time()
        placed = sandbox.place_orders(80, malformed_ratio=0.0)
        lost = [p.id for p in placed if sandbox.webhooks.plan("orders/create", str(p.id)).dropped]

        with gevent.Timeout(90, False):
            while heal_figures(sandbox, interval, since=began).unhealed:
                gevent.sleep(0.25)
        heal = heal_figures(sandbox, interval, since=began)

        assert len(lost) >= 3, "this seed is chosen so that Shopify drops a few orders/create"
        assert (heal.lost, heal.unhealed) == (len(lost), 0)
        assert max(heal.to_erp) <= heal.erp_target, heal.as_dict()
        assert max(heal.to_consistent) <= heal.target, heal.as_dict()
    finally:
        runtime.stop()
        sandbox.stop()
