"""WmsInventoryConnector: stock levels from ShipStation V2's inventory API (``GET /v2/inventory``).

ShipStation V1, where orders and shipments live, has no inventory resource. V2
has its own base URL and auth (an ``API-Key`` header), a limit of 200 requests
a minute by default (429 with ``Retry-After`` beyond it, and no header that
reports what is left), and no modified-since filter: a read pages through every
level, following ``links.next.href``. Sources: ``peppasync/contracts/shipstation.json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from peppasync.config import WmsConfig
from peppasync.retry import RetryPolicy

from .aimd import AimdLimit
from .bucket import CostBucket
from .connector import Connector
from .failure import TransientFailure, classify_status
from .hooks import ConnectorHooks
from .limiter import Priority

__all__ = ["StockLevel", "WmsInventoryConnector"]

_SECONDS_PER_WINDOW = 60.0
# A read never follows more pages than this: a server whose links loop cannot hold a feed forever.
_MAX_PAGES = 10_000


@dataclass(frozen=True)
class StockLevel:
    """One SKU's units across the rows (locations, warehouses) the WMS reported."""

    on_hand: int
    allocated: int


class WmsInventoryConnector(Connector):
    """One ShipStation V2 account: ``API-Key`` auth, a client-side request budget, linked pages."""

    def __init__(
        self,
        config: WmsConfig,
        *,
        name: str = "wms_inventory",
        limit: AimdLimit | None = None,
        retry: RetryPolicy | None = None,
        hooks: ConnectorHooks | None = None,
        timeout: tuple[float, float] = (3.05, 30.0),
        session: requests.Session | None = None,
    ) -> None:
        if not config.inventory_api_key:
            raise ValueError("wms.inventory_api_key is required: ShipStation V2 authenticates with an API-Key header")
        if config.inventory_rate_limit < 1:
            raise ValueError(f"wms.inventory_rate_limit must be at least 1, got {config.inventory_rate_limit}")
        super().__init__(name, limit=limit or AimdLimit(2, maximum=4), retry=retry, hooks=hooks,
                         timeout=timeout, session=session)
        self.config = config
        self.base = config.inventory_url.rstrip("/")
        self.session.headers["API-Key"] = config.inventory_api_key
        # V2 reports nothing of its window, so the budget is ours: a burst of a tenth of the
        # limit, refilled so that no 60 s span can hold more than the limit.
        per_minute = config.inventory_rate_limit
        burst = max(1, per_minute // 10)
        self.budget = CostBucket(self.clock, self.retry.sleep)
        self.budget.observe({"maximumAvailable": burst, "currentlyAvailable": burst,
                             "restoreRate": max(per_minute - burst, 1) / _SECONDS_PER_WINDOW})

    def bucket_available(self) -> float | None:
        return self.budget.available()

    def _admit(self, cost: float) -> None:
        self.budget.reserve(cost)
        available = self.budget.available()
        if available is not None:
            self.hooks.on_bucket(self.name, available)

    def _classify(self, response: requests.Response) -> Any:
        code, message = "", ""
        if response.status_code >= 400:
            try:
                errors = response.json().get("errors") or []
                code = str(errors[0].get("error_code") or "") if errors else ""
                message = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
            except (ValueError, AttributeError):
                message = response.text[:200]
        classify_status(response, message, code)
        try:
            return response.json()
        except ValueError:
            raise TransientFailure(f"the inventory API answered HTTP {response.status_code} without JSON",
                                   status=response.status_code, congestion=False) from None

    def levels(self, *, priority: int = Priority.NORMAL) -> dict[str, StockLevel]:
        """Every SKU's on-hand and allocated units, summed over its rows.

        With ``wms.inventory_warehouse_id`` set only that warehouse counts (the one
        that ships the shop's orders); otherwise every warehouse does.
        """
        totals: dict[str, list[int]] = {}
        for row in self.rows(priority=priority):
            if not isinstance(row, dict) or not row.get("sku"):
                continue
            try:
                on_hand, allocated = int(row["on_hand"]), int(row.get("allocated") or 0)
            except (KeyError, TypeError, ValueError):
                continue  # a row without numbers tells nothing
            total = totals.setdefault(str(row["sku"]), [0, 0])
            total[0] += on_hand
            total[1] += allocated
        return {sku: StockLevel(on_hand, allocated) for sku, (on_hand, allocated) in totals.items()}

    def rows(self, *, priority: int = Priority.NORMAL) -> Iterator[dict[str, Any]]:
        """The ``inventory`` rows of every page, as ShipStation returns them."""
        params = {"inventory_warehouse_id": self.config.inventory_warehouse_id} \
            if self.config.inventory_warehouse_id else None
        url: str | None = self.base + "/v2/inventory"
        seen: set[str] = set()
        while url is not None and len(seen) < _MAX_PAGES:
            seen.add(url)
            body = self.exchange("GET", url, self._classify, params=params, priority=priority)
            yield from body.get("inventory") or []
            params = None  # a next link carries the query itself
            url = self._next(body, seen)

    def _next(self, body: Any, seen: set[str]) -> str | None:
        link = ((body.get("links") or {}).get("next") or {}).get("href")
        if not link or link in seen:
            return None
        wanted, given = urlsplit(self.base), urlsplit(link)
        if (given.scheme, given.netloc) != (wanted.scheme, wanted.netloc):
            # Never send the API key to a host a response names.
            raise ValueError(f"links.next {link!r} is not on the inventory host {wanted.netloc!r}")
        return str(link)
