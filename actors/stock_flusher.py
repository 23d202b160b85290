"""The stock flusher: the wants of every SKU, coalesced and set in batches on Shopify.

One actor (key ``main``) per shop. SKU actors send it *wants*; a newer want of a
SKU replaces the pending one (latest wins). A want that finds the last flush
``flush_interval`` ago or more (or completes a full batch) is flushed at once;
otherwise a timer flushes what has gathered when the interval is up. Wants go in
``inventorySetQuantities`` calls of up to 250 quantities, each with
``changeFromQuantity`` = what the SKU believes Shopify shows and an ``@idempotent``
key derived from the batch, so a retried call is applied once. The connector's
cost-bucket limiter makes calls wait instead of being THROTTLED.

Each SKU hears back what Shopify now shows (``actors.stock_push`` does the calls).
"""

from __future__ import annotations

from typing import Any

import gevent

from peppasync.errors import ValidationError
from peppasync.store import Message

from actors.durable import DurableActor
from actors.inventory import InventoryActor, InventorySettings
from actors.stock_push import push_batch

__all__ = ["StockFlusherActor"]

class StockFlusherActor(DurableActor):
    """Coalesces wants per SKU and flushes them to Shopify in batches."""

    kind = "stock_flusher"
    singleton = True
    # Copy on write: a want copies the pending dict's references, not (as a snapshot before
    # every message would) every pending want of a surge.
    replaces_state = True

    def loaded(self) -> None:
        # SKU -> seq of the last want flushed. A want made before its SKU heard
        # that result is outdated (it compares against an old belief): dropped,
        # the SKU asks again once it has the result. Lost on restart, where a
        # stale compare does the same job at the cost of one read.
        self._stock_flushed: dict[str, int] = {}
        self._stock_timer: gevent.Greenlet | None = None
        if self.state.get("pending"):
            self._stock_arm(self.service("inventory").flush_interval)  # wants a previous process held

    def _stock_arm(self, delay: float) -> None:
        # A timer, not a delayed message: a delayed message would hold back the
        # wants behind it in the mailbox, and they would miss the flush it starts.
        # Pending wants are in the state, so a timer lost in a crash costs a flush
        # interval (the next want or activation flushes them), not a want.
        if self._stock_timer is None or self._stock_timer.dead:
            self._stock_timer = gevent.spawn_later(
                max(0.0, delay), self._ctx.system.tell, self.kind, self.key, {"type": "flush"})

    def handle(self, message: Message) -> None:
        payload = message.payload
        kind = payload.get("type")
        settings: InventorySettings = self.service("inventory")
        pending: dict[str, dict[str, Any]] = self.state.get("pending") or {}
        if kind == "want":
            sku = str(payload.get("sku") or "")
            if not sku or not payload.get("item"):
                raise ValidationError("a want needs a sku and an inventory item", field="sku")
            seq, acked = int(payload["seq"]), int(payload["acked"])
            if acked < self._stock_flushed.get(sku, 0) or seq <= int(pending.get(sku, {}).get("seq", 0)):
                return
            pending = {**pending, sku: {k: payload[k] for k in ("item", "seq", "quantity", "change_from")}}
            self.state["pending"] = pending
            since = self.clock.monotonic() - float(self.state.get("flushed_at", float("-inf")))
            if len(pending) >= settings.max_per_call or since >= settings.flush_interval:
                self._stock_flush(message.id, settings)
            else:
                self._stock_arm(settings.flush_interval - since)
        elif kind == "flush":
            if pending:
                self._stock_flush(message.id, settings)
        else:
            raise ValidationError(f"stock flusher message of unknown type {kind!r}", field="type")
        self.save_state()

    def _stock_flush(self, message_id: int, settings: InventorySettings) -> None:
        pending: dict[str, dict[str, Any]] = self.state["pending"]
        entries = [{"sku": sku, **want} for sku, want in sorted(pending.items())]
        self.state["pending"] = {}
        self.state["flushed_at"] = self.clock.monotonic()
        size = settings.max_per_call
        for n, start in enumerate(range(0, len(entries), size)):
            self._stock_push(entries[start:start + size], f"{message_id}:{n}")

    def _stock_push(self, batch: list[dict[str, Any]], batch_id: str) -> None:
        for sku, seq, pushed in push_batch(self.service("shopify"), batch, batch_id):
            self._stock_flushed[sku] = seq
            payload: dict[str, Any] = {"type": "pushed", "seq": seq, "value": pushed.value, "unseen": pushed.unseen}
            if pushed.error:
                payload["error"] = pushed.error
            if pushed.blind:
                payload["blind"] = True
            self.send(InventoryActor.kind, sku, payload)
