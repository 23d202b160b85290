"""The SKU catalogue: which SKUs Shopify sells, so orders are validated before the ERP is called.

Answers come from Shopify's ``productVariants`` through the Shopify connector
and are cached; an unknown SKU is asked again after ``negative_ttl`` seconds,
so a product created during a sale is accepted soon after.
"""

from __future__ import annotations

from typing import Any, Iterable

from peppasync.clock import Clock

__all__ = ["Catalog"]


class Catalog:
    """SKU -> inventory item id, filled on demand."""

    def __init__(self, shopify: Any, clock: Clock, *, negative_ttl: float = 60.0) -> None:
        self._shopify = shopify
        self._clock = clock
        self._negative_ttl = negative_ttl
        self._items: dict[str, str] = {}
        self._unknown: dict[str, float] = {}

    def preload(self, skus: Iterable[str]) -> None:
        """Look up many SKUs in one go (a few GraphQL calls instead of one per SKU)."""
        wanted = [s for s in set(skus) if s and s not in self._items]
        if wanted:
            self._learn(wanted)

    def known(self, sku: str) -> bool:
        if sku in self._items:
            return True
        checked = self._unknown.get(sku)
        if checked is not None and self._clock.monotonic() - checked < self._negative_ttl:
            return False
        self._learn([sku])
        return sku in self._items

    def skus(self) -> list[str]:
        """Every SKU found in Shopify so far."""
        return sorted(self._items)

    def inventory_item(self, sku: str) -> str | None:
        return self._items.get(sku) if self.known(sku) else None

    def _learn(self, skus: list[str]) -> None:
        found = self._shopify.variants_by_sku(skus)
        now = self._clock.monotonic()
        for sku in skus:
            item = found.get(sku)
            if item:
                self._items[sku] = str(item)
                self._unknown.pop(sku, None)
            else:
                self._unknown[sku] = now
