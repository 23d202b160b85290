"""The SKU catalogue: which SKUs Shopify sells, so orders are validated before the ERP is called.

Answers come from Shopify's ``productVariants`` through the Shopify connector
and are cached; an unknown SKU is asked again after ``negative_ttl`` seconds,
so a product created during a sale is accepted soon after. Questions asked in
the same moment share one lookup: when a burst of new orders names the same
few hundred SKUs, Shopify is asked once per SKU, in calls of many SKUs, not
once per order line (which would empty the GraphQL cost bucket for minutes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gevent
from gevent.event import AsyncResult

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
        self._asked: dict[str, AsyncResult] = {}  # SKU -> the lookup that will answer it
        self._queue: list[str] = []
        self._asker: gevent.Greenlet | None = None

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
        """Wait for an answer on each SKU; a lookup already under way for one is shared."""
        pending: list[AsyncResult] = []
        for sku in dict.fromkeys(skus):
            answer = self._asked.get(sku)
            if answer is None:
                answer = self._asked[sku] = AsyncResult()
                self._queue.append(sku)
            pending.append(answer)
        if self._queue and self._asker is None:
            self._asker = gevent.spawn(self._ask)
        for answer in pending:
            answer.get()  # raises what the lookup raised (a transient error: the caller retries)

    def _ask(self) -> None:
        try:
            gevent.sleep(0)  # let the questions of this moment gather
            while self._queue:
                batch, self._queue = self._queue, []
                answers = {sku: self._asked[sku] for sku in batch}
                try:
                    found = self._shopify.variants_by_sku(batch)
                except BaseException as exc:
                    for sku, answer in answers.items():
                        self._asked.pop(sku, None)
                        answer.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                now = self._clock.monotonic()
                for sku, answer in answers.items():
                    item = found.get(sku)
                    if item:
                        self._items[sku] = str(item)
                        self._unknown.pop(sku, None)
                    else:
                        self._unknown[sku] = now
                    self._asked.pop(sku, None)
                    answer.set(None)
        finally:
            self._asker = None
            if self._queue:
                self._asker = gevent.spawn(self._ask)
