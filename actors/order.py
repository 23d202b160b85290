"""The order actor: one per storefront order, the durable shell of ``actors.order_flow``.

The actor loads the order's state, turns each stored message into a typed one,
lets ``OrderFlow`` decide, and commits what it decided (state, messages to send,
metrics) with the message's completion. The flow itself is in ``order_flow``; the
ERP, the warehouse and the storefront are the ports it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from peppasync.store import Message, ops

from actors.customer_sync import CUSTOMER_KIND
from actors.durable import DurableActor
from actors.gate_workflows import GateSettings
from actors.order_flow import Moved, OrderFlow, OrderState, Timed, Webhook, parse_message
from actors.ports import Erp, Storefront, Wms
from actors.storefront_holds import HoldPolicy

__all__ = ["OrderActor"]


class _StoreCustomers:
    """Customer records in the store, written at once: the ERP has the customer whatever this message does next."""

    def __init__(self, actor: DurableActor) -> None:
        self._store = actor._ctx.store

    def get(self, customer_id: str) -> Mapping[str, Any] | None:
        found = self._store.get_state(CUSTOMER_KIND, customer_id)
        return found[0] if found else None

    def put(self, customer_id: str, record: Mapping[str, Any]) -> None:
        self._store.write([ops.PutState(CUSTOMER_KIND, customer_id, dict(record))])


class _ActorPorts:
    """The flow's ports, from the services the host injected (looked up when first used)."""

    def __init__(self, actor: DurableActor) -> None:
        self._actor = actor
        self.customers = _StoreCustomers(actor)

    @property
    def erp(self) -> Erp:
        erp: Erp = self._actor.service("erp")
        return erp

    @property
    def wms(self) -> Wms:
        wms: Wms = self._actor.service("warehouse")
        return wms

    @property
    def storefront(self) -> Storefront:
        storefront: Storefront = self._actor.service("storefront")
        return storefront

    @property
    def books_non_sku_lines(self) -> bool:
        erp = self._actor._ctx.services.get("erp")
        return bool(getattr(erp, "books_non_sku_lines", False))

    @property
    def known_sku(self) -> Callable[[str], bool] | None:
        catalog = self._actor._ctx.services.get("catalog")
        return catalog.known if catalog is not None else None

    @property
    def tracks_stock(self) -> bool:
        return "inventory" in self._actor._ctx.system.kinds

    @property
    def gates(self) -> GateSettings:
        settings = self._actor._ctx.services.get("gates")
        return settings if isinstance(settings, GateSettings) else GateSettings()

    @property
    def holds(self) -> HoldPolicy:
        policy = self._actor._ctx.services.get("holds")
        return policy if isinstance(policy, HoldPolicy) else HoldPolicy()


class OrderActor(DurableActor):
    """One storefront order, from webhook to fulfillment."""

    kind = "order"
    replaces_state = True  # the flow works on OrderState.from_json's copy; its to_json is the new state

    def handle(self, message: Message) -> None:
        flow = OrderFlow(self.key, OrderState.from_json(self.state), _ActorPorts(self), self.clock.time)
        parsed = parse_message(message.payload)
        flow.handle(parsed)
        if (isinstance(parsed, Webhook) and isinstance(parsed.body, dict) and not message.payload.get("margin_told")
                and "margin" in self._ctx.system.kinds):
            # The order's margin hears of what did not come through the webhook receiver (which tells
            # it directly): orders the reconciler imports, messages from before margins existed.
            kind = "refund" if parsed.topic == "refunds/create" else "sale"
            self.send("margin", self.key, {"type": kind, "body": parsed.body,
                                           "received_at": parsed.received_at or self.clock.time()})
        for send in flow.sends:
            self.send(send.kind, send.key, send.payload, delay=send.delay)
        for notice in flow.notices:
            self.on_success(partial(self._notify, notice))
        if flow.changed:
            self.state = flow.state.to_json()
            self.save_state()

    def _notify(self, notice: Moved | Timed) -> None:
        if isinstance(notice, Moved):
            self.hooks.on_state(self.kind, notice.old, notice.new)
        else:
            self.hooks.on_flow(notice.flow, notice.seconds)
