"""What an order does with a webhook comes from its signed body, not from Shopify's unsigned headers.

The HMAC covers the body only: whoever holds one signed body can send it again
with another ``X-Shopify-Topic`` or ``X-Shopify-Event-Id``. These tests do that
against the engine wired to the sandbox and look at the ERP and the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gevent
import pytest
import requests

from peppasync.demo import build_demo
from peppasync.http import shopify_hmac
from peppasync.runtime import Runtime
from peppasync.sandbox import PROFILES, PlacedOrder, Sandbox

from tests.peppasync.serving import free_port


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[Sandbox, Runtime, str]]:
    # The warehouse holds orders for a simulated hour: a cancellation would find them unshipped.
    profile = replace(PROFILES["calm"], shipment_delay=3600.0, webhook_duplicate_rate=0.0)
    port = free_port()
    sandbox, runtime = build_demo(tmp_path, profile=profile, seed=3, time_scale=40.0, listen=f"127.0.0.1:{port}")
    try:
        yield sandbox, runtime, f"http://127.0.0.1:{port}"
    finally:
        runtime.stop()
        sandbox.stop()


def _until(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    with gevent.Timeout(timeout, False):
        while not (found := condition()):
            gevent.sleep(0.05)
        return found
    raise AssertionError(f"not within {timeout} s")


def _resend(sandbox: Sandbox, base: str, body: dict[str, Any], *, topic: str, event_id: str) -> requests.Response:
    raw = json.dumps(body).encode()
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Event-Id": event_id,
               "X-Shopify-Hmac-Sha256": shopify_hmac(sandbox.webhook_secret, raw), "Content-Type": "application/json"}
    return requests.post(f"{base}/webhooks/shopify", data=raw, headers=headers, timeout=10)


def _at_the_warehouse(sandbox: Sandbox, runtime: Runtime) -> PlacedOrder:
    [order] = sandbox.place_orders(1, malformed_ratio=0.0)
    _until(lambda: (runtime.store.get_state("order", str(order.id)) or ({},))[0].get("status") == "sent_to_wms")
    return order


def test_a_signed_orders_create_body_sent_again_as_orders_cancelled_cancels_nothing(
    engine: tuple[Sandbox, Runtime, str],
) -> None:
    sandbox, runtime, base = engine
    order = _at_the_warehouse(sandbox, runtime)

    answer = _resend(sandbox, base, order.payload, topic="orders/cancelled", event_id="replayed-1")
    [entry] = _until(lambda: runtime.store.quarantine_list(kind="order"))

    assert answer.status_code == 200
    assert entry.key == str(order.id) and entry.reason == "validation"
    assert "no cancelled_at" in entry.traceback
    with sandbox.wms.warehouse.lock:
        assert sandbox.wms.warehouse.orders[str(order.id)]["orderStatus"] == "awaiting_shipment"
    assert (sandbox.netsuite.erp.sales_orders()[str(order.id)].get("orderStatus") or {}).get("id") != "C"
    assert runtime.store.get_state("order", str(order.id))[0]["status"] == "sent_to_wms"  # type: ignore[index]


def test_an_event_id_reused_with_another_body_for_the_same_order_reaches_the_erp(
    engine: tuple[Sandbox, Runtime, str],
) -> None:
    sandbox, runtime, base = engine
    order = _at_the_warehouse(sandbox, runtime)
    event_id = str(sandbox.webhooks.event_id("orders/create", str(order.id)))
    renamed = {**order.payload, "name": f"{order.payload['name']}-B", "updated_at": "2099-01-01T00:00:00Z"}

    answer = _resend(sandbox, base, renamed, topic="orders/updated", event_id=event_id)

    assert answer.json()["status"] == "accepted"
    _until(lambda: sandbox.netsuite.erp.sales_orders()[str(order.id)].get("otherRefNum") == renamed["name"])
