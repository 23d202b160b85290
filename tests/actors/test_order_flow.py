"""The order's transitions, run with nothing but in-memory ports: no store, no network, no sleep."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import gevent
import pytest

from peppasync.errors import RejectedError, ValidationError

from actors.connectors import ConcurrencyLimiter, Priority
from actors.domain import Customer, Order, Refund, Shipment, StorefrontHold, WmsOrder, WmsStatus
from actors.order_flow import (
    Advance,
    Moved,
    OrderFlow,
    OrderState,
    Send,
    ShipmentArrived,
    Timed,
    Webhook,
    parse_message,
)
from actors.storefront_holds import HoldPolicy

from .test_validation import GOOD


class Erp:
    name = "erp"
    books_non_sku_lines = False

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.approvals: list[bool | None] = []

    def upsert_customer(self, customer: Customer, *, priority: int) -> None:
        self.calls.append(("customer", customer.id, priority))

    def upsert_sales_order(self, order: Order, *, priority: int, pending_approval: bool | None = None) -> None:
        self.calls.append(("sales order", order.id, priority))
        self.approvals.append(pending_approval)

    def cancel_sales_order(self, order: Order) -> None:
        self.calls.append(("cancel", order.id, Priority.NORMAL))

    def record_payments(self, order: Order, *, priority: int) -> None:
        self.calls.append(("payments", order.id, priority))

    def upsert_refund(self, order: Order, refund: Refund, *, priority: int) -> None:
        self.calls.append(("refund", refund.id, priority))

    def open_return(self, order: Order, *, priority: int) -> None:
        self.calls.append(("return", order.id, priority))


class Wms:
    name = "wms"

    def __init__(self, answer: WmsStatus = "open") -> None:
        self.answer: WmsStatus = answer
        self.calls: list[tuple[str, str, int | None]] = []
        self.holds: list[str] = []

    def place_order(self, order: Order, *, held_id: int | None, priority: int, hold: str = "") -> WmsOrder:
        self.calls.append(("place", order.id, held_id))
        self.holds.append(hold)
        return WmsOrder(41, self.answer, self.answer)

    def cancel_order(self, order: Order, *, held_id: int | None, priority: int) -> WmsOrder:
        self.calls.append(("cancel", order.id, held_id))
        return WmsOrder(41, "cancelled" if self.answer == "open" else self.answer, self.answer)


class Storefront:
    name = "shopify"

    def __init__(self) -> None:
        self.fulfilled: list[tuple[str, Shipment]] = []
        self.held: tuple[StorefrontHold, ...] = ()
        self.looks = 0
        self.ours: dict[str, tuple[StorefrontHold, str]] = {}
        self.tags: frozenset[str] = frozenset()
        self.tag_reads = 0

    def holds(self, order_id: str) -> tuple[StorefrontHold, ...]:
        self.looks += 1
        return self.held

    def product_tags(self, order_id: str) -> frozenset[str]:
        self.tag_reads += 1
        return self.tags

    def hold(self, order_id: str, handle: str, notes: str) -> tuple[StorefrontHold, ...]:
        ours = StorefrontHold(f"h-{handle}", "OTHER", handle, True, "fo-1")
        self.ours[handle] = (ours, notes)
        return (ours,)

    def release(self, order_id: str, holds: tuple[StorefrontHold, ...]) -> None:
        for hold in holds:
            self.ours.pop(hold.handle, None)

    def fulfill(self, order_id: str, shipment: Shipment) -> tuple[StorefrontHold, ...]:
        if self.held:
            return self.held
        self.fulfilled.append((order_id, shipment))
        return ()


class Customers(dict[str, Mapping[str, Any]]):
    def put(self, customer_id: str, record: Mapping[str, Any]) -> None:
        self[customer_id] = record


class Ports:
    def __init__(self, wms: Wms | None = None) -> None:
        self.erp = Erp()
        self.wms = wms or Wms()
        self.storefront = Storefront()
        self.customers = Customers()
        self.books_non_sku_lines = False
        self.known_sku: Callable[[str], bool] | None = None
        self.tracks_stock = True
        self.holds = HoldPolicy(frozenset({"UNKNOWN_DELIVERY_DATE"}), recheck_seconds=30.0)


class Order_:
    """One order's life: each message runs a fresh flow on the state the last one left."""

    def __init__(self, ports: Ports | None = None) -> None:
        self.ports = ports or Ports()
        self.state = OrderState()
        self.now = 100.0
        self.sends: list[Send] = []
        self.notices: list[Moved | Timed] = []

    def handle(self, message: Any) -> None:
        flow = OrderFlow("5001", OrderState.from_json(self.state.to_json()), self.ports, lambda: self.now)
        flow.handle(message)
        self.state = flow.state
        self.sends, self.notices = flow.sends, flow.notices
        self.now += 1.0


def body(**changes: Any) -> dict[str, Any]:
    placed = copy.deepcopy(GOOD)
    placed.update(changes)
    return placed


ADVANCE = Send("order", "5001", {"type": "advance"})


def test_a_new_order_is_received_holds_its_stock_and_asks_for_its_first_step() -> None:
    order = Order_()

    order.handle(Webhook("orders/create", body(), "e1", received_at=90.0))

    assert order.state.status == "received"
    assert order.sends == [
        Send("inventory", "SKU-1", {"type": "commit", "order_id": "5001", "quantity": 2}),
        Send("inventory", "SKU-2", {"type": "commit", "order_id": "5001", "quantity": 1}),
        ADVANCE,
    ]
    assert order.notices == [Moved(None, "received")]
    assert order.ports.erp.calls == []


def test_the_steps_book_the_customer_then_the_order_in_the_erp_then_place_it_at_the_warehouse() -> None:
    order = Order_()
    order.handle(Webhook("orders/create", body(), "e1", received_at=90.0))

    order.handle(Advance())
    order.handle(Advance())

    assert order.ports.erp.calls == [("customer", "77", Priority.NORMAL), ("sales order", "5001", Priority.HIGH)]
    assert order.ports.wms.calls == [("place", "5001", None)]
    assert order.state.status == "sent_to_wms"
    assert order.state.wms_order_id == 41
    assert order.notices == [Moved("erp_synced", "sent_to_wms"), Timed("order_to_wms", 12.0)]
    assert [s.payload["type"] for s in order.sends] == ["allocated", "allocated"]


def test_a_customer_already_in_the_erp_is_not_sent_again_and_the_order_goes_in_the_normal_lane() -> None:
    ports = Ports()
    first, second = Order_(ports), Order_(ports)
    first.handle(Webhook("orders/create", body(), "e1"))
    first.handle(Advance())

    second.handle(Webhook("orders/create", body(id=5002, name="#5002"), "e2"))
    second.handle(Advance())

    assert ports.erp.calls[2:] == [("sales order", "5002", Priority.NORMAL)]


def test_an_event_seen_before_and_an_older_update_change_nothing() -> None:
    order = Order_()
    order.handle(Webhook("orders/create", body(updated_at="2026-11-27T00:05:00Z"), "e1"))
    before = order.state.to_json()

    order.handle(Webhook("orders/create", body(), "e1"))
    order.handle(Webhook("orders/updated", body(updated_at="2026-11-27T00:02:00Z", note="late"), "e2"))

    assert order.state.record == before["order"]
    assert order.sends == []


def test_a_changed_order_already_in_the_erp_is_synced_again_on_its_next_step() -> None:
    order = Order_()
    order.handle(Webhook("orders/create", body(), "e1"))
    order.handle(Advance())
    changed = body(updated_at="2026-11-27T00:09:00Z", email="new@example.com")

    order.handle(Webhook("orders/updated", changed, "e2"))
    assert order.sends == [ADVANCE]
    order.handle(Advance())

    assert order.ports.erp.calls[-1][:2] == ("sales order", "5001")
    assert order.state.resync is False


def test_a_paid_order_books_its_payment_after_its_sales_order_once_however_often_it_is_synced() -> None:
    order = Order_()
    order.handle(Webhook("orders/create", body(financial_status="paid"), "e1"))
    order.handle(Advance())

    order.handle(Webhook("orders/updated", body(financial_status="paid", updated_at="2026-11-27T00:09:00Z"), "e2"))
    order.handle(Advance())

    assert [c[0] for c in order.ports.erp.calls] == ["customer", "sales order", "payments", "sales order"]
    assert order.state.payments_booked == ["5001"]


def test_a_cancellation_without_a_cancelled_at_time_is_refused_and_cancels_nothing() -> None:
    order = Order_()
    order.handle(Webhook("orders/create", body(), "e1"))

    with pytest.raises(ValidationError, match="no cancelled_at"):
        order.handle(Webhook("orders/cancelled", body(), "e2"))

    assert order.state.status == "received"


def test_a_cancellation_at_the_warehouse_cancels_there_first_then_in_the_erp_and_releases_the_stock() -> None:
    order = Order_()
    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance()):
        order.handle(message)

    order.handle(Webhook("orders/cancelled", body(cancelled_at="2026-11-27T01:00:00Z"), "e2"))

    assert order.ports.wms.calls[-1] == ("cancel", "5001", 41)
    assert order.ports.erp.calls[-1] == ("cancel", "5001", Priority.NORMAL)
    assert order.state.status == "cancelled"
    assert {s.key: s.payload["type"] for s in order.sends} == {"SKU-1": "release", "SKU-2": "release"}


def test_a_cancellation_after_the_warehouse_shipped_is_booked_and_flagged_for_a_return() -> None:
    order = Order_(Ports(Wms()))
    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance()):
        order.handle(message)
    order.ports.wms.answer = "shipped"

    order.handle(Webhook("orders/cancelled", body(cancelled_at="2026-11-27T01:00:00Z"), "e2"))

    assert order.state.status == "cancelled"
    assert order.state.shipped_before_cancel is True
    assert order.ports.erp.calls[-2:] == [("cancel", "5001", Priority.NORMAL), ("return", "5001", Priority.HIGH)]
    assert order.state.return_opened is True


def test_a_cancellation_of_an_order_already_shipped_opens_one_return_and_changes_nothing_else() -> None:
    order = Order_()
    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance(),
                    ShipmentArrived(Shipment("1Z1")), Advance()):
        order.handle(message)

    order.handle(Webhook("orders/cancelled", body(cancelled_at="2026-11-27T01:00:00Z"), "e2"))
    order.handle(Webhook("orders/updated", body(cancelled_at="2026-11-27T01:00:00Z"), "e3"))

    assert [c for c in order.ports.erp.calls if c[0] in ("return", "cancel")] == [("return", "5001", Priority.HIGH)]
    assert order.state.status == "fulfilled"


def test_an_order_the_warehouse_shipped_before_its_erp_step_is_booked_in_the_erp_first_then_fulfilled() -> None:
    order = Order_()
    order.handle(Webhook("orders/create", body(), "e1"))

    order.handle(ShipmentArrived(Shipment("1Z-EARLY", carrier="ups")))  # the warehouse had it from elsewhere
    assert order.state.status == "received" and order.ports.erp.calls == []
    order.handle(Advance())
    assert order.ports.erp.calls == [("customer", "77", Priority.NORMAL), ("sales order", "5001", Priority.HIGH)]
    assert order.state.status == "shipped" and ADVANCE in order.sends
    order.handle(Advance())

    assert order.state.status == "fulfilled"
    assert [s.tracking_number for _, s in order.ports.storefront.fulfilled] == ["1Z-EARLY"]
    assert order.ports.wms.calls == []  # shipped already: not placed at the warehouse again


def _refund(refund_id: int = 901, restock: str = "return") -> dict[str, Any]:
    return {"id": refund_id, "order_id": 5001, "created_at": "2026-11-28T00:00:00Z", "note": "too small",
            "refund_line_items": [
                {"line_item_id": 1, "quantity": 1, "restock_type": restock, "subtotal": "10.00", "total_tax": "0.80",
                 "line_item": {"id": 1, "sku": "SKU-1", "title": "Mug"}},
                {"line_item_id": 2, "quantity": 1, "restock_type": "no_restock", "subtotal": "10.00",
                 "total_tax": "0.80", "line_item": {"id": 2, "sku": "SKU-2", "title": "Cap"}}],
            "transactions": [{"kind": "refund", "status": "success", "amount": "21.60"}],
            "order_adjustments": []}


def test_a_refund_is_booked_once_in_the_erp_and_its_restocked_units_go_back_to_their_inventory() -> None:
    order = Order_()
    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance()):
        order.handle(message)

    order.handle(Webhook("refunds/create", _refund(), "r1"))
    sends = order.sends
    order.handle(Webhook("refunds/create", _refund(), "r2"))  # the same refund, delivered again

    assert [c for c in order.ports.erp.calls if c[0] == "refund"] == [("refund", "901", Priority.NORMAL)]
    assert sends == [Send("inventory", "SKU-1", {"type": "restocked", "order_id": "5001", "refund_id": "901",
                                                 "quantity": 1})]
    assert order.sends == []
    assert order.state.refunds == ["901"]


def _handled_again(order: Order_) -> list[Webhook]:
    """The refunds the order sent itself, as the messages it will handle next."""
    again = [s for s in order.sends if s.kind == "order" and s.payload["type"] == "webhook"]
    assert all(s.key == "5001" and s.payload["margin_told"] is True for s in again)
    return [parse_message(s.payload) for s in again]


def test_a_refund_before_the_order_is_in_the_erp_waits_in_its_state_and_is_booked_once_the_order_is() -> None:
    order = Order_()
    order.handle(Webhook("refunds/create", _refund(), "r0", received_at=95.0))  # before even the order
    order.handle(Webhook("orders/create", body(), "e1"))
    order.handle(Webhook("refunds/create", _refund(), "r1"))  # the same refund again
    order.handle(Webhook("refunds/create", _refund(902), "r2"))

    assert [w["body"]["id"] for w in order.state.refunds_waiting] == [901, 902]
    assert order.ports.erp.calls == []
    order.handle(Advance())
    again = _handled_again(order)
    assert [(w.topic, w.body["id"], w.received_at) for w in again] == [("refunds/create", 901, 95.0),
                                                                       ("refunds/create", 902, None)]
    assert order.state.refunds_waiting == []

    for message in again:
        order.handle(message)

    assert [c for c in order.ports.erp.calls if c[0] == "refund"] == [("refund", "901", Priority.NORMAL),
                                                                      ("refund", "902", Priority.NORMAL)]
    assert order.state.refunds == ["901", "902"]


def test_a_refund_that_cannot_be_read_is_refused_at_once_even_before_the_order_is_in_the_erp() -> None:
    order = Order_()
    order.handle(Webhook("orders/create", body(), "e1"))
    bad = _refund()
    bad["refund_line_items"][0]["quantity"] = -1

    with pytest.raises(ValidationError, match="refund line 1 has quantity -1"):
        order.handle(Webhook("refunds/create", bad, "r1"))


def test_a_refund_of_an_order_cancelled_before_it_reached_the_erp_credits_nothing() -> None:
    order = Order_()
    order.handle(Webhook("orders/create", body(), "e1"))
    order.handle(Webhook("refunds/create", _refund(), "r0"))
    order.handle(Webhook("orders/cancelled", body(cancelled_at="2026-11-27T01:00:00Z"), "e2"))
    assert order.state.refunds_waiting == []

    order.handle(Webhook("refunds/create", _refund(), "r1"))
    order.handle(Advance())

    assert [c for c in order.ports.erp.calls if c[0] == "refund"] == []
    assert order.state.status == "cancelled"
    assert _handled_again(order) == []


@pytest.mark.parametrize("held", ["with_provider", "other"])
def test_a_warehouse_that_will_not_cancel_refuses_the_cancellation_for_an_operator(held: WmsStatus) -> None:
    order = Order_()
    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance()):
        order.handle(message)
    order.ports.wms.answer = held

    with pytest.raises(RejectedError) as refused:
        order.handle(Webhook("orders/cancelled", body(cancelled_at="2026-11-27T01:00:00Z"), "e2"))

    assert refused.value.code == "NOT_CANCELLABLE_AT_WMS"
    assert order.state.status == "sent_to_wms"


def test_an_order_the_warehouse_holds_as_cancelled_is_refused_rather_than_marked_sent() -> None:
    order = Order_(Ports(Wms("cancelled")))
    order.handle(Webhook("orders/create", body(), "e1"))
    order.handle(Advance())

    with pytest.raises(RejectedError) as refused:
        order.handle(Advance())

    assert refused.value.code == "CANCELLED_AT_WMS"
    assert order.state.status == "erp_synced"


def test_a_shipment_before_the_order_waits_for_it_and_goes_on_once_the_order_is_booked_in_the_erp() -> None:
    order = Order_()

    order.handle(ShipmentArrived(Shipment("1Z999", carrier="ups"), received_at=50.0))  # its order not seen yet
    assert order.state.status is None and order.state.shipment is not None and order.sends == []
    order.handle(Webhook("orders/create", body(), "e1"))  # found by the reconciler, say
    assert [s.payload["type"] for s in order.sends if s.kind == "order"] == ["advance"]  # its first step

    order.handle(Advance())
    order.handle(Advance())

    assert order.ports.erp.calls[-1] == ("sales order", "5001", Priority.HIGH)
    assert order.state.status == "fulfilled" and order.state.shipment_received_at == 50.0
    assert [s.tracking_number for _, s in order.ports.storefront.fulfilled] == ["1Z999"]
    assert order.ports.wms.calls == []


def test_a_shipment_waiting_for_an_order_that_comes_cancelled_goes_nowhere() -> None:
    order = Order_()
    order.handle(ShipmentArrived(Shipment("1Z999")))

    order.handle(Webhook("orders/cancelled", body(cancelled_at="2026-11-27T01:00:00Z"), "e2"))
    order.handle(Advance())

    assert order.state.status == "cancelled"
    assert [s for s in order.sends if s.kind == "order"] == []
    assert order.ports.erp.calls == [] and order.ports.storefront.fulfilled == []


def test_a_shipment_is_passed_to_the_storefront_with_its_tracking_and_the_order_is_fulfilled() -> None:
    order = Order_()
    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance()):
        order.handle(message)
    shipment = parse_message({"type": "shipment", "tracking_number": "1Z999", "carrier": "ups",
                              "tracking_url": "https://ups.example/1Z999", "received_at": 100.0})

    order.handle(shipment)
    order.handle(Advance())

    assert order.ports.storefront.fulfilled == [("5001", Shipment("1Z999", "ups", "https://ups.example/1Z999"))]
    assert order.state.status == "fulfilled"
    assert Timed("shipment_to_shopify", 4.0) in order.notices


FRAUD = StorefrontHold("gid://shopify/FulfillmentHold/1", "HIGH_RISK_OF_FRAUD", "review")


def test_an_order_another_app_holds_waits_before_the_warehouse_and_goes_on_when_the_hold_is_lifted() -> None:
    order = Order_()
    order.ports.storefront.held = (FRAUD,)
    for message in (Webhook("orders/create", body(), "e1"), Advance()):
        order.handle(message)

    order.handle(Advance())
    waiting = (order.state.status, order.state.held, order.sends)
    order.ports.storefront.held = ()
    order.handle(parse_message(order.sends[0].payload))

    assert waiting == ("erp_synced", {"for": "warehouse", "reasons": ["HIGH_RISK_OF_FRAUD"], "ours": False,
                                      "since": 102.0},
                       [Send("order", "5001", {"type": "advance", "check": 1}, delay=30.0)])
    assert order.ports.wms.calls == [("place", "5001", None)]
    assert order.state.status == "sent_to_wms" and order.state.held is None


def test_while_an_order_is_held_only_the_latest_look_acts_and_a_repeated_step_changes_nothing() -> None:
    order = Order_()
    order.ports.storefront.held = (FRAUD,)
    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance()):
        order.handle(message)
    looks = order.ports.storefront.looks

    order.handle(Advance())
    order.handle(Advance(check=0))
    repeats = (order.sends, order.ports.storefront.looks - looks)
    order.handle(Advance(check=1))

    assert repeats == ([], 0)
    assert order.sends == [Send("order", "5001", {"type": "advance", "check": 2}, delay=30.0)]
    assert order.ports.wms.calls == []


def test_an_update_while_held_reaches_the_erp_and_the_order_still_waits_for_the_hold() -> None:
    order = Order_()
    order.ports.storefront.held = (FRAUD,)
    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance()):
        order.handle(message)

    order.handle(Webhook("orders/updated", body(updated_at="2026-11-27T00:09:00Z", email="new@example.com"), "e2"))
    order.handle(Advance())

    assert [c[0] for c in order.ports.erp.calls].count("sales order") == 2
    assert order.ports.wms.calls == [] and order.state.held is not None


def test_a_hold_whose_reason_is_let_through_does_not_keep_the_order_from_the_warehouse() -> None:
    order = Order_()
    order.ports.storefront.held = (StorefrontHold("h2", "UNKNOWN_DELIVERY_DATE"),)

    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance()):
        order.handle(message)

    assert order.state.status == "sent_to_wms"


def test_a_cancellation_while_held_cancels_and_the_scheduled_look_then_does_nothing() -> None:
    order = Order_()
    order.ports.storefront.held = (FRAUD,)
    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance()):
        order.handle(message)

    order.handle(Webhook("orders/cancelled", body(cancelled_at="2026-11-27T01:00:00Z"), "e2"))
    order.handle(Advance(check=1))

    assert order.state.status == "cancelled" and order.state.held is None
    assert order.ports.wms.calls == [("cancel", "5001", None)]


def test_a_shipment_that_meets_a_held_fulfillment_is_fulfilled_with_its_tracking_once_the_hold_is_lifted() -> None:
    order = Order_()
    for message in (Webhook("orders/create", body(), "e1"), Advance(), Advance(), ShipmentArrived(Shipment("1Z9"))):
        order.handle(message)
    order.ports.storefront.held = (StorefrontHold("h3", "INCORRECT_ADDRESS"),)

    order.handle(Advance())
    waiting = (order.state.status, list(order.ports.storefront.fulfilled), order.sends)
    order.ports.storefront.held = ()
    order.handle(Advance(check=1))

    assert waiting == ("shipped", [], [Send("order", "5001", {"type": "advance", "check": 1}, delay=30.0)])
    assert order.ports.storefront.fulfilled == [("5001", Shipment("1Z9"))]
    assert order.state.status == "fulfilled"


def test_a_gift_card_only_order_is_booked_in_the_erp_and_never_sent_to_the_warehouse() -> None:
    card = {"id": 1, "sku": "GC-25", "title": "Gift card", "quantity": 1, "price": "25.00",
            "gift_card": True, "requires_shipping": False}
    order = Order_()
    order.handle(Webhook("orders/create", body(line_items=[card], subtotal_price="25.00", total_tax="0.00",
                                               total_price="25.00", shipping_lines=[]), "e1"))

    order.handle(Advance())

    assert order.state.status == "erp_synced"
    assert ADVANCE not in order.sends
    assert order.ports.wms.calls == []


def test_state_saved_by_an_earlier_version_loads_and_keeps_what_this_one_does_not_know() -> None:
    saved = {"status": "sent_to_wms", "order": {"id": "5001"}, "events": ["e1"], "stock": {"SKU-1": 2},
             "wms_order_id": 41, "received_at": 90.0, "received_at_extra": 1, "refunds": [{"id": 1}],
             "sent_to_wms_at": 95.0}

    state = OrderState.from_json(saved)

    assert state.status == "sent_to_wms"
    assert state.entered == {"sent_to_wms": 95.0}
    assert state.to_json() == saved


def test_an_unknown_message_type_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="unknown type 'refund'"):
        parse_message({"type": "refund"})


class BusyErp(Erp):
    """An ERP that takes one call at a time, with the connectors' limiter in front of it."""

    def __init__(self, now: float) -> None:
        super().__init__()
        self.limiter = ConcurrencyLimiter(1, now=lambda: now)

    def upsert_sales_order(self, order: Order, *, priority: int, pending_approval: bool | None = None) -> None:
        with self.limiter.slot(priority):
            super().upsert_sales_order(order, priority=priority, pending_approval=pending_approval)


def test_an_order_whose_webhook_was_lost_waits_for_the_erp_as_of_its_placement_not_behind_later_orders() -> None:
    ports = Ports()
    ports.erp = erp = BusyErp(now=datetime(2026, 11, 27, 0, 10, tzinfo=UTC).timestamp())
    placed = {"5002": "2026-11-27T00:03:00Z", "5003": "2026-11-27T00:04:00Z",
              "5001": "2026-11-27T00:01:00Z"}  # 5001's webhook was lost: the sweep brings it last
    orders = {}
    for order_id, at in placed.items():
        orders[order_id] = Order_(ports)
        orders[order_id].handle(Webhook("orders/create", body(id=int(order_id), name=f"#{order_id}", created_at=at,
                                                              customer=None), f"e{order_id}"))
    erp.limiter.acquire()  # the ERP is busy: each order's step waits in line
    steps = []
    for order in orders.values():
        steps.append(gevent.spawn(order.handle, Advance()))
        gevent.idle()
    erp.limiter.release()
    gevent.joinall(steps, raise_error=True)

    assert [order_id for _, order_id, _ in erp.calls] == ["5001", "5002", "5003"]
