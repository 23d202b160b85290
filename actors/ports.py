"""The ports the order flow calls: the ERP, the warehouse (WMS) and the storefront.

Each is a protocol over the values of ``actors.domain``; an adapter per vendor
(``actors/adapters/``) implements it, owning the mapping to the vendor's records,
the wire format (through its connector) and the classification of failures.

The call rule, one for every port: a port is called synchronously from inside an
actor's handler, and every call is idempotent (an upsert by the storefront's ids),
so a handler repeated after a crash changes nothing twice. A port raises only
``peppasync.errors.TransientError`` (try the message again later, after
``retry_after`` when given) or ``peppasync.errors.RejectedError`` (the vendor
refused it; retrying will not help until someone changes something); any other
exception is a bug and is handled as one.

``priority`` is a ``actors.connectors.Priority`` lane: HIGH for work already
begun, NORMAL for new work, RECONCILE for repairs.
"""

from __future__ import annotations

from typing import Protocol

from actors.domain import Customer, Order, Refund, Shipment, StorefrontHold, WmsOrder

__all__ = ["Erp", "Storefront", "Wms"]


class Erp(Protocol):
    """The ERP's sales orders and customers, and the money around them: payments, refunds, returns."""

    #: The connector's name, as in metrics, logs and quarantine entries.
    name: str
    #: Whether lines without a SKU can be booked (on an item configured for them);
    #: when not, such orders are refused before the ERP is called.
    books_non_sku_lines: bool

    def upsert_customer(self, customer: Customer, *, priority: int) -> None:
        """Create or update the ERP's customer for the storefront's ``customer.id``."""

    def upsert_sales_order(self, order: Order, *, priority: int, pending_approval: bool | None = None) -> None:
        """Create or update the ERP's sales order for ``order.id``: exactly one, with exactly these lines.

        The order's customer is upserted first (``upsert_customer``); an order
        without one is booked on the ERP's guest customer. ``pending_approval``: True
        writes it waiting for approval (a build-to-order order before its finance gate),
        False approved, None as the ERP does by default.
        """

    def cancel_sales_order(self, order: Order) -> None:
        """Cancel the ERP's sales order for ``order.id``; done already is done."""

    def record_payments(self, order: Order, *, priority: int) -> None:
        """Book each of ``order.payments`` against the order's sales order (a deposit), once per payment id.

        Called after ``upsert_sales_order``; does nothing when the account books no payments.
        """

    def upsert_refund(self, order: Order, refund: Refund, *, priority: int) -> None:
        """Create or update the ERP's one credit document for ``refund.id``: its lines, shipping and amounts.

        The order's sales order exists already.
        """

    def open_return(self, order: Order, *, priority: int) -> None:
        """Open the ERP's return for ``order`` (cancelled after it shipped): exactly one per order."""


class Wms(Protocol):
    """The warehouse's orders."""

    name: str

    def place_order(self, order: Order, *, held_id: int | None, priority: int, hold: str = "") -> WmsOrder:
        """Create or update the warehouse's order for ``order.id`` (its shippable lines) to be shipped.

        ``held_id``: the warehouse's id from an earlier write, when known. When the
        warehouse will not change the order because of where it stands (shipped,
        cancelled), it is returned as it stands and the caller decides. ``hold``: the
        order is placed on hold, not to be picked, with this reason for the warehouse's staff.
        """

    def cancel_order(self, order: Order, *, held_id: int | None, priority: int) -> WmsOrder:
        """Cancel the warehouse's order for ``order.id`` (filed as cancelled if it had none).

        When the warehouse will not (shipped already), it is returned as it stands.
        """


class Storefront(Protocol):
    """The storefront's orders."""

    name: str

    def holds(self, order_id: str) -> tuple[StorefrontHold, ...]:
        """The holds on the order's fulfillment, whoever placed them; () when nothing holds it."""

    def product_tags(self, order_id: str) -> frozenset[str]:
        """The tags of the products the order's lines are of."""

    def hold(self, order_id: str, handle: str, notes: str) -> tuple[StorefrontHold, ...]:
        """Hold the order's fulfillment with our own hold, told apart by ``handle``; returns our holds.

        Holding again with the same handle changes nothing.
        """

    def release(self, order_id: str, holds: tuple[StorefrontHold, ...]) -> None:
        """Release these holds of ours, and no other: another app's holds stay."""

    def fulfill(self, order_id: str, shipment: Shipment) -> tuple[StorefrontHold, ...]:
        """Mark the order fulfilled with the shipment's tracking; done already is done.

        While the order's fulfillment is on hold nothing is fulfilled, and the holds are
        returned for the caller to try again once they are lifted; () means fulfilled.
        """
