"""What a build-to-order order does beside the common steps: it waits at its stage gates.

An order a ``[gates]`` workflow takes (``GateSettings.for_order``) opens its first gate when
it is received, and is held where it would otherwise move on, so that no one ships or bills
it before its last gate passes:

- Shopify: our own fulfillment hold, handle ``peppasync-gates``, placed before the ERP is
  called; only our hold ids are ever released, never another app's;
- the ERP: the sales order is written pending approval, and approved when the first gate
  (finance) passes;
- the warehouse: the order is placed ``on_hold``, and placed again to be shipped when the
  last gate passes, once no other app's hold keeps it (``actors.storefront_holds``).

A rejected gate holds the order where it is, or cancels it at the warehouse and in the ERP
(``[gates] on_reject``; an expiry set to cancel always cancels); either way the reason is
written where people look: a second Shopify hold whose notes say who rejected it and why, the
warehouse's internal notes, and the order's state.

``GatedSteps`` is mixed into ``OrderFlow``; it uses the flow's state, ports and sends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from peppasync.errors import ValidationError

from actors.connectors import Priority
from actors.domain import Order, StorefrontHold
from actors.gate_workflows import GATE_KIND, GateSettings, gate_key
from actors.order_state import SYNCED, OrderState, Status

if TYPE_CHECKING:
    from actors.order_flow import OrderPorts

__all__ = ["GATES_HOLD", "REJECTED_HOLD", "GatedSteps", "paid_share"]

log = logging.getLogger("peppasync.order")

#: The handles of our own Shopify holds: waiting at the gates, and rejected at one.
GATES_HOLD = "peppasync-gates"
REJECTED_HOLD = "peppasync-rejected"


def paid_share(body: Mapping[str, Any]) -> Decimal:
    """The share of the order's total captured so far (0 to 1), from its webhook body:
    the total less ``total_outstanding``, else all of it when ``financial_status`` is paid."""
    try:
        total = Decimal(str(body.get("current_total_price") or body.get("total_price") or 0))
        outstanding = body.get("total_outstanding")
        if total <= 0:
            return Decimal(1)
        if outstanding is not None:
            return max(Decimal(0), min(Decimal(1), (total - Decimal(str(outstanding))) / total))
    except InvalidOperation:
        raise ValidationError("the order's total_price or total_outstanding is not an amount",
                              field="total_outstanding") from None
    return Decimal(1) if body.get("financial_status") == "paid" else Decimal(0)


class GatedSteps:
    """The gate steps of ``OrderFlow`` (which provides what is declared here)."""

    key: str
    state: OrderState
    ports: OrderPorts
    sends: list[Any]
    now: Callable[[], float]
    _send: Callable[[str, str, dict[str, Any]], None]

    def _gates(self) -> GateSettings | None:
        settings = getattr(self.ports, "gates", None)
        return settings if isinstance(settings, GateSettings) and settings.workflows else None

    # -- received ------------------------------------------------------------------

    def _gates_begin(self, body: Mapping[str, Any]) -> None:
        """A new order: when a workflow takes it, open its first gate and remember the workflow."""
        settings = self._gates()
        workflow = settings.for_order(body, lambda: self.ports.storefront.product_tags(self.key)) \
            if settings is not None else None
        if settings is None or workflow is None:
            return
        names = [g.name for g in workflow.gates]
        self.state.gates = {"workflow": workflow.name, "gates": names, "passed": [], "rejected": None,
                            "shopify_holds": [], "approved": False, "released": False}
        due = {n: at for n in names if (at := settings.due_at(n, body)) is not None}
        self._send(GATE_KIND, gate_key(self.key, names[0]), {"type": "open", "workflow": workflow.name, "due": due})
        log.info("order is built to order: it passes the gates %s", " -> ".join(names),
                 extra={"order_id": self.key, "workflow": workflow.name})
        self._gates_paid(body)

    def _gates_paid(self, body: Mapping[str, Any]) -> None:
        """Tell each gate that passes at a paid share how much is paid now."""
        gates, settings = self.state.gates, self._gates()
        workflow = settings.workflow(gates["workflow"]) if gates and settings else None
        if gates is None or workflow is None:
            return
        share = paid_share(body)
        for rule in workflow.gates:
            if rule.pass_at_paid_share is not None and rule.name not in gates["passed"]:
                self._send(GATE_KIND, gate_key(self.key, rule.name), {"type": "paid", "share": str(share),
                                                                      "workflow": workflow.name})

    # -- what the steps ask ----------------------------------------------------------

    @property
    def gated(self) -> bool:
        """Built to order, and its gates have not all passed (or one was rejected)."""
        gates = self.state.gates
        return gates is not None and not gates["released"]

    def _pending_approval(self) -> bool | None:
        gates = self.state.gates
        return None if gates is None else not gates["approved"]

    def _hold_in_storefront(self) -> None:
        """Our Shopify hold, once, before anyone else hears of the order."""
        gates = self.state.gates
        if gates is None or gates["released"] or gates["shopify_holds"]:
            return
        waiting = " -> ".join(g for g in gates["gates"] if g not in gates["passed"])
        holds = self.ports.storefront.hold(self.key, GATES_HOLD, f"build to order: waiting for {waiting}")
        gates["shopify_holds"] = [_saved(h) for h in holds]

    def _warehouse_hold_note(self) -> str:
        gates = self.state.gates
        if gates is None:
            return ""
        rejected = gates.get("rejected")
        if rejected:
            return f"{rejected['gate']} rejected by {rejected['who']}: {rejected['why']}"[:500]
        return "build to order: waiting for " + " -> ".join(g for g in gates["gates"] if g not in gates["passed"])

    def _not_ours(self, holds: tuple[StorefrontHold, ...]) -> tuple[StorefrontHold, ...]:
        return tuple(h for h in holds if not (h.ours and h.handle in (GATES_HOLD, REJECTED_HOLD)))

    # -- a gate's news -------------------------------------------------------------

    def _gate_news(self, news: Mapping[str, Any]) -> None:
        gates = self.state.gates
        if gates is None:
            raise ValidationError(f"gate news for order {self.key}, which no workflow takes", field="gate")
        gate, event = str(news.get("gate") or ""), news.get("event")
        if gate not in gates["gates"]:
            raise ValidationError(f"gate {gate!r} is not one of this order's gates ({', '.join(gates['gates'])})",
                                  field="gate")
        status = self.state.status
        if event == "passed":
            if gate in gates["passed"]:
                return
            gates["passed"].append(gate)
            if gate == gates["gates"][0] and not gates["approved"]:
                gates["approved"] = True
                if status in SYNCED and self.state.record is not None:
                    # Approved in the ERP now: the finance gate passed.
                    self.ports.erp.upsert_sales_order(self.state.order, priority=Priority.HIGH,
                                                      pending_approval=False)
            if len(gates["passed"]) == len(gates["gates"]):
                self._gates_passed(status)
        elif event == "rejected":
            if gates.get("rejected"):
                return
            gates["rejected"] = {"gate": gate, "who": str(news.get("who") or ""), "why": str(news.get("why") or "")}
            self._gate_rejected(bool(news.get("cancel")))
        else:
            raise ValidationError(f"gate news of unknown event {event!r}", field="event")

    def _gates_cancelled(self) -> None:
        """Cancelled in Shopify: its open gate is rejected, so nobody is asked to decide on it any more."""
        gates = self.state.gates
        if gates is None or gates["released"] or gates.get("rejected"):
            return
        current = next((g for g in gates["gates"] if g not in gates["passed"]), None)
        if current is None:
            return
        why = "the order was cancelled in Shopify"
        gates["rejected"] = {"gate": current, "who": "shopify", "why": why}
        self._send(GATE_KIND, gate_key(self.key, current), {
            "type": "signal", "action": "reject", "who": "shopify", "why": why, "signal_id": f"cancelled:{self.key}",
            "workflow": gates["workflow"]})

    def _gates_passed(self, status: Status | None) -> None:
        """The last gate passed: release our Shopify hold; the warehouse gets the order to ship."""
        gates = self.state.gates
        assert gates is not None
        ours = tuple(_hold(h) for h in gates["shopify_holds"])
        if ours:
            self.ports.storefront.release(self.key, ours)
        gates["shopify_holds"] = []
        gates["released"] = True
        log.info("every gate passed: the order goes on", extra={"order_id": self.key})
        if status == "sent_to_wms":
            self._send("order", self.key, {"type": "advance"})

    def _gate_rejected(self, cancel: bool) -> None:
        gates = self.state.gates
        assert gates is not None
        rejected = gates["rejected"]
        note = f"{rejected['gate']} rejected by {rejected['who']}: {rejected['why']}"
        log.warning("a gate was rejected: the order is %s (%s)", "cancelled" if cancel else "held", note,
                    extra={"order_id": self.key})
        if self.state.status is not None and self.state.record is not None:
            self.ports.storefront.hold(self.key, REJECTED_HOLD, note[:250])
        if cancel:
            self._cancel_for_gate()
        elif self.state.status == "sent_to_wms" and self.state.record is not None:
            self._place_at_wms(self.state.order)

    # Provided by OrderFlow.
    def _cancel_for_gate(self) -> None: ...

    def _place_at_wms(self, order: Order) -> None: ...


def _saved(hold: StorefrontHold) -> dict[str, Any]:
    return {"id": hold.id, "reason": hold.reason, "handle": hold.handle, "fo": hold.fulfillment_order_id}


def _hold(saved: Mapping[str, Any]) -> StorefrontHold:
    return StorefrontHold(str(saved["id"]), str(saved.get("reason") or ""), str(saved.get("handle") or ""), True,
                          str(saved.get("fo") or ""))
