"""The order actor and the WMS: every body it sends keeps ShipStation's contract, and a refusal is read right.

The bodies are checked against ``peppasync/contracts/shipstation.json``; the
scenarios run the real actor, store and connectors against the sandbox WMS,
which refuses what ShipStation refuses.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from peppasync.backoff import Backoff
from peppasync.clock import ManualClock
from peppasync.config import parse_config
from peppasync.contracts import check
from peppasync.errors import ValidationError
from peppasync.sandbox import PROFILES, Sandbox
from peppasync.sandbox.catalog import GIFT_CARD_SKU, Catalog
from peppasync.sandbox.generator import OrderGenerator
from peppasync.store import Store, ops

from actors.adapters import NetsuiteErp, ShipstationWms, ShopifyStorefront
from actors.adapters.shipstation import createorder_record
from actors.connectors import NetsuiteConnector, RetryPolicy, ShopifyConnector, WmsConnector
from actors.domain import Order
from actors.order import OrderActor
from actors.system import ActorSystem
from actors.validation import normalise_order

from .conftest import CountingHooks

QUIET = replace(PROFILES["calm"], name="quiet", erp_latency_median=0.001, erp_latency_sigma=0.0, shipment_delay=60.0)
FAST_RETRY = RetryPolicy(max_attempts=12, deadline=30.0, backoff=Backoff(base=0.005, cap=0.05))


def wms_order(record: dict[str, Any], status: str = "awaiting_shipment") -> dict[str, Any]:
    """The createorder body the WMS adapter sends for an order record."""
    return createorder_record(Order.from_record(record), status)


def _shopify_order(*messy: str, seed: int = 3) -> dict[str, Any]:
    """A Shopify order as the sandbox's shop places it (with ``messy`` quirks)."""
    generator = OrderGenerator(Catalog(seed), seed)
    placed = generator.next(0.0, malformed_ratio=0.0, messy_ratio=1.0 if messy else 0.0, lines_mean=2.0,
                            messy_kinds=messy)
    return copy.deepcopy(placed.payload)


def _with_gift_card(body: dict[str, Any]) -> dict[str, Any]:
    """The order plus a gift card line: money the warehouse has nothing to pick for."""
    body = copy.deepcopy(body)
    body["line_items"].append({"id": 9, "sku": GIFT_CARD_SKU, "title": "Gift card", "name": "Gift card",
                               "quantity": 1, "price": "25.00", "gift_card": True, "requires_shipping": False})
    for field in ("subtotal_price", "total_price", "total_line_items_price", "current_subtotal_price",
                  "current_total_price"):
        body[field] = str(Decimal(body[field]) + Decimal("25.00"))
    return body


def _without_billing(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "billing_address": None}


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "normal": lambda: wms_order(normalise_order(_shopify_order())),
    "gift card line left out": lambda: wms_order(normalise_order(_with_gift_card(_shopify_order()))),
    "unicode address": lambda: wms_order(normalise_order(_shopify_order("unicode_address"))),
    "no billing address": lambda: wms_order(normalise_order(_without_billing(_shopify_order()))),
    "cancellation": lambda: wms_order(normalise_order(_shopify_order()), "cancelled"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_body_wms_order_builds_keeps_shipstations_create_order_contract(case: str) -> None:
    body = CASES[case]()

    assert check("shipstation", "CreateOrderRequest", body) == []
    assert body["billTo"]["name"] and body["shipTo"]["name"]


def test_a_gift_card_is_billed_but_not_sent_to_be_picked() -> None:
    body = CASES["gift card line left out"]()

    assert GIFT_CARD_SKU not in [item["sku"] for item in body["items"]]
    assert body["items"]


def test_a_cancellation_sends_the_whole_order_again() -> None:
    order = normalise_order(_shopify_order())

    cancelled = wms_order(order, "cancelled")

    assert cancelled == {**wms_order(order), "orderStatus": "cancelled"}


def test_bill_to_is_the_billing_address_then_the_shipping_address_then_the_customers_name() -> None:
    body = _shopify_order()
    body["billing_address"] = {**body["billing_address"], "name": "Accounts Payable", "address1": "9 Bank St",
                               "country_code": "GB"}
    body["customer"]["first_name"], body["customer"]["last_name"] = "Grace", "Hopper"
    no_address = {**body, "billing_address": None, "shipping_address": None}
    no_address["line_items"] = [{**line, "requires_shipping": False} for line in body["line_items"]]
    no_address["shipping_lines"] = []
    for field in ("total_price", "current_total_price"):
        no_address[field] = str(Decimal(body[field]) - Decimal("5.00"))

    billed = wms_order(normalise_order(body))["billTo"]
    shipped = wms_order(normalise_order(_without_billing(body)))
    customer = wms_order(normalise_order(no_address))["billTo"]

    assert (billed["name"], billed["street1"], billed["country"]) == ("Accounts Payable", "9 Bank St", "GB")
    assert shipped["billTo"] == shipped["shipTo"]
    assert customer == {"name": "Grace Hopper"}


def test_a_shipping_address_without_a_two_letter_country_code_is_refused_before_the_wms_is_called() -> None:
    body = _shopify_order()
    body["shipping_address"] = {**body["shipping_address"], "country_code": None, "country": "United States"}

    with pytest.raises(ValidationError, match="no two-letter country code"):
        wms_order(normalise_order(body))


# -- the actor against the sandbox WMS ----------------------------------------------------------

class World:
    """A sandbox on a manual clock, and order actors on a real store that talk to it."""

    def __init__(self, store: Store, make_system: Callable[..., ActorSystem]) -> None:
        self.clock = ManualClock()
        self.sandbox = Sandbox(QUIET, seed=5, clock=self.clock)
        self.sandbox.start()
        config = parse_config(self.sandbox.config_sections())
        self.services = {"erp": NetsuiteErp(NetsuiteConnector(config.netsuite, retry=FAST_RETRY)),
                         "warehouse": ShipstationWms(WmsConnector(config.wms, retry=FAST_RETRY)),
                         "storefront": ShopifyStorefront(ShopifyConnector(config.shopify, retry=FAST_RETRY))}
        self.store = store
        self._make_system = make_system
        self.hooks = CountingHooks()
        self.system: ActorSystem | None = None

    def tell(self, key: str, payload: dict[str, Any], messages: int) -> None:
        """Send one message and wait for it and the ``messages - 1`` it leads to."""
        if self.system is None:
            self.hooks = CountingHooks()
            self.system = self._make_system(OrderActor, hooks=self.hooks, services=self.services)
            self.system.start()
        self.system.tell("order", key, payload)
        self.hooks.wait_finished(sum(self.hooks.outcomes.get(o, 0) for o in ("ok", "quarantined")) + messages)

    def stop(self) -> None:
        """Stop the actors; what they did is then all in the store."""
        if self.system is not None:
            self.system.stop(timeout=5)
            self.system = None

    def ship_everything_due(self) -> None:
        self.clock.advance(QUIET.shipment_delay)
        self.sandbox.wms.tick()

    def state(self, key: str) -> dict[str, Any]:
        self.stop()
        found = self.store.get_state("order", key)
        assert found is not None
        return found[0]

    def wms_orders(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = self.sandbox.ledger()["wms"]["state"]
        return snapshot


@pytest.fixture
def world(store: Store, make_system: Callable[..., ActorSystem]) -> Iterator[World]:
    w = World(store, make_system)
    yield w
    w.sandbox.stop()


def _placed(world: World) -> tuple[str, dict[str, Any]]:
    [order] = world.sandbox.place_orders(1, malformed_ratio=0.0)
    world.tell(str(order.id), {"type": "webhook", "topic": "orders/create", "event_id": "create",
                               "body": order.payload}, messages=3)
    return str(order.id), order.payload


def test_an_order_reaches_the_wms_with_its_billing_address(world: World) -> None:
    key, payload = _placed(world)

    held = world.sandbox.wms.warehouse.orders[key]

    assert world.state(key)["status"] == "sent_to_wms"
    assert world.state(key)["wms_order_id"] == held["orderId"]
    assert held["billTo"]["street1"] == payload["billing_address"]["address1"]


def test_an_order_the_wms_shipped_then_shopify_cancelled_is_flagged_for_a_return(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    key, payload = _placed(world)
    world.ship_everything_due()
    caplog.set_level(logging.WARNING, logger="peppasync.order")

    world.tell(key, {"type": "webhook", "topic": "orders/cancelled", "event_id": "cancel",
                     "body": {**payload, "cancelled_at": payload["updated_at"]}}, messages=1)

    state = world.state(key)
    assert (state["status"], state.get("shipped_before_cancel")) == ("cancelled", True)
    assert [r.getMessage() for r in caplog.records] == [
        "order cancelled after the warehouse shipped it; it needs a return"]
    wms = world.wms_orders()
    assert wms["orders"][key]["status"] == "shipped" and len(wms["shipments"]) == 1
    assert world.sandbox.netsuite.erp.snapshot()["sales_orders"][key]["status"] == "C"
    assert world.hooks.outcomes.get("quarantined", 0) == 0


@pytest.mark.parametrize("shipped_meanwhile", [False, True], ids=["still open", "shipped meanwhile"])
def test_a_send_repeated_after_a_crash_changes_nothing_at_the_wms(world: World, shipped_meanwhile: bool) -> None:
    key, _ = _placed(world)
    if shipped_meanwhile:
        world.ship_everything_due()
    before = world.wms_orders()
    # The crash: the WMS had the order, but the step's outcome (and the order's id there) was never saved.
    state = world.state(key)
    state.update(status="erp_synced")
    del state["wms_order_id"]
    world.store.write([ops.PutState("order", key, state)])

    world.tell(key, {"type": "advance"}, messages=1)

    assert world.wms_orders() == before
    after = world.state(key)
    assert after["status"] == "sent_to_wms"
    assert after["wms_order_id"] == before["orders"][key]["orderId"]
    assert world.hooks.outcomes.get("quarantined", 0) == 0


def test_an_order_cancelled_after_a_crash_hid_its_send_to_the_wms_is_cancelled_there_too(world: World) -> None:
    key, payload = _placed(world)
    # The crash: the WMS took the order, but the step's outcome was never saved.
    state = world.state(key)
    state.update(status="erp_synced")
    del state["wms_order_id"]
    world.store.write([ops.PutState("order", key, state)])

    world.tell(key, {"type": "webhook", "topic": "orders/cancelled", "event_id": "cancel",
                     "body": {**payload, "cancelled_at": payload["updated_at"]}}, messages=1)

    assert world.state(key)["status"] == "cancelled"
    assert world.wms_orders()["orders"][key]["status"] == "cancelled"
    assert world.hooks.outcomes.get("quarantined", 0) == 0
