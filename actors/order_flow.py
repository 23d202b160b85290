"""The order's state machine: typed state, typed messages, transitions that call ports.

    received -> erp_synced -> sent_to_wms -> shipped -> fulfilled, and cancelled

Each step is its own durable message (an ``Advance`` the order sends itself), so
a crash between steps resumes at the step. Steps call the ERP, the warehouse and
the storefront through ``actors.ports``, under the ports' one rule: synchronously,
idempotently, failing only with ``TransientError`` or ``RejectedError``. A
transition that raises leaves nothing behind: the state, the messages it would
send and its notices are kept only when it returns (the actor commits them with
the message's completion).

Webhooks may arrive twice or out of order: events are deduplicated by id (and
body digest), and an update older than what the order has seen is ignored.

Nothing here touches a store, a network or a clock of its own: ``OrderFlow`` is
given its state, its ports and the time, and returns what it wants sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from peppasync.clock import parse_timestamp
from peppasync.errors import RejectedError, ValidationError

from actors.connectors import Priority, placed_at
from actors.customer_sync import already_synced, customer_version, synced_record
from actors.domain import Order, Shipment, StorefrontHold
from actors.gate_workflows import GateSettings
from actors.order_gates import GatedSteps
from actors.order_state import PAST_CANCELLING, PAST_SHIPPING, STAMPED, SYNCED, OrderState, Status
from actors.ports import Erp, Storefront, Wms
from actors.refund import read_refund
from actors.storefront_holds import HoldPolicy
from actors.validation import normalise_order

__all__ = [
    "PAST_CANCELLING",
    "SYNCED",
    "Advance",
    "CustomerRecords",
    "GateNews",
    "Moved",
    "OrderFlow",
    "OrderMessage",
    "OrderPorts",
    "OrderState",
    "Send",
    "ShipmentArrived",
    "Status",
    "Timed",
    "Webhook",
    "parse_message",
]

log = logging.getLogger("peppasync.order")

_EVENTS_KEPT = 50


# -- messages ----------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    """A storefront webhook about this order; ``body`` is the signed JSON body."""

    topic: str
    body: Any
    event_id: str = ""
    received_at: float | None = None


@dataclass(frozen=True)
class Advance:
    """Take the next step; ``check`` numbers the look at a storefront hold this step was scheduled as."""

    check: int | None = None


@dataclass(frozen=True)
class GateNews:
    """A gate of this build-to-order order passed or was rejected (``actors.gate``)."""

    news: Mapping[str, Any]


@dataclass(frozen=True)
class ShipmentArrived:
    """The warehouse shipped the order."""

    shipment: Shipment
    received_at: float | None = None


OrderMessage = Webhook | Advance | ShipmentArrived | GateNews


def parse_message(payload: Mapping[str, Any]) -> OrderMessage:
    """The typed message a stored payload holds (payloads are JSON in the store)."""
    kind = payload.get("type")
    received = payload.get("received_at")
    received_at = float(received) if isinstance(received, (int, float)) and not isinstance(received, bool) else None
    if kind == "webhook":
        event_id = str(payload.get("event_id") or "")
        if event_id and payload.get("digest"):
            # The event id is an unsigned header: with another body it is another event.
            event_id += ":" + str(payload["digest"])[:16]
        return Webhook(str(payload.get("topic")), payload.get("body"), event_id, received_at)
    if kind == "advance":
        check = payload.get("check")
        return Advance(check if isinstance(check, int) and not isinstance(check, bool) else None)
    if kind == "gate":
        return GateNews(dict(payload))
    if kind == "shipment":
        return ShipmentArrived(
            Shipment(
                tracking_number=str(payload.get("tracking_number") or ""),
                carrier=str(payload.get("carrier") or ""),
                tracking_url=str(payload.get("tracking_url") or ""),
                shipped_at=str(payload.get("shipped_at") or ""),
                label_cost=None if payload.get("label_cost") is None else str(payload.get("label_cost")),
            ),
            received_at,
        )
    raise ValidationError(f"order message of unknown type {kind!r}", field="type")


# -- what a transition hands back ------------------------------------------------


@dataclass(frozen=True)
class Send:
    """A durable message to send once the transition is committed, due ``delay`` seconds after."""

    kind: str
    key: str
    payload: dict[str, Any]
    delay: float = 0.0


@dataclass(frozen=True)
class Moved:
    """The order moved from one status to another."""

    old: Status | None
    new: Status


@dataclass(frozen=True)
class Timed:
    """A flow (say ``order_to_erp``) took this long, from the event to its step."""

    flow: str
    seconds: float


# -- what a transition uses ------------------------------------------------------------


class CustomerRecords(Protocol):
    """Per storefront customer id, what the ERP was last sent (``actors.customer_sync``)."""

    def get(self, customer_id: str) -> Mapping[str, Any] | None: ...

    def put(self, customer_id: str, record: Mapping[str, Any]) -> None: ...


class OrderPorts(Protocol):
    """The order flow's collaborators; a missing one raises ``LookupError`` when first used."""

    @property
    def erp(self) -> Erp: ...

    @property
    def wms(self) -> Wms: ...

    @property
    def storefront(self) -> Storefront: ...

    @property
    def customers(self) -> CustomerRecords: ...

    #: Whether the ERP books lines without a SKU (on a configured item).
    @property
    def books_non_sku_lines(self) -> bool: ...

    #: The catalogue's test for a SKU, when there is a catalogue.
    @property
    def known_sku(self) -> Callable[[str], bool] | None: ...

    #: Whether inventory actors track the stock orders hold.
    @property
    def tracks_stock(self) -> bool: ...

    #: Which storefront holds keep an order from the warehouse, and how often to look again.
    @property
    def holds(self) -> HoldPolicy: ...

    #: The build-to-order workflows (none: no order passes any gate).
    @property
    def gates(self) -> GateSettings: ...


# -- transitions -------------------------------------------------------------------------


class OrderFlow(GatedSteps):
    """One order's transitions. ``handle`` one message, then read ``state``, ``sends`` and ``notices``."""

    kind = "order"

    def __init__(self, key: str, state: OrderState, ports: OrderPorts, now: Callable[[], float]) -> None:
        self.key = key
        self.state = state
        self.ports = ports
        self.now = now
        self.sends: list[Send] = []
        self.notices: list[Moved | Timed] = []
        # Whether ``state`` changed and is to be saved.
        self.changed = False

    def handle(self, message: OrderMessage) -> None:
        # The order waits for the ERP and the warehouse in line as of when it was placed, so one
        # whose webhook was lost, or whose step failed and is tried again, does not go to the back.
        record = self.state.record
        placed = parse_timestamp(record.get("created_at")) if record is not None else None
        with placed_at(placed.timestamp() if placed is not None else None):
            self._handle(message)

    def _handle(self, message: OrderMessage) -> None:
        if isinstance(message, Webhook):
            self._webhook(message)
        elif isinstance(message, Advance):
            self._advance(message)
        elif isinstance(message, GateNews):
            self._gate_news(message.news)
            self.changed = True
        else:
            self._shipment(message)

    # -- events ----------------------------------------------------------------

    def _webhook(self, event: Webhook) -> None:
        events = self.state.events
        if event.event_id and event.event_id in events:
            return
        if event.topic in ("orders/create", "orders/updated"):
            if isinstance(event.body, dict) and event.body.get("cancelled_at"):
                self._cancel(event)
            else:
                self._upsert(event)
        elif event.topic == "orders/cancelled":
            self._cancel(event)
        elif event.topic == "refunds/create":
            self._refund(event)
        else:
            raise ValidationError(f"order webhook of unknown topic {event.topic!r}", field="topic")
        if event.event_id:
            events.append(event.event_id)
            del events[:-_EVENTS_KEPT]
        self.changed = True

    def _upsert(self, event: Webhook) -> None:
        state = self.state
        status = state.status
        if status == "cancelled":
            return
        record = normalise_order(event.body, known_sku=self.ports.known_sku,
                                 non_sku_lines=self.ports.books_non_sku_lines)
        current = state.record
        if current and record["updated_at"] and current["updated_at"] and record["updated_at"] < current["updated_at"]:
            return  # an older version arrived late
        state.record = record
        if status not in PAST_SHIPPING:
            self._reserve(Order.from_record(record))
        if status is None:
            state.received_at = event.received_at if event.received_at is not None else self.now()
            self._move("received")
            self._gates_begin(event.body)
            self._next()
        elif state.gates is not None:
            self._gates_paid(event.body)
        elif status in SYNCED and current != record:
            state.resync = True
            self._next()

    def _cancel(self, event: Webhook) -> None:
        # The topic is an unsigned header: a signed orders/create body sent again
        # as orders/cancelled must not cancel anything. Only the signed body says so.
        body = event.body
        if not isinstance(body, dict) or parse_timestamp(body.get("cancelled_at")) is None:
            raise ValidationError(f"{event.topic} whose body has no cancelled_at time: nothing was cancelled",
                                  field="cancelled_at")
        state = self.state
        status = state.status
        if status in PAST_SHIPPING:
            # On its way or delivered: too late to cancel, so the goods are to come back.
            self._open_return()
            return
        if status in PAST_CANCELLING:
            return
        if status is not None:
            order = state.order
            if status == "sent_to_wms" or (status == "erp_synced" and order.needs_shipping):
                # First the warehouse, so it does not pick an order nobody pays for. An order still
                # marked erp_synced may be there too: a crash can lose the step that recorded its send.
                # If it is not, the warehouse files it as cancelled, which nobody picks.
                self._cancel_at_wms(order)
            if status in SYNCED:
                self.ports.erp.cancel_sales_order(order)
            if state.shipped_before_cancel:
                self._open_return()
        else:
            state.received_at = event.received_at if event.received_at is not None else self.now()
            state.record = body
            if state.shipment is not None:
                log.warning("order cancelled before the engine saw it, after the warehouse shipped it: its goods "
                            "are to come back, and no sales order was booked to return them against",
                            extra={"order_id": self.key})
        for sku in state.stock:
            self.sends.append(Send("inventory", sku, {"type": "release", "order_id": self.key}))
        state.stock = {}
        state.held = None
        if state.refunds_waiting:
            log.info("order cancelled before its sales order was in the ERP: the %d refund(s) that waited for it "
                     "credit nothing there", len(state.refunds_waiting), extra={"order_id": self.key})
            state.refunds_waiting = []
        self._gates_cancelled()
        self._move("cancelled")

    def _refund(self, event: Webhook) -> None:
        """Book a refund in the ERP as its one credit document, and give restocked units back.

        The order's own update carries what the refund changed in the order (its ``current_*``
        figures); the refund itself is the money given back. It waits for the order's sales
        order (``_refund_waits``); an order that never reached the ERP (cancelled first) has
        nothing to credit.
        """
        state = self.state
        if state.status in (None, "received"):
            self._refund_waits(event)
            return
        if state.record is None or state.erp_at is None or "lines" not in state.record:
            log.info("refund of an order that never reached the ERP; nothing to credit there",
                     extra={"order_id": self.key})
            return
        refund = read_refund(event.body, state.record)
        if refund.id in state.refunds:
            return
        self.ports.erp.upsert_refund(state.order, refund, priority=Priority.NORMAL)
        if self.ports.tracks_stock:
            for sku, quantity in refund.restocked.items():
                self.sends.append(Send("inventory", sku, {"type": "restocked", "order_id": self.key,
                                                          "refund_id": refund.id, "quantity": quantity}))
        state.refunds.append(refund.id)

    def _refund_waits(self, event: Webhook) -> None:
        """Keep a refund that came before the sales order, to be handled again once the order is in the ERP.

        It waits in the order's state rather than in retries: in a surge the ERP's backlog can
        outlast any retry's patience, and the refund would be quarantined for no fault of its own.
        A body that cannot be read is refused now, not once the order is in the ERP.
        """
        state = self.state
        refund_id = read_refund(event.body, state.record or {}).id
        if refund_id in state.refunds or refund_id in {str(w["body"]["id"]) for w in state.refunds_waiting}:
            return
        state.refunds_waiting.append({"topic": event.topic, "body": event.body, "received_at": event.received_at})
        log.info("refund %s waits until the order's sales order is in the ERP", refund_id,
                 extra={"order_id": self.key})

    def _refunds_go_on(self) -> None:
        """The sales order is in the ERP: each refund that waited for it is handled again, as a message of its own."""
        for waiting in self.state.refunds_waiting:
            # The margin heard of the refund when it first came.
            self._send(self.kind, self.key, {"type": "webhook", **waiting, "margin_told": True})
        self.state.refunds_waiting = []

    def _open_return(self) -> None:
        """Open the ERP's return for an order cancelled after it shipped (once)."""
        state = self.state
        if state.return_opened or state.record is None or state.erp_at is None or "lines" not in state.record:
            return
        self.ports.erp.open_return(state.order, priority=Priority.HIGH)
        state.return_opened = True
        log.info("order cancelled after it shipped: a return is open in the ERP", extra={"order_id": self.key})

    def _shipment(self, message: ShipmentArrived) -> None:
        state = self.state
        if state.status in ("shipped", "fulfilled", "cancelled"):
            return
        ship = message.shipment
        state.shipment = {"tracking_number": ship.tracking_number or None, "carrier": ship.carrier or None,
                          "tracking_url": ship.tracking_url or None, "shipped_at": ship.shipped_at or None,
                          "label_cost": ship.label_cost}
        state.shipment_received_at = message.received_at if message.received_at is not None else self.now()
        self.changed = True
        if state.status in (None, "received"):
            # The warehouse shipped an order before its ERP step: it had the order from elsewhere, or
            # the order's webhook was lost. The shipment is kept, however long the order takes to come
            # (the reconciler finds it), and goes on once the sales order is booked (``_advance``).
            log.info("the warehouse shipped the order before it was in the ERP: it is booked there first",
                     extra={"order_id": self.key})
            return
        self._move("shipped")
        self._next()

    # -- steps -----------------------------------------------------------------

    def _advance(self, message: Advance) -> None:
        state = self.state
        status = state.status
        if status not in ("received", "erp_synced", "sent_to_wms", "shipped"):
            return
        order = state.order if status != "shipped" else None
        if state.held is not None and message.check != state.hold_checks:
            # Held: the look scheduled last is the order's next step. This one (a repeat, or
            # the step an update asked for) only brings the ERP up to date.
            if state.resync and status in SYNCED and order is not None:
                state.resync = False
                self._sync_erp(order)
                self.changed = True
            return
        if status == "received" and order is not None:
            self._hold_in_storefront()
            self._sync_erp(order)
            self._move("erp_synced")
            self._timed("order_to_erp", state.received_at)
            self._refunds_go_on()
            if state.shipment is not None:
                self._move("shipped")  # shipped before its ERP step (``_shipment``): on to the storefront
                self._next()
            elif order.needs_shipping:
                self._next()
        elif status == "erp_synced" and state.resync and order is not None and message.check is None:
            state.resync = False
            self._sync_erp(order)
        elif status == "erp_synced" and order is not None and order.needs_shipping:
            if state.resync:
                state.resync = False
                self._sync_erp(order)
            holding = () if self.gated else self._holding()
            if holding:
                self._wait_for(holding, "warehouse")
            else:
                self._lifted()
                self._send_to_wms(order)
                self._move("sent_to_wms")
                self._timed("order_to_wms", state.received_at)
        elif status == "sent_to_wms" and state.gates is not None and state.gates["released"] \
                and not state.gates.get("shipping") and order is not None:
            # The last gate passed: the warehouse may ship it once no other app's hold keeps it.
            holding = self._holding()
            if holding:
                self._wait_for(holding, "warehouse")
            else:
                self._lifted()
                state.gates["shipping"] = True
                self._send_to_wms(order)
        elif status == "sent_to_wms" and state.resync and order is not None:
            state.resync = False
            self._sync_erp(order)
            self._send_to_wms(order)
        elif status == "shipped":
            ship = state.shipment or {}
            holding = self.ports.storefront.fulfill(self.key, Shipment(
                tracking_number=str(ship.get("tracking_number") or ""),
                carrier=str(ship.get("carrier") or ""),
                tracking_url=str(ship.get("tracking_url") or ""),
            ))
            if holding:
                self._wait_for(holding, "fulfillment")
            else:
                self._lifted()
                self._move("fulfilled")
                self._timed("shipment_to_shopify", state.shipment_received_at)
        self.changed = True

    def _holding(self) -> tuple[StorefrontHold, ...]:
        """The storefront holds, other than our gates', that keep the order from the warehouse."""
        return self.ports.holds.keeping_from_warehouse(self._not_ours(self.ports.storefront.holds(self.key)))

    def _wait_for(self, holds: tuple[StorefrontHold, ...], what: str) -> None:
        """Keep the order where it is while ``holds`` stand, and look again later."""
        state = self.state
        reasons = sorted({h.reason for h in holds})
        if state.held is None or state.held.get("for") != what or state.held.get("reasons") != reasons:
            log.info("order held in the storefront (%s; %s): its %s waits until the hold is lifted",
                     ", ".join(reasons), "ours" if any(h.ours for h in holds) else "placed by another app", what,
                     extra={"order_id": self.key})
            state.held = {"for": what, "reasons": reasons, "ours": any(h.ours for h in holds),
                          "since": state.held["since"] if state.held else self.now()}
        state.hold_checks += 1
        self.sends.append(Send(self.kind, self.key, {"type": "advance", "check": state.hold_checks},
                               delay=self.ports.holds.recheck_seconds))

    def _lifted(self) -> None:
        held = self.state.held
        if held is not None:
            log.info("the storefront hold on the order is lifted after %.0f s: its %s goes on",
                     self.now() - float(held.get("since") or self.now()), held.get("for"),
                     extra={"order_id": self.key})
            self.state.held = None

    def _sync_erp(self, order: Order) -> None:
        erp = self.ports.erp
        priority = Priority.NORMAL
        if order.customer is not None:
            customer = order.customer
            version = customer_version(customer)
            records = self.ports.customers
            if not already_synced(records.get(customer.id), version, order.updated_at):
                erp.upsert_customer(customer, priority=priority)
                records.put(customer.id, synced_record(version, order.updated_at))
                # This order's ERP work has begun: its next call goes ahead of new orders' first ones.
                priority = Priority.HIGH
        erp.upsert_sales_order(order, priority=priority, pending_approval=self._pending_approval())
        # The sales order exists: payments captured for it and not booked yet are booked against it.
        new = [p.id for p in order.payments if p.id not in self.state.payments_booked]
        if new:
            erp.record_payments(order, priority=Priority.HIGH)
            self.state.payments_booked.extend(new)
        self.state.erp_at = self.now()

    def _send_to_wms(self, order: Order) -> None:
        """Create or update the order at the warehouse, then stamp its stock as allocated.

        When the warehouse will not update the order, where it stands decides: shipped,
        or passed on to a fulfilment provider, means the warehouse has it (what a step
        repeated after a crash finds); cancelled there means it will never ship, which
        is refused for an operator to look at.
        """
        wms = self.ports.wms
        hold = self._warehouse_hold_note() if self.gated else ""
        held = wms.place_order(order, held_id=self.state.wms_order_id, priority=Priority.NORMAL, hold=hold)
        self.state.wms_order_id = held.id
        if held.status == "cancelled":
            raise RejectedError(f"the WMS holds order {self.key} as cancelled, so it will not ship; reopen it in "
                                "the WMS, then retry this message", connector=wms.name, code="CANCELLED_AT_WMS")
        if hold:
            return  # on hold, the warehouse allocates nothing yet
        # Stamped after the warehouse answered: a stock read begun later counts the allocation.
        at = self.now()
        for sku in self.state.stock:
            self.sends.append(Send("inventory", sku, {"type": "allocated", "order_id": self.key, "at": at}))

    def _cancel_at_wms(self, order: Order) -> None:
        """Cancel the order at the warehouse.

        When the warehouse will not, where it stands decides: cancelled already is a step
        repeated after a crash; shipped means too late, and the goods come back as a
        return; anything else cannot be stopped from here.
        """
        wms = self.ports.wms
        held = wms.cancel_order(order, held_id=self.state.wms_order_id, priority=Priority.NORMAL)
        if held.status == "shipped":
            # The parcel is on its way. The ERP still hears of the cancellation.
            self.state.shipped_before_cancel = True
            log.warning("order cancelled after the warehouse shipped it; it needs a return",
                        extra={"order_id": self.key})
        elif held.status != "cancelled":
            raise RejectedError(f"the WMS holds order {self.key} as {held.detail or held.status} and will not "
                                "cancel it; stop it in the WMS, then retry this message", connector=wms.name,
                                code="NOT_CANCELLABLE_AT_WMS")

    def _reserve(self, order: Order) -> None:
        """Tell each SKU's inventory actor what this order takes (commit) or no longer takes (release).

        The storefront has already taken the units; the next flush must not give them back.
        """
        if not self.ports.tracks_stock:
            return
        wanted: dict[str, int] = {}
        for line in order.lines:
            if line.sku and line.requires_shipping and line.quantity > 0:
                wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
        held = self.state.stock
        for sku, quantity in wanted.items():
            if held.get(sku) != quantity:
                self.sends.append(Send("inventory", sku, {"type": "commit", "order_id": self.key,
                                                          "quantity": quantity}))
        for sku in held:
            if sku not in wanted:
                self.sends.append(Send("inventory", sku, {"type": "release", "order_id": self.key}))
        self.state.stock = wanted

    def _next(self) -> None:
        self.sends.append(Send(self.kind, self.key, {"type": "advance"}))

    def _send(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        self.sends.append(Send(kind, key, payload))

    def _place_at_wms(self, order: Order) -> None:
        self._send_to_wms(order)

    def _cancel_for_gate(self) -> None:
        """A rejected gate cancels the order: at the warehouse first, then in the ERP; Shopify keeps our holds."""
        state = self.state
        status = state.status
        if status in PAST_CANCELLING or status is None:
            return
        order = state.order
        if status == "sent_to_wms" or (status == "erp_synced" and order.needs_shipping):
            self._cancel_at_wms(order)
        if status in SYNCED:
            self.ports.erp.cancel_sales_order(order)
        for sku in state.stock:
            self.sends.append(Send("inventory", sku, {"type": "release", "order_id": self.key}))
        state.stock = {}
        state.held = None
        self._move("cancelled")

    def _move(self, new: Status) -> None:
        old = self.state.status
        if old == new:
            return
        self.state.status = new
        if new in STAMPED:
            self.state.entered[new] = self.now()
        self.notices.append(Moved(old, new))

    def _timed(self, flow: str, since: float | None) -> None:
        if since is not None:
            self.notices.append(Timed(flow, self.now() - since))
