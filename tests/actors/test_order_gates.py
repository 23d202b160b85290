"""A build-to-order order at its gates, run with in-memory ports: held in Shopify, pending approval in
the ERP and on hold at the warehouse until its gates pass; a rejection holds or cancels it, with its reason."""

from __future__ import annotations

from typing import Any

from peppasync.config import parse_config

from actors.domain import Shipment, StorefrontHold
from actors.gate_workflows import GateSettings
from actors.order_flow import Advance, GateNews, Send, ShipmentArrived, Webhook

from .test_order_flow import Order_, Ports, body

GATES = {
    "workflows": {"custom": {"order_tags": ["custom"], "gates": ["finance", "design"]}},
    "finance": {"owner": "finance", "sla_hours": 24, "pass_at_paid_percent": 50},
    "design": {"owner": "design", "sla_hours": 72, "due_attribute": "design_due"},
}


def gated(**gates: Any) -> Order_:
    ports = Ports()
    ports.gates = GateSettings.from_config(parse_config({"gates": {**GATES, **gates}}, environ={}).gates)
    return Order_(ports)


def custom(**changes: Any) -> dict[str, Any]:
    return body(tags="custom, rush", **changes)


def news(gate: str, event: str = "passed", **more: Any) -> GateNews:
    return GateNews({"type": "gate", "gate": gate, "event": event, "workflow": "custom", "who": "alice",
                     "why": "", "cancel": False, **more})


def test_an_order_no_workflow_takes_passes_no_gate() -> None:
    order = gated()

    for message in (Webhook("orders/create", body(tags="gift"), "e1"), Advance(), Advance()):
        order.handle(message)

    assert order.state.gates is None and order.state.status == "sent_to_wms"
    assert order.ports.wms.holds == [""] and order.ports.erp.approvals == [None]


def test_a_custom_order_opens_its_first_gate_with_the_paid_share_and_the_due_dates_it_carries() -> None:
    order = gated()
    placed = custom(total_outstanding="0.00", note_attributes=[{"name": "design_due", "value": "2026-12-24T00:00:00Z"}])

    order.handle(Webhook("orders/create", placed, "e1"))

    assert order.sends[-3:-1] == [
        Send("gate", "5001:finance", {"type": "open", "workflow": "custom", "due": {"design": 1798070400.0}}),
        Send("gate", "5001:finance", {"type": "paid", "share": "1", "workflow": "custom"}),
    ]


def test_until_its_gates_pass_it_is_held_in_shopify_pending_approval_in_the_erp_and_on_hold_at_the_warehouse() -> None:
    order = gated()

    for message in (Webhook("orders/create", custom(), "e1"), Advance(), Advance()):
        order.handle(message)

    assert list(order.ports.storefront.ours) == ["peppasync-gates"]
    assert order.ports.storefront.ours["peppasync-gates"][1] == "build to order: waiting for finance -> design"
    assert order.ports.erp.approvals == [True]
    assert order.ports.wms.holds == ["build to order: waiting for finance -> design"]
    assert order.state.status == "sent_to_wms"
    assert [s for s in order.sends if s.payload.get("type") == "allocated"] == []


def test_finance_passing_approves_in_the_erp_and_the_last_gate_releases_our_hold_and_ships() -> None:
    order = gated()
    for message in (Webhook("orders/create", custom(), "e1"), Advance(), Advance()):
        order.handle(message)

    order.handle(news("finance"))
    approved = list(order.ports.erp.approvals)
    order.handle(news("design"))
    released = dict(order.ports.storefront.ours)
    order.handle(Advance())

    assert approved == [True, False]
    assert released == {}
    assert order.ports.wms.holds == ["build to order: waiting for finance -> design", ""]
    assert [s.payload["type"] for s in order.sends] == ["allocated", "allocated"]


def test_after_its_gates_pass_another_apps_hold_still_keeps_it_from_the_warehouse() -> None:
    order = gated()
    for message in (Webhook("orders/create", custom(), "e1"), Advance(), Advance(), news("finance"),
                    news("design")):
        order.handle(message)
    order.ports.storefront.held = (StorefrontHold("x", "HIGH_RISK_OF_FRAUD"),)

    order.handle(Advance())

    assert order.ports.wms.holds == ["build to order: waiting for finance -> design"]
    assert order.state.held is not None and order.state.held["reasons"] == ["HIGH_RISK_OF_FRAUD"]


def test_a_rejected_gate_holds_the_order_with_the_reason_in_shopify_and_at_the_warehouse() -> None:
    order = gated()
    for message in (Webhook("orders/create", custom(), "e1"), Advance(), Advance()):
        order.handle(message)

    order.handle(news("design", "rejected", who="bob", why="proof not signed"))

    assert order.ports.storefront.ours["peppasync-rejected"][1] == "design rejected by bob: proof not signed"
    assert order.ports.wms.holds[-1] == "design rejected by bob: proof not signed"
    assert order.state.status == "sent_to_wms" and order.ports.storefront.fulfilled == []


def test_a_rejected_gate_set_to_cancel_cancels_at_the_warehouse_and_in_the_erp() -> None:
    order = gated(on_reject="cancel")
    for message in (Webhook("orders/create", custom(), "e1"), Advance(), Advance()):
        order.handle(message)

    order.handle(news("finance", "rejected", who="alice", why="card declined", cancel=True))
    order.handle(ShipmentArrived(Shipment("1Z1")))

    assert order.state.status == "cancelled"
    assert ("cancel", "5001", 41) in order.ports.wms.calls
    assert ("cancel", "5001") in [c[:2] for c in order.ports.erp.calls]
    assert "peppasync-gates" in order.ports.storefront.ours


def test_gate_news_twice_changes_nothing_the_second_time() -> None:
    order = gated()
    for message in (Webhook("orders/create", custom(), "e1"), Advance(), Advance(), news("finance")):
        order.handle(message)

    order.handle(news("finance"))

    assert order.ports.erp.approvals == [True, False]


def test_an_order_cancelled_in_shopify_rejects_its_open_gate_so_nobody_is_asked_to_decide() -> None:
    order = gated()
    for message in (Webhook("orders/create", custom(), "e1"), Advance(), Advance(), news("finance")):
        order.handle(message)

    order.handle(Webhook("orders/cancelled", custom(cancelled_at="2026-11-27T01:00:00Z"), "e2"))
    told = [s for s in order.sends if s.kind == "gate"]
    order.handle(news("design", "rejected", who="shopify", why="the order was cancelled in Shopify"))

    assert order.state.status == "cancelled"
    assert told == [Send("gate", "5001:design", {
        "type": "signal", "action": "reject", "who": "shopify", "why": "the order was cancelled in Shopify",
        "signal_id": "cancelled:5001", "workflow": "custom"})]
    assert "peppasync-rejected" not in order.ports.storefront.ours


def test_a_workflow_by_product_tag_reads_the_products_tags_only_when_the_body_does_not_decide() -> None:
    workflows = {"custom": {"order_tags": ["custom"], "gates": ["finance"]},
                 "made": {"product_tags": ["Made-To-Order"], "gates": ["design"]}}
    by_product, by_tag, plain = gated(workflows=workflows), gated(workflows=workflows), gated(workflows=workflows)
    by_product.ports.storefront.tags = frozenset({"made-to-order", "cotton"})

    by_product.handle(Webhook("orders/create", body(), "e1"))
    by_tag.handle(Webhook("orders/create", custom(), "e1"))
    plain.handle(Webhook("orders/create", body(), "e1"))

    assert by_product.state.gates is not None and by_product.state.gates["workflow"] == "made"
    assert by_tag.state.gates is not None and by_tag.state.gates["workflow"] == "custom"
    assert by_tag.ports.storefront.tag_reads == 0
    assert plain.state.gates is None and plain.ports.storefront.tag_reads == 1
