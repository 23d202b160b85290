"""The stock sweep: Shopify's ``available`` for the SKUs the inventory actors keep, 50 a step.

Each SKU's number is compared with what its actor computed. A difference seen on
two sweeps in a row (one sweep's worth is a sale whose webhook is on its way) is
drift: the SKU actor is told what Shopify shows and sets it right. A push that
has waited for its result over two sweeps is given up, so the SKU asks again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.connectors import Priority, call
from actors.stock_ledger import StockLedger

if TYPE_CHECKING:
    from actors.reconciler import ReconcilerActor, Settings

__all__ = ["StockSweep"]

_PER_STEP = 50  # SKUs per step: one aliased read (about 150 points)


class StockSweep:
    """Walks the catalogue's SKUs in order, one read of Shopify's levels a step."""

    name = "stock"
    needs: tuple[str, ...] = ("shopify", "catalog", "inventory")

    def __init__(self, actor: ReconcilerActor, settings: Settings) -> None:
        self._actor = actor
        self._settings = settings

    def begin(self, progress: dict[str, Any], now: float) -> None:
        progress["offset"] = 0

    def step(self, progress: dict[str, Any], now: float) -> bool:
        """One chunk of SKUs; True when the chunk was the catalogue's last."""
        actor = self._actor
        skus = sorted(actor.service("catalog").skus())
        offset = int(progress["offset"])
        chunk = skus[offset:offset + _PER_STEP]
        previous: dict[str, list[Any]] = actor.state.setdefault("stock", {})
        if offset == 0:
            for gone in set(previous) - set(skus):
                del previous[gone]
        ledgers: dict[str, StockLedger] = {}
        for sku in chunk:
            found = actor.store.get_state("inventory", sku)
            if found is not None and found[0].get("item") and not actor.has_pending("inventory", sku):
                ledgers[sku] = StockLedger(sku, found[0])
        shown = (call("shopify", actor.service("shopify").available,
                      [ledger.state["item"] for ledger in ledgers.values()], priority=Priority.RECONCILE)
                 if ledgers else {})
        settings = actor.service("inventory")
        for sku in chunk:
            ledger = ledgers.get(sku)
            seen = self._look(ledger, shown, previous.get(sku), settings) if ledger is not None else None
            if seen is None:
                previous.pop(sku, None)
            else:
                previous[sku] = seen
        progress["offset"] = offset + _PER_STEP
        return bool(progress["offset"] >= len(skus))

    def _look(self, ledger: StockLedger, shown: dict[Any, int | None], before: list[Any] | None,
              settings: Any) -> list[Any] | None:
        """What to remember of the SKU for the next sweep (None: nothing), telling its actor when needed."""
        actor = self._actor
        sku, seq = ledger.sku, int(ledger.state["seq"])
        if ledger.in_flight:
            if before == ["in_flight", seq]:
                actor.send("inventory", sku, {"type": "nudge", "seq": seq})
                return None
            return ["in_flight", seq]
        actual = shown.get(ledger.state["item"])
        target = ledger.sellable(settings.buffer(sku))
        if actual is None or target is None or (actual == target and actual == ledger.belief):
            return None
        mismatch = ["drift", seq, actual]
        if before != mismatch:
            return mismatch
        actor.send("inventory", sku, {"type": "observed", "available": actual, "seq": seq})
        actor.on_success(lambda: actor.hooks.on_repair("stock_drift"))
        return None
