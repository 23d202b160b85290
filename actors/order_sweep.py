"""The orders sweep: Shopify orders updated since the cursor, one page a step; missed ones are repaired.

Whatever webhooks missed (an order never seen, an update or cancellation lost,
a refund not booked) is sent to the order actor as the webhook would have been,
and counted as a repair. An order whose mailbox already holds a webhook with this update is in
flight, not missed; one whose mailbox holds only its own steps is judged like
any other. A step reads a page (or goes on with the one it read) and repairs at
most ``Settings.repairs_per_step`` orders, each a whole-order read of about 430
points, so that what it found is committed before the next read waits for points.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from peppasync.clock import parse_timestamp

from actors.connectors import Priority, call
from actors.order_import import fetch_order, fetch_refunds
from actors.order_state import PAST_CANCELLING, OrderState

if TYPE_CHECKING:
    from actors.reconciler import ReconcilerActor, Settings

__all__ = ["OrdersSweep", "iso"]

#: Orders whose saved states a step reads at once.
_READ_AHEAD = 50
_MAILBOX_LOOK = 50  # an order's mailbox holds a few steps and webhooks, rarely more
# Orders whose refunds are looked up: Shopify's financial status once money went back.
_REFUNDED = frozenset({"REFUNDED", "PARTIALLY_REFUNDED"})


def iso(moment: datetime) -> str:
    """A UTC time as Shopify and ShipStation take it in a filter (whole seconds, ``Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(node: dict[str, Any]) -> dict[str, Any]:
    """What a step keeps of an order summary between steps."""
    return {"id": node.get("id"), "legacyResourceId": node.get("legacyResourceId"),
            "updatedAt": node.get("updatedAt"), "cancelledAt": node.get("cancelledAt"),
            "displayFinancialStatus": node.get("displayFinancialStatus")}


def _order_id(node: dict[str, Any]) -> str:
    """The order's id as the engine keys it (Shopify's legacy id), or "" when the summary has none."""
    return str(node.get("legacyResourceId") or str(node.get("id", "")).rsplit("/", 1)[-1])


class OrdersSweep:
    """Pages Shopify's orders updated after the cursor (less the overlap), oldest update first."""

    name = "orders"
    needs: tuple[str, ...] = ("shopify",)

    def __init__(self, actor: ReconcilerActor, settings: Settings) -> None:
        self._actor = actor
        self._settings = settings

    def begin(self, progress: dict[str, Any], now: float) -> None:
        state = self._actor.state
        start = datetime.fromtimestamp(now, UTC) - timedelta(seconds=self._settings.lookback)
        cursor = parse_timestamp(state.get("cursor")) or start
        progress.update(since=iso(cursor - timedelta(seconds=self._settings.overlap)), after=None, more=True,
                        nodes=[], newest=None)

    def step(self, progress: dict[str, Any], now: float) -> bool:
        """One page read (unless one is still being worked through) and a few repairs; True when done."""
        nodes: list[dict[str, Any]] = progress["nodes"]
        if not nodes and progress["more"]:
            shopify = self._actor.service("shopify")
            page = call("shopify", shopify.orders_page, progress["since"], after=progress["after"],
                        priority=Priority.RECONCILE)
            nodes.extend(_summary(n) for n in page.nodes)
            progress.update(after=page.end_cursor, more=page.has_next and page.end_cursor is not None)
            for node in nodes:
                updated = parse_timestamp(node.get("updatedAt"))
                newest = parse_timestamp(progress["newest"])
                if updated is not None and (newest is None or updated > newest):
                    progress["newest"] = iso(updated)
        held = {e.key for e in self._actor.store.quarantine_list(kind="order")}
        states: dict[str, tuple[dict[str, Any], int] | None] = {}
        repairs = 0
        while nodes and repairs < self._settings.repairs_per_step:
            order_id = _order_id(nodes[0])
            if order_id and order_id not in states:
                # The saved states of the next orders in one read: one read per order held the
                # hub for a whole page of reads when nothing needed repairing. A step that stops
                # at its repairs has read at most a read-ahead it did not judge.
                ids = [i for i in map(_order_id, nodes[:_READ_AHEAD]) if i]
                loaded = self._actor.store.load_many("order", ids, limit=1)
                states.update((key, found[0]) for key, found in loaded.items())
            # Taken off only once handled: a failed read leaves it for the step that resumes.
            repairs += self._judge(nodes[0], order_id, held, states)
            nodes.pop(0)
        if nodes or progress["more"]:
            return False
        state = self._actor.state
        state["cursor"] = progress["newest"] or state.get("cursor")
        self._forget_repairs(parse_timestamp(progress["since"]))
        return True

    def _judge(self, node: dict[str, Any], order_id: str, held: set[str],
               states: dict[str, tuple[dict[str, Any], int] | None]) -> int:
        """Repair the order if webhooks missed this version of it, and its refunds if their webhooks were
        lost; the number of repairs sent. ``states``: the orders' saved states, read ahead."""
        # An order an operator has to look at is not missed: resending it would only quarantine it twice.
        if not order_id or order_id in held:
            return 0
        found = states[order_id]
        state = OrderState.from_json(found[0] if found else {})
        return self._judge_order(node, order_id, state) + self._judge_refunds(node, order_id, state)

    def _judge_refunds(self, node: dict[str, Any], order_id: str, state: OrderState) -> int:
        """Send each refund of a refunded order that the order has not booked and no webhook brings."""
        if str(node.get("displayFinancialStatus") or "") not in _REFUNDED or state.erp_at is None:
            return 0
        actor = self._actor
        repaired: dict[str, str] = actor.state.setdefault("repaired", {})
        refunds = call("shopify", fetch_refunds, actor.service("shopify"), str(node.get("id")), Priority.RECONCILE)
        waiting = self._refunds_on_their_way(order_id)
        sent = 0
        for body in refunds:
            refund_id = str(body.get("id"))
            if refund_id in state.refunds or refund_id in waiting or f"refund:{refund_id}" in repaired:
                continue
            repaired[f"refund:{refund_id}"] = str(node.get("updatedAt"))
            actor.send("order", order_id, {
                "type": "webhook", "topic": "refunds/create", "event_id": f"reconcile:refund:{refund_id}",
                "received_at": actor.clock.time(), "body": body, "source": "reconciler",
            })
            actor.on_success(lambda: actor.hooks.on_repair("missed_refund"))
            sent += 1
        return sent

    def _refunds_on_their_way(self, order_id: str) -> set[str]:
        """The refunds whose ``refunds/create`` webhook the order's mailbox already holds."""
        return {str(m.payload["body"].get("id"))
                for m in self._actor.store.pending("order", order_id, limit=_MAILBOX_LOOK, now=float("inf"))
                if m.payload.get("topic") == "refunds/create" and isinstance(m.payload.get("body"), dict)}

    def _judge_order(self, node: dict[str, Any], order_id: str, state: OrderState) -> int:
        """Repair the order if webhooks missed this version of it; 1 when a repair was sent."""
        actor = self._actor
        updated = parse_timestamp(node.get("updatedAt"))
        if self._on_its_way(order_id, updated, bool(node.get("cancelledAt"))):
            return 0
        status = state.status
        known = parse_timestamp((state.record or {}).get("updated_at"))
        if status is None:
            topic = "orders/cancelled" if node.get("cancelledAt") else "orders/create"
        elif node.get("cancelledAt") and status not in PAST_CANCELLING:
            topic = "orders/cancelled"
        elif known is not None and updated is not None and updated > known and status != "cancelled":
            topic = "orders/updated"
        else:
            return 0
        repaired: dict[str, str] = actor.state.setdefault("repaired", {})
        if repaired.get(order_id) == node.get("updatedAt"):
            return 0  # sent once already (it may sit in quarantine): an operator's turn now
        body = call("shopify", fetch_order, actor.service("shopify"), str(node.get("id")), Priority.RECONCILE)
        if body is None:
            return 0
        repaired[order_id] = str(node.get("updatedAt"))
        actor.send("order", order_id, {
            "type": "webhook",
            "topic": topic,
            "event_id": f"reconcile:{order_id}:{node.get('updatedAt')}",
            "received_at": actor.clock.time(),
            "body": body,
            "source": "reconciler",
        })
        actor.on_success(lambda: actor.hooks.on_repair("missed_order"))
        return 1

    def _on_its_way(self, order_id: str, updated: datetime | None, cancelled: bool) -> bool:
        """Whether the order's mailbox already holds a webhook with this version of it."""
        for message in self._actor.store.pending("order", order_id, limit=_MAILBOX_LOOK, now=float("inf")):
            payload = message.payload
            body = payload.get("body")
            if payload.get("type") != "webhook" or not isinstance(body, dict):
                continue
            if cancelled and (payload.get("topic") == "orders/cancelled" or body.get("cancelled_at")):
                return True
            seen = parse_timestamp(body.get("updated_at"))
            if not cancelled and (updated is None or (seen is not None and seen >= updated)):
                return True
        return False

    def _forget_repairs(self, before: datetime | None) -> None:
        # Updates older than the window are never paged again: no need to remember them.
        if before is None:
            return
        repaired: dict[str, str] = self._actor.state.get("repaired", {})
        for order_id, updated in list(repaired.items()):
            moment = parse_timestamp(updated)
            if moment is not None and moment < before:
                del repaired[order_id]
