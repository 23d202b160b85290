"""One batch of wants set on Shopify with compare-and-set, and what became of each.

The mutation is all or nothing: a quantity whose compare is stale is re-read and
retried with Shopify's current value as its compare, less the drop that value
reveals (sales not heard of yet), never above the SKU's target; the quantities
refused only because of it are sent again unchanged with it. Nothing is retried
blindly, and each attempt has its own ``@idempotent`` key derived from what it
sends, so a call repeated after a crash is applied once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from peppasync.errors import RejectedError

from actors.connectors import call
from actors.stock_ledger import Pushed

__all__ = ["ATTEMPTS", "push_batch"]

log = logging.getLogger("peppasync.inventory")

ATTEMPTS = 4
_STALE = frozenset({"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"})


@dataclass
class _Entry:
    sku: str
    item: str
    seq: int
    target: int
    believed: int | None
    quantity: int = 0
    change_from: int | None = None
    blind: bool = False
    unseen: int = 0

    def rebase(self, actual: int) -> None:
        """Compare against Shopify's ``actual``; a drop nobody told us of comes off the target.

        With no belief to compare with, all of Shopify's shortfall from the target
        may be sales not heard of yet: it is held back like any such drop (until
        orders explain it or it expires), never raised blind.
        """
        if self.believed is None:
            self.believed, self.blind = actual, True
        self.change_from = actual
        self.unseen = max(0, (self.target if self.blind else self.believed) - actual)
        self.quantity = max(0, min(self.target, actual) if self.blind else self.target - self.unseen)

    def result(self, value: int | None, error: str = "") -> tuple[str, int, Pushed]:
        return self.sku, self.seq, Pushed(self.seq, value, self.unseen, error, self.blind)


def push_batch(shopify: Any, wants: Iterable[Mapping[str, Any]], batch_id: str) -> list[tuple[str, int, Pushed]]:
    """Set at most 250 wants (``sku, item, seq, quantity, change_from``) with ``shopify``; (sku, seq, result) each.

    ``shopify`` needs ``set_available`` and ``available`` as on ``ShopifyConnector``.
    A transient failure raises ``TransientError`` (the whole flush is retried with
    the same keys); a refusal of the whole call is reported per want.
    """
    batch = [_Entry(str(w["sku"]), str(w["item"]), int(w["seq"]), int(w["quantity"]),
                    None if w.get("change_from") is None else int(w["change_from"])) for w in wants]
    done: list[tuple[str, int, Pushed]] = []
    known = [e for e in batch if e.believed is not None]
    for e in known:
        e.change_from, e.quantity = e.believed, e.target
    # A SKU that has never seen Shopify's number: read it first, then compare against it.
    todo = _read_back(shopify, [e for e in batch if e.believed is None], done) + known
    for attempt in range(ATTEMPTS):
        if not todo:
            return done
        rows = [(e.item, e.quantity, e.change_from) for e in todo]
        digest = hashlib.sha256(json.dumps([batch_id, attempt, rows]).encode()).hexdigest()
        try:
            results = call("shopify", shopify.set_available, rows, f"peppasync-stock-{digest[:32]}")
        except RejectedError as exc:
            log.error("Shopify refused a stock batch", extra={"error": str(exc), "items": len(todo)})
            done.extend(e.result(None, exc.code or "REJECTED") for e in todo)
            return done
        stale: list[_Entry] = []
        again: list[_Entry] = []
        for e, outcome in zip(todo, results):
            if outcome.applied:
                done.append(e.result(e.quantity))
            elif outcome.code in _STALE:
                stale.append(e)
            elif outcome.code == "NOT_APPLIED":
                again.append(e)
            else:
                log.warning("Shopify refused a stock update",
                            extra={"sku": e.sku, "code": outcome.code, "error": outcome.message})
                done.append(e.result(None, outcome.code))
        todo = again + _read_back(shopify, stale, done)
    # Still racing after every attempt: report what Shopify showed; the SKU asks again.
    done.extend(e.result(e.change_from) for e in todo)
    return done


def _read_back(shopify: Any, entries: list[_Entry], done: list[tuple[str, int, Pushed]]) -> list[_Entry]:
    if not entries:
        return []
    actual = call("shopify", shopify.available, [e.item for e in entries])
    ready = []
    for e in entries:
        value = actual.get(e.item)
        if value is None:
            done.append(e.result(None, "ITEM_NOT_STOCKED_AT_LOCATION"))
        else:
            e.rebase(int(value))
            ready.append(e)
    return ready
