"""The stock flusher: the wants of every SKU, coalesced and set in batches on Shopify.

One actor (key ``main``) per shop. SKU actors send it *wants*; a newer want of a
SKU replaces the pending one (latest wins). ``flush_interval`` after the first
want of a round (or at once when a full batch is waiting) it sends them in
``inventorySetQuantities`` calls of up to 250 quantities, each with
``changeFromQuantity`` = what the SKU believes Shopify shows and an ``@idempotent``
key derived from the batch, so a retried call is applied once. The connector's
cost-bucket limiter makes calls wait instead of being THROTTLED.

The mutation is all or nothing: a quantity whose compare is stale is re-read
and retried with Shopify's current value (less the sales that value reveals,
never above the SKU's target); the others, refused only because of it, are
sent again unchanged with it. Each SKU hears back what Shopify now shows.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from peppasync.errors import RejectedError, ValidationError
from peppasync.store import Message

from actors.durable import DurableActor
from actors.inventory import InventoryActor, InventorySettings
from actors.order import call

__all__ = ["StockFlusherActor"]

log = logging.getLogger("peppasync.inventory")

_STALE = frozenset({"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"})
_ATTEMPTS = 4


@dataclass
class _Entry:
    sku: str
    item: str
    seq: int
    target: int
    believed: int | None
    quantity: int = 0
    change_from: int | None = None

    def rebase(self, actual: int) -> None:
        """Compare against Shopify's ``actual``; a drop nobody told us of comes off the target."""
        if self.believed is None:
            self.believed = actual
        self.change_from = actual
        self.quantity = max(0, self.target - max(0, self.believed - actual))

    @property
    def unseen(self) -> int:
        if self.believed is None or self.change_from is None:
            return 0
        return max(0, self.believed - self.change_from)


class StockFlusherActor(DurableActor):
    """Coalesces wants per SKU and flushes them to Shopify in batches."""

    kind = "stock_flusher"

    def loaded(self) -> None:
        # SKU -> seq of the last want flushed. A want made before its SKU heard
        # that result is outdated (it compares against an old belief): dropped,
        # the SKU asks again once it has the result. Lost on restart, where a
        # stale compare does the same job at the cost of one read.
        self._flushed: dict[str, int] = {}

    def handle(self, message: Message) -> None:
        payload = message.payload
        kind = payload.get("type")
        settings: InventorySettings = self.service("inventory")
        pending: dict[str, dict[str, Any]] = self.state.setdefault("pending", {})
        if kind == "want":
            sku = str(payload.get("sku") or "")
            if not sku or not payload.get("item"):
                raise ValidationError("a want needs a sku and an inventory item", field="sku")
            seq, acked = int(payload["seq"]), int(payload["acked"])
            if acked < self._flushed.get(sku, 0) or seq <= int(pending.get(sku, {}).get("seq", 0)):
                return
            pending[sku] = {k: payload[k] for k in ("item", "seq", "quantity", "change_from")}
            if len(pending) >= settings.max_per_call:
                self._flush(message.id, settings)
            elif not self.state.get("scheduled"):
                self.state["scheduled"] = True
                self.send(self.kind, self.key, {"type": "flush"}, delay=settings.flush_interval)
        elif kind == "flush":
            self.state["scheduled"] = False
            self._flush(message.id, settings)
        else:
            raise ValidationError(f"stock flusher message of unknown type {kind!r}", field="type")
        self.save_state()

    def _flush(self, message_id: int, settings: InventorySettings) -> None:
        pending: dict[str, dict[str, Any]] = self.state["pending"]
        entries = [_Entry(sku, str(w["item"]), int(w["seq"]), int(w["quantity"]),
                          None if w["change_from"] is None else int(w["change_from"]))
                   for sku, w in sorted(pending.items())]
        self.state["pending"] = {}
        size = settings.max_per_call
        for n, start in enumerate(range(0, len(entries), size)):
            self._push(entries[start:start + size], f"{message_id}:{n}")

    def _push(self, batch: list[_Entry], batch_id: str) -> None:
        shopify = self.service("shopify")
        unknown = [e for e in batch if e.believed is None]
        for e in batch:
            if e.believed is not None:
                e.change_from, e.quantity = e.believed, e.target
        todo = self._reread(shopify, unknown, batch) + [e for e in batch if e.believed is not None]
        for attempt in range(_ATTEMPTS):
            if not todo:
                return
            rows = [(e.item, e.quantity, e.change_from) for e in todo]
            digest = hashlib.sha256(json.dumps([batch_id, attempt, rows]).encode()).hexdigest()
            try:
                results = call("shopify", shopify.set_available, rows, f"peppasync-stock-{digest[:32]}")
            except RejectedError as exc:
                log.error("Shopify refused a stock batch", extra={"error": str(exc), "items": len(todo)})
                for e in todo:
                    self._tell(e, None, error=exc.code or "REJECTED")
                return
            stale: list[_Entry] = []
            again: list[_Entry] = []
            for e, result in zip(todo, results):
                if result.applied:
                    self._tell(e, e.quantity)
                elif result.code in _STALE:
                    stale.append(e)
                elif result.code == "NOT_APPLIED":
                    again.append(e)
                else:
                    log.warning("Shopify refused a stock update", extra={"sku": e.sku, "code": result.code,
                                                                          "error": result.message})
                    self._tell(e, None, error=result.code)
            todo = again + self._reread(shopify, stale, batch)
        for e in todo:
            # Still racing after every attempt: report what Shopify showed; the SKU asks again.
            self._tell(e, e.change_from)

    def _reread(self, shopify: Any, entries: list[_Entry], batch: list[_Entry]) -> list[_Entry]:
        if not entries:
            return []
        actual = call("shopify", shopify.available, [e.item for e in entries])
        ready = []
        for e in entries:
            value = actual.get(e.item)
            if value is None:
                self._tell(e, None, error="ITEM_NOT_STOCKED_AT_LOCATION")
            else:
                e.rebase(int(value))
                ready.append(e)
        return ready

    def _tell(self, e: _Entry, value: int | None, *, error: str = "") -> None:
        self._flushed[e.sku] = e.seq
        payload: dict[str, Any] = {"type": "pushed", "seq": e.seq, "value": value, "unseen": e.unseen}
        if error:
            payload["error"] = error
        self.send(InventoryActor.kind, e.sku, payload)
