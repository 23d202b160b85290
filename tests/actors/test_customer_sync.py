"""Customers reach the ERP once per version: unchanged ones are not sent again, changed ones are."""

from __future__ import annotations

import copy
from typing import Any

from actors.adapters.netsuite import sales_order_record
from actors.connectors import Priority
from actors.customer_sync import already_synced, customer_version, synced_record
from actors.domain import Customer, Order, StorefrontHold, WmsOrder
from actors.order import OrderActor
from actors.validation import normalise_order

from .conftest import CountingHooks
from .test_validation import GOOD


class RecordingErp:
    """An ERP port that keeps every upsert and the lane it asked for."""

    name = "erp"
    books_non_sku_lines = False

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, int]] = []

    def upsert_customer(self, customer: Customer, *, priority: int = Priority.NORMAL) -> None:
        self.calls.append(("customer", customer.id, customer, priority))

    def upsert_sales_order(self, order: Order, *, priority: int = Priority.NORMAL,
                           pending_approval: bool | None = None) -> None:
        self.calls.append(("salesOrder", order.id, order, priority))

    def cancel_sales_order(self, order: Order) -> None:
        self.calls.append(("cancel", order.id, order, Priority.NORMAL))

    def record_payments(self, order: Order, *, priority: int = Priority.NORMAL) -> None:
        pass  # payments are not what these tests are about


class RecordingWms:
    name = "wms"

    def place_order(self, order: Order, *, held_id: int | None = None, priority: int = Priority.NORMAL,
                    hold: str = "") -> WmsOrder:
        return WmsOrder(1, "open")

    def cancel_order(self, order: Order, *, held_id: int | None = None, priority: int = Priority.NORMAL) -> WmsOrder:
        return WmsOrder(1, "cancelled")


class UnheldStorefront:
    name = "shopify"

    def holds(self, order_id: str) -> tuple[StorefrontHold, ...]:
        return ()


def _order(order_id: int, updated_at: str, **customer: Any) -> dict[str, Any]:
    body = copy.deepcopy(GOOD)
    body.update(id=order_id, name=f"#{order_id}", created_at=updated_at, updated_at=updated_at)
    body["customer"].update(customer)
    body["email"] = body["customer"]["email"]
    return body


def _webhook(body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "webhook", "topic": "orders/create", "event_id": f"e{body['id']}", "body": body}


def _run(make_system: Any, hooks: CountingHooks, orders: list[dict[str, Any]]) -> RecordingErp:
    erp = RecordingErp()
    system = make_system(services={"erp": erp, "warehouse": RecordingWms(), "storefront": UnheldStorefront()}, hooks=hooks)
    system.register(OrderActor)
    system.start()
    for n, body in enumerate(orders):
        system.tell("order", str(body["id"]), _webhook(body))
        # webhook, advance to the ERP, advance to the WMS: three messages per order.
        hooks.wait_finished(3 * (n + 1))
    return erp


def test_an_unchanged_customer_is_sent_once_and_a_changed_one_again(make_system: Any) -> None:
    hooks = CountingHooks()
    orders = [_order(6001, "2026-11-27T10:00:00Z"),
              _order(6002, "2026-11-27T10:05:00Z"),
              _order(6003, "2026-11-27T10:09:00Z", last_name="Souza")]

    erp = _run(make_system, hooks, orders)

    customers = [(key, customer.last_name) for kind, key, customer, _ in erp.calls if kind == "customer"]
    assert customers == [("77", ""), ("77", "Souza")]
    assert [key for kind, key, _, _ in erp.calls if kind == "salesOrder"] == ["6001", "6002", "6003"]
    assert hooks.outcomes.get("quarantined", 0) == 0


def test_a_sales_order_after_its_customer_goes_in_the_high_lane_and_a_first_call_in_the_normal_one(
        make_system: Any) -> None:
    hooks = CountingHooks()

    erp = _run(make_system, hooks, [_order(6101, "2026-11-27T10:00:00Z"), _order(6102, "2026-11-27T10:01:00Z")])

    assert [(kind, key, priority) for kind, key, _, priority in erp.calls] == [
        ("customer", "77", Priority.NORMAL),
        ("salesOrder", "6101", Priority.HIGH),  # its ERP work had begun
        ("salesOrder", "6102", Priority.NORMAL),  # the customer was in the ERP already: its first call
    ]


def test_a_version_from_a_newer_order_is_not_overwritten_by_an_older_order_synced_late() -> None:
    newer = Customer("77", email="ana@example.com", last_name="Souza")
    older = Customer("77", email="ana@example.com", last_name="Silva")
    record = synced_record(customer_version(newer), "2026-11-27T10:09:00Z")

    assert already_synced(record, customer_version(older), "2026-11-27T10:00:00+00:00")
    assert not already_synced(record, customer_version(older), "2026-11-27T10:10:00Z")
    assert already_synced(record, customer_version(newer), "2026-11-27T09:00:00Z")


def test_a_record_without_a_fingerprint_or_times_that_cannot_be_read_means_send_again() -> None:
    version = customer_version(Customer("77", email="ana@example.com"))

    assert not already_synced(None, version, "2026-11-27T10:00:00Z")
    assert not already_synced({"synced": True}, version, "2026-11-27T10:00:00Z")
    assert not already_synced({"version": "x", "as_of": "yesterday"}, version, "2026-11-27T10:00:00Z")


def test_an_order_without_a_customer_sends_no_customer_and_books_on_the_guest() -> None:
    body = copy.deepcopy(GOOD)
    del body["customer"]

    order = Order.from_record(normalise_order(body))

    assert order.customer is None
    assert "entity" not in sales_order_record(order)  # NetSuite's account fills in the guest customer
