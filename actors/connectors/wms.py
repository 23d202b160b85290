"""WmsConnector: ShipStation V1 (orders, shipments) behind a request-window limiter.

Stock levels are not here: V1 has no inventory resource (``wms_inventory`` reads V2's).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from peppasync.config import WmsConfig
from peppasync.errors import ConnectorError
from peppasync.retry import RetryPolicy

from .aimd import AimdLimit
from .connector import Connector
from .failure import TransientFailure, classify_status
from .hooks import ConnectorHooks
from .limiter import Priority
from .window import RequestWindow

__all__ = ["OPEN_STATUSES", "ShipmentsPage", "WmsConnector"]

# The statuses createorder may update; it refuses to change an order in any other
# (https://www.shipstation.com/docs/api/orders/create-update-order/).
OPEN_STATUSES = frozenset({"awaiting_payment", "awaiting_shipment", "on_hold"})


@dataclass(frozen=True)
class ShipmentsPage:
    """One page of ``GET /shipments``: its rows, its number and how many pages there are."""

    rows: list[dict[str, Any]]
    page: int
    pages: int


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

    def _try(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._try(*args, **kwargs)
        finally:
            self.window.settled()  # whatever the answer, or none

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
            except ValueError:
                message = response.text[:200]
            else:
                message = _error_text(body)
        classify_status(response, message)
        try:
            return response.json()
        except ValueError:
            raise TransientFailure(f"the WMS answered HTTP {response.status_code} without JSON",
                                   status=response.status_code, congestion=False) from None

    def _get(self, url: str, params: dict[str, Any] | None = None, *, priority: int = Priority.NORMAL) -> Any:
        return self.exchange("GET", url, self._classify, params=params, priority=priority)

    def upsert_order(self, order: dict[str, Any], *, order_id: int | None = None,
                     priority: int = Priority.NORMAL) -> dict[str, Any]:
        """Create or update the order with this ``orderKey`` (send the whole order); returns the WMS's order.

        ShipStation updates only open orders (awaiting_payment, awaiting_shipment,
        on_hold). It answers a 400 to an update of any other, the status it also
        gives a body it refuses, and the two differ only in prose. So after a 400
        the order is read back (``GET /orders/{orderId}`` when ``order_id`` is known,
        else the list by orderNumber, matched on orderKey): when the WMS holds it
        in a status that cannot be updated, that order is returned as it stands and
        the caller decides from its ``orderStatus``; otherwise the 400 stands.
        """
        key = order.get("orderKey")
        if not key:
            raise ValueError("a WMS order needs an orderKey (the Shopify order id) to be upserted")
        try:
            result: dict[str, Any] = self.exchange("POST", self.base + "/orders/createorder", self._classify,
                                                   json=order, priority=priority)
            return result
        except ConnectorError as exc:
            if exc.transient or exc.status != 400:
                raise
            found = self.find_order(str(key), str(order.get("orderNumber") or ""), order_id=order_id,
                                    priority=priority)
            if found is None or found.get("orderStatus") in OPEN_STATUSES:
                raise
            return found

    def find_order(self, order_key: str, order_number: str, *, order_id: int | None = None,
                   priority: int = Priority.NORMAL) -> dict[str, Any] | None:
        """The WMS's order with this ``orderKey``, or None when it has none.

        ``GET /orders/{orderId}`` when the id is known; else ``GET /orders?orderNumber=``,
        whose matches are checked by orderKey (an order number is not unique).
        """
        if order_id is not None:
            try:
                order: dict[str, Any] = self._get(f"{self.base}/orders/{int(order_id)}", priority=priority)
            except ConnectorError as exc:
                if exc.transient or exc.status != 404:
                    raise
            else:
                if str(order.get("orderKey")) == order_key:
                    return order
        if not order_number:
            return None
        for found in self._paged("/orders", "orders", {"orderNumber": order_number}, priority):
            if str(found.get("orderKey")) == order_key:
                return found
        return None

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

    def shipments_page(self, modify_date_start: str, page: int = 1, *,
                       priority: int = Priority.NORMAL) -> ShipmentsPage:
        """Page ``page`` of the shipments modified at or after ``modify_date_start``.

        For callers that keep their place between pages (the reconciler commits it after each).
        """
        if page < 1:
            raise ValueError(f"pages are numbered from 1, got {page}")
        body = self._get(self.base + "/shipments",
                         {"modifyDateStart": modify_date_start, "page": page, "pageSize": self.page_size},
                         priority=priority)
        return ShipmentsPage(list(body.get("shipments") or []), page, int(body.get("pages") or 1))

    def fetch(self, resource_url: str, *, priority: int = Priority.NORMAL) -> Any:
        """GET a SHIP_NOTIFY ``resource_url``; only URLs on the configured WMS host are followed."""
        wanted, given = urlsplit(self.base), urlsplit(resource_url)
        if (given.scheme, given.netloc) != (wanted.scheme, wanted.netloc):
            # The webhook is unsigned: never send our credentials to a host it names.
            raise ValueError(f"resource_url {resource_url!r} is not on the WMS host {wanted.netloc!r}")
        return self._get(resource_url, priority=priority)


def _error_text(body: Any) -> str:
    """What an error body says, for people: ``Message`` and, per field, its ``ModelState``."""
    if not isinstance(body, dict):
        return ""
    text = str(body.get("Message") or body.get("message") or body)
    fields = body.get("ModelState")
    if isinstance(fields, dict) and fields:
        text += " " + "; ".join(f"{name}: {' '.join(map(str, why if isinstance(why, list) else [why]))}"
                                for name, why in fields.items())
    return text
