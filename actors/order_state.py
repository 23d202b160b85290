"""What an order actor keeps: its status and the state it saves, as JSON, between messages.

State written by earlier versions loads: every key has a default, and keys this version
does not know are kept as they were.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from actors.domain import Order

__all__ = ["PAST_CANCELLING", "PAST_SHIPPING", "STAMPED", "SYNCED", "OrderState", "Status"]

Status = Literal["received", "erp_synced", "sent_to_wms", "shipped", "fulfilled", "cancelled"]
#: In the ERP, and maybe at the warehouse: a changed order is synced again.
SYNCED: tuple[Status, ...] = ("erp_synced", "sent_to_wms")
#: On its way or delivered.
PAST_SHIPPING: tuple[Status, ...] = ("shipped", "fulfilled")
#: Too late to cancel: cancelled already, or on its way.
PAST_CANCELLING: tuple[Status, ...] = ("cancelled", "shipped", "fulfilled")
#: When the order entered each status is kept as ``<status>_at``; for ``received`` that
#: key is ``received_at``, the time its first event arrived, which entering does not move.
STAMPED: tuple[Status, ...] = ("erp_synced", "sent_to_wms", "shipped", "fulfilled", "cancelled")


@dataclass
class OrderState:
    """What an order actor keeps; stored as JSON under the keys ``to_json`` writes."""

    status: Status | None = None
    # The order as ``normalise_order`` left it (``Order.from_record`` reads it); for a
    # cancellation the engine had not seen before, the raw body.
    record: dict[str, Any] | None = None
    received_at: float | None = None
    events: list[str] = field(default_factory=list)
    # The units of each SKU this order holds (told to the inventory actors).
    stock: dict[str, int] = field(default_factory=dict)
    resync: bool = False
    wms_order_id: int | None = None
    shipment: dict[str, Any] | None = None
    shipment_received_at: float | None = None
    erp_at: float | None = None
    shipped_before_cancel: bool = False
    # The storefront refunds booked in the ERP, by id; the payments, by ``Payment.id``.
    refunds: list[str] = field(default_factory=list)
    payments_booked: list[str] = field(default_factory=list)
    # Refunds that came before the order's sales order was in the ERP, as their webhooks were
    # (``topic``, ``body``, ``received_at``): each is handled again once the sales order is.
    refunds_waiting: list[dict[str, Any]] = field(default_factory=list)
    # Whether the ERP has a return open for goods shipped before a cancellation.
    return_opened: bool = False
    # When the order entered each status after ``received``.
    entered: dict[str, float] = field(default_factory=dict)
    # While a storefront hold keeps the order waiting: for what ("warehouse" or "fulfillment"),
    # the holds' reasons, whether any is ours, since when. ``hold_checks`` counts the looks
    # scheduled, so that only the latest one acts.
    held: dict[str, Any] | None = None
    hold_checks: int = 0
    # A build-to-order order's gates (``actors.order_gates``): its workflow, the gates, those passed,
    # a rejection, our Shopify holds, whether the ERP approved it and whether it was let go.
    gates: dict[str, Any] | None = None
    # Keys this version does not know, kept as they were.
    other: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("status", "order", "received_at", "events", "stock", "resync", "wms_order_id", "shipment",
             "shipment_received_at", "erp_at", "shipped_before_cancel", "refunds_booked", "return_opened",
             "payments_booked", "refunds_waiting", "held", "hold_checks", "gates")

    @classmethod
    def from_json(cls, saved: Mapping[str, Any]) -> OrderState:
        entered: dict[str, float] = {s: float(saved[f"{s}_at"]) for s in STAMPED if saved.get(f"{s}_at") is not None}
        known = set(cls._KEYS) | {f"{s}_at" for s in STAMPED}
        return cls(
            status=saved.get("status"),
            record=saved.get("order"),
            received_at=saved.get("received_at"),
            events=list(saved.get("events") or []),
            stock=dict(saved.get("stock") or {}),
            resync=bool(saved.get("resync")),
            wms_order_id=saved.get("wms_order_id"),
            shipment=saved.get("shipment"),
            shipment_received_at=saved.get("shipment_received_at"),
            erp_at=saved.get("erp_at"),
            shipped_before_cancel=bool(saved.get("shipped_before_cancel")),
            refunds=[str(r) for r in saved.get("refunds_booked") or []],
            return_opened=bool(saved.get("return_opened")),
            payments_booked=[str(p) for p in saved.get("payments_booked") or []],
            refunds_waiting=[dict(r) for r in saved.get("refunds_waiting") or []],
            entered=entered,
            held=saved.get("held"),
            hold_checks=int(saved.get("hold_checks") or 0),
            # The gate news edits it in place (the order actor replaces its state, never edits it).
            gates=copy.deepcopy(saved.get("gates")),
            other={k: v for k, v in saved.items() if k not in known},
        )

    def to_json(self) -> dict[str, Any]:
        saved: dict[str, Any] = dict(self.other)
        values = {
            "status": self.status, "order": self.record, "received_at": self.received_at,
            "events": self.events, "stock": self.stock, "resync": self.resync or None,
            "wms_order_id": self.wms_order_id, "shipment": self.shipment,
            "shipment_received_at": self.shipment_received_at, "erp_at": self.erp_at,
            "shipped_before_cancel": self.shipped_before_cancel or None,
            "refunds_booked": self.refunds, "return_opened": self.return_opened or None,
            "payments_booked": self.payments_booked,
            "refunds_waiting": self.refunds_waiting, "held": self.held, "hold_checks": self.hold_checks or None,
            "gates": self.gates,
        }
        saved.update({k: v for k, v in values.items() if v is not None and v != [] and v != {}})
        if self.status is not None:
            saved["stock"] = self.stock  # an empty holding is a holding
        saved.update({f"{s}_at": at for s, at in self.entered.items()})
        return saved

    @property
    def order(self) -> Order:
        if self.record is None:
            raise ValueError("this order has no record yet")
        return Order.from_record(self.record)
