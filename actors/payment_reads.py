"""Payment fees, read from the storefront in batches in the background.

Every paid order's margin asks for its charges and their fees once. Under a sale that is
hundreds of asks a second; one storefront call each spent a tenth of the engine's CPU on
HTTP round trips while the orders themselves were coming in. An ask waits up to
``linger`` seconds for others to share its read, and a read takes up to ``batch`` orders
(``actors.adapters.ShopifyPayments`` puts them in one GraphQL document). The answer goes
to each asker's callback: the order's charges, None when the storefront has no such
order, or the exception that failed the read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

import gevent
import gevent.event

from actors.margin_model import Transaction

__all__ = ["Charges", "PaymentReads", "Payments"]

log = logging.getLogger("peppasync.actors")

#: What an asker is told: the charges, None (no such order), or why the read failed.
Charges = tuple[Transaction, ...] | None | Exception


class Payments(Protocol):
    """The storefront's side: the charges of several orders in as few calls as it allows."""

    def charges(self, order_ids: Sequence[str]) -> dict[str, tuple[Transaction, ...] | None]: ...


class PaymentReads:
    """Batches asks for orders' charges into reads of up to ``batch`` orders."""

    def __init__(self, payments: Payments, *, batch: int = 50, linger: float = 0.5) -> None:
        if batch < 1 or linger < 0:
            raise ValueError(f"batch must be at least 1 and linger not negative, got {batch} and {linger}")
        self._payments = payments
        self._batch = batch
        self._linger = linger
        self._asked: dict[str, list[Callable[[Charges], None]]] = {}
        self._full = gevent.event.Event()
        self._collector: gevent.Greenlet | None = None

    def ask(self, order_id: str, then: Callable[[Charges], None]) -> None:
        """Read the order's charges soon, with others asked meanwhile; ``then`` gets the answer."""
        self._asked.setdefault(order_id, []).append(then)
        if len(self._asked) >= self._batch:
            self._full.set()
        if self._collector is None:
            self._collector = gevent.spawn(self._collect)

    def _collect(self) -> None:
        try:
            while self._asked:
                if len(self._asked) < self._batch:
                    self._full.wait(self._linger)
                self._full.clear()
                taken = list(self._asked)[:self._batch]
                gevent.spawn(self._read, {order_id: self._asked.pop(order_id) for order_id in taken})
        finally:
            self._collector = None

    def _read(self, asked: dict[str, list[Callable[[Charges], None]]]) -> None:
        answers: dict[str, Charges]
        try:
            answers = dict(self._payments.charges(list(asked)))
        except Exception as exc:
            log.warning("payment fees not read", extra={"orders": len(asked), "error": str(exc)})
            answers = dict.fromkeys(asked, exc)
        for order_id, thens in asked.items():
            for then in thens:
                then(answers.get(order_id))
