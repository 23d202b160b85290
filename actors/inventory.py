"""The inventory actor: one per SKU, keeping Shopify's sellable quantity true.

It hears of stock from the WMS feed, of orders from the order actors (commit
when an order arrives, allocated when the WMS has it, release when it is
cancelled, restocked when a refund put units back in Shopify's stock), and of
its pushes from the flusher. After each message it asks the
ledger (``actors.stock_ledger``) whether Shopify needs a new number and, if so,
sends a *want* to the one flusher, which batches the wants of every SKU into
``inventorySetQuantities`` calls. A SKU actor alone cannot batch across SKUs;
the flusher can, and it is the only writer of Shopify's quantities, so no two
pushes for one SKU ever race.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from peppasync.errors import ValidationError
from peppasync.store import Message

from actors.durable import DurableActor
from actors.stock_ledger import Pushed, StockLedger

__all__ = ["FLUSHER", "InventoryActor", "InventorySettings"]

log = logging.getLogger("peppasync.inventory")

FLUSHER = ("stock_flusher", "main")

#: A SKU that keeps overselling (a shop that sells past zero) logs once per this many seconds.
OVERSELL_LOG_INTERVAL = 60.0


@dataclass(frozen=True)
class InventorySettings:
    """What the inventory actors read from ``[inventory]``.

    ``unseen_ttl`` bounds how long a drop in Shopify's quantity that no order
    explains is held back as probable sales whose webhooks are still on the way.
    """

    default_buffer: int = 0
    buffers: Mapping[str, int] = field(default_factory=dict)
    poll_interval: float = 5.0
    flush_interval: float = 1.0
    unseen_ttl: float = 120.0
    max_per_call: int = 250

    def __post_init__(self) -> None:
        if self.default_buffer < 0 or any(v < 0 for v in self.buffers.values()):
            raise ValueError("inventory buffers must be non-negative")
        if self.poll_interval <= 0 or self.flush_interval <= 0 or self.unseen_ttl <= 0:
            raise ValueError("inventory intervals must be positive")
        if not 1 <= self.max_per_call <= 250:
            raise ValueError(f"max_per_call must be within 1..250 (Shopify's input limit), got {self.max_per_call}")

    def buffer(self, sku: str) -> int:
        return int(self.buffers.get(sku, self.default_buffer))


def _int(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"inventory message needs an integer {name}, got {value!r}", field=name)
    return value


class InventoryActor(DurableActor):
    """One SKU: its ledger, its wants, its oversell and lag events."""

    kind = "inventory"
    # Every order line commits here: the ledger puts new values (``StockLedger``) rather than
    # the actor taking a deep copy of the SKU's open orders before each message.
    replaces_state = True

    def loaded(self) -> None:
        self._stock_oversell_logged_at: float | None = None
        self._stock_oversold_orders = 0  # since the last line logged
        self._stock_oversold_units = 0

    def handle(self, message: Message) -> None:
        payload = message.payload
        kind = payload.get("type")
        ledger = StockLedger(self.key, self.state)
        settings: InventorySettings = self.service("inventory")
        now = self.clock.time()
        if kind == "stock":
            changed_at = payload.get("changed_at")
            ledger.stock(_int(payload, "on_hand"), _int(payload, "allocated"), float(payload["as_of"]),
                         float(changed_at) if changed_at is not None else None)
        elif kind == "commit":
            self._stock_commit(ledger, str(payload["order_id"]), _int(payload, "quantity"))
        elif kind == "release":
            ledger.release(str(payload["order_id"]))
        elif kind == "allocated":
            ledger.allocated(str(payload["order_id"]), float(payload["at"]))
        elif kind == "restocked":
            ledger.restocked(_int(payload, "quantity"))
        elif kind == "pushed":
            self._stock_pushed(ledger, payload, now)
        elif kind == "observed":
            if ledger.observed(_int(payload, "available"), _int(payload, "seq")):
                log.info("Shopify's stock had drifted; setting it right", extra={"sku": self.key})
        elif kind == "nudge":
            if ledger.abandon(_int(payload, "seq")):
                log.warning("a stock push got no answer; asking again", extra={"sku": self.key})
        elif kind == "expire":
            self.state["expiry_scheduled"] = False
        else:
            raise ValidationError(f"inventory message of unknown type {kind!r}", field="type")
        if ledger.expire(now, settings.unseen_ttl):
            log.info("unexplained drop in Shopify stock expired", extra={"sku": self.key})
        elif ledger.unseen:
            self._stock_expiry(ledger, settings)
        self._stock_want(ledger, settings)
        self.save_state()

    def _stock_commit(self, ledger: StockLedger, order_id: str, quantity: int) -> None:
        short = ledger.commit(order_id, quantity)
        if short:
            self.on_success(lambda: self.hooks.on_oversell(self.kind, short))
            self.on_success(lambda: self._stock_log_oversell(order_id, short))

    def _stock_log_oversell(self, order_id: str, units: int) -> None:
        # Every oversell is counted (oversells_total); the log says so once a
        # minute per SKU, with what it held back, not once per order.
        self._stock_oversold_orders += 1
        self._stock_oversold_units += units
        now = self.clock.monotonic()
        last = self._stock_oversell_logged_at
        if last is not None and now - last < OVERSELL_LOG_INTERVAL:
            return
        log.warning("oversell: Shopify accepted orders beyond the stock there was",
                    extra={"sku": self.key, "order_id": order_id, "orders": self._stock_oversold_orders,
                           "units": self._stock_oversold_units,
                           "since_seconds": None if last is None else round(now - last, 1)})
        self._stock_oversell_logged_at = now
        self._stock_oversold_orders = self._stock_oversold_units = 0

    def _stock_pushed(self, ledger: StockLedger, payload: dict[str, Any], now: float) -> None:
        value = payload.get("value")
        result = Pushed(_int(payload, "seq"), None if value is None else int(value),
                        int(payload.get("unseen") or 0), str(payload.get("error") or ""),
                        bool(payload.get("blind")))
        if result.error:
            log.warning("Shopify refused a stock update", extra={"sku": self.key, "code": result.error})
        lag = ledger.pushed(result, now)
        if lag is not None:
            self.on_success(lambda: self.hooks.on_flow("stock_to_shopify", lag))

    def _stock_expiry(self, ledger: StockLedger, settings: InventorySettings) -> None:
        if not self.state.get("expiry_scheduled"):
            self.state["expiry_scheduled"] = True
            self.send(self.kind, self.key, {"type": "expire"}, delay=settings.unseen_ttl)

    def _stock_want(self, ledger: StockLedger, settings: InventorySettings) -> None:
        want = ledger.want(settings.buffer(self.key))
        if want is None:
            return
        item = self.state.get("item")
        if not item:
            item = self.service("catalog").inventory_item(self.key)
            if item is None:
                # Shopify does not sell this SKU (or not yet): nothing to set.
                ledger.pushed(Pushed(want.seq, None, error="UNKNOWN_SKU"), self.clock.time())
                return
            self.state["item"] = item
        self.send(*FLUSHER, {"type": "want", "item": item, **want.as_payload()})
