"""WmsConnector: a ShipStation V1 style warehouse API behind a request-window limiter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests

from peppasync.config import WmsConfig

from .aimd import AimdLimit
from .connector import Connector
from .failure import TransientFailure, classify_status
from .hooks import ConnectorHooks
from .limiter import Priority
from .retry import RetryPolicy
from .window import RequestWindow

__all__ = ["WmsConnector"]


class WmsConnector(Connector):
    """One warehouse account: Basic auth, ``X-Rate-Limit-*`` window, paged reads."""

    def __init__(
        self,
        config: WmsConfig,
        *,
        name: str = "wms",
        limit: AimdLimit | None = None,
        retry: RetryPolicy | None = None,
        hooks: ConnectorHooks | None = None,
        timeout: tuple[float, float] = (3.05, 30.0),
        session: requests.Session | None = None,
        page_size: int = 100,
    ) -> None:
        if not config.api_key or not config.api_secret:
            raise ValueError("wms.api_key and wms.api_secret are both required for Basic auth")
        if not 1 <= page_size <= 500:
            raise ValueError(f"page_size must be between 1 and 500, got {page_size}")
        super().__init__(name, limit=limit or AimdLimit(4, maximum=8), retry=retry, hooks=hooks,
                         timeout=timeout, session=session)
        self.config = config
        self.base = config.base_url.rstrip("/")
        self.page_size = page_size
        self.window = RequestWindow(self.clock, self.retry.sleep)
        self.session.auth = (config.api_key, config.api_secret)

    def bucket_available(self) -> float | None:
        return None if self.window.remaining is None else float(self.window.remaining)

    def _admit(self, cost: float) -> None:
        self.window.admit()

    def _classify(self, response: requests.Response) -> Any:
        self.window.observe(response.headers)
        if self.window.remaining is not None:
            self.hooks.on_bucket(self.name, float(self.window.remaining))
        if response.status_code == 429:
            # The window is spent: the reset, not a guess, says when to come back.
            reset = self.window.reset_in()
            raise TransientFailure("throttled (HTTP 429): the request window is spent", status=429,
                                   code="THROTTLED", retry_after=reset or None, throttled=True)
        message = ""
        if response.status_code >= 400:
            try:
                body = response.json()
                message = str(body.get("Message") or body.get("message") or body) if isinstance(body, dict) else ""
            except ValueError:
                message = response.text[:200]
        classify_status(response, message)
        try:
            return response.json()
        except ValueError:
            raise TransientFailure(f"the WMS answered HTTP {response.status_code} without JSON",
                                   status=response.status_code, congestion=False) from None

    def _get(self, url: str, params: dict[str, Any] | None = None, *, priority: int = Priority.NORMAL) -> Any:
        return self.exchange("GET", url, self._classify, params=params, priority=priority)

    def create_order(self, order: dict[str, Any], *, priority: int = Priority.NORMAL) -> dict[str, Any]:
        """Create or update the order with this ``orderKey`` (send the whole order)."""
        if not order.get("orderKey"):
            raise ValueError("a WMS order needs an orderKey (the Shopify order id) to be upserted")
        result: dict[str, Any] = self.exchange("POST", self.base + "/orders/createorder", self._classify,
                                               json=order, priority=priority)
        return result

    def _paged(self, path: str, field: str, params: dict[str, Any], priority: int) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self._get(self.base + path, {**params, "page": page, "pageSize": self.page_size},
                             priority=priority)
            yield from body.get(field) or []
            if page >= int(body.get("pages") or 1):
                return
            page += 1

    def shipments_since(self, modify_date_start: str, *, priority: int = Priority.NORMAL) -> Iterator[dict[str, Any]]:
        """Shipments modified at or after ``modify_date_start`` (ISO 8601 with offset), page by page."""
        return self._paged("/shipments", "shipments", {"modifyDateStart": modify_date_start}, priority)

    def inventory_since(self, modified_since: str, *, priority: int = Priority.NORMAL) -> Iterator[dict[str, Any]]:
        """``{sku, onHand, allocated, ...}`` rows changed at or after ``modified_since``, page by page."""
        return self._paged("/inventory", "inventory", {"modifiedSince": modified_since}, priority)

    def fetch(self, resource_url: str, *, priority: int = Priority.NORMAL) -> Any:
        """GET a SHIP_NOTIFY ``resource_url``; only URLs on the configured WMS host are followed."""
        wanted, given = urlsplit(self.base), urlsplit(resource_url)
        if (given.scheme, given.netloc) != (wanted.scheme, wanted.netloc):
            # The webhook is unsigned: never send our credentials to a host it names.
            raise ValueError(f"resource_url {resource_url!r} is not on the WMS host {wanted.netloc!r}")
        return self._get(resource_url, priority=priority)
