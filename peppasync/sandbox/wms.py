"""The WMS simulator: ShipStation V1 (Basic auth, a request window, SHIP_NOTIFY webhooks) and V2's stock.

Every body is held to ``peppasync/contracts/shipstation.json``: a createorder
that breaks ``CreateOrderRequest`` is refused with V1's 400 body, and what the
simulator answers keeps the response contracts. ``/v2/...`` is ShipStation V2's
inventory API (``wms_inventory``), served on the same port with its own key.
"""

from __future__ import annotations

import base64
import copy
import hmac
import math
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import gevent
import requests
import requests.adapters

from peppasync.clock import Clock

from .catalog import Catalog
from .ledger import Ledger
from .server import Request, Response, json_response
from .warehouse import WarehouseError, WarehouseState
from .window import RequestWindow
from .wms_inventory import InventoryApi

__all__ = ["WmsSimulator"]

_PAGE_SIZE = 100
_NOTIFY_ATTEMPTS = 3


def _since(query: dict[str, str], name: str) -> float | None:
    text = query.get(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise WarehouseError(400, f"{name} {text!r} is not an ISO-8601 date, e.g. 2024-01-01T00:00:00Z") from None
    if moment.tzinfo is None:
        raise WarehouseError(400, f"{name} {text!r} needs a UTC offset, e.g. 2024-01-01T00:00:00Z")
    return moment.timestamp()


def _page(rows: list[Any], query: dict[str, str], field: str) -> dict[str, Any]:
    try:
        page = int(query.get("page", "1"))
        size = int(query.get("pageSize", str(_PAGE_SIZE)))
    except ValueError:
        raise WarehouseError(400, "page and pageSize must be integers") from None
    if page < 1 or not 1 <= size <= 500:
        raise WarehouseError(400, "page must be >= 1 and pageSize within 1..500")
    return {field: rows[(page - 1) * size: page * size], "total": len(rows), "page": page,
            "pages": max(1, math.ceil(len(rows) / size))}


class WmsSimulator:
    """Orders in, shipments out some time later, stock that other channels also take."""

    def __init__(self, catalog: Catalog, clock: Clock, *, api_key: str, api_secret: str, window: RequestWindow,
                 warehouse: WarehouseState, inventory_api_key: str, inventory_window: RequestWindow,
                 webhook_url: str | None = None, webhook_token: str = "", tick_seconds: float = 0.05) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.window = window
        self.warehouse = warehouse
        self.webhook_url = webhook_url
        self.webhook_token = webhook_token
        self.ledger = Ledger("wms", clock)
        self.webhook_ledger = Ledger("wms-webhooks", clock)
        self.base_url = ""  # set once the server has a port: resource_url must point back here
        self.inventory = InventoryApi(warehouse, api_key=inventory_api_key, window=inventory_window,
                                      ledger=self.ledger, base_url=lambda: self.base_url)
        self._tick_seconds = tick_seconds
        self._batch = 0
        self._batches: dict[int, list[int]] = {}
        self._ticker: gevent.Greenlet | None = None
        self._http = requests.Session()
        # A burst sends hundreds of webhooks at once: keep that many connections for reuse.
        self._http.mount("http://", requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=256))
        self._expected = "Basic " + base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self._failing = False

    def fail(self) -> None:
        """Answer every V1 request with ShipStation's 500 until ``recover``: an outage, as it has them.

        The 500 body is ASP.NET's (``{"Message": "An error has occurred."}``). A failed
        request takes no request of the window.
        """
        self._failing = True
        self.ledger.note("outage")

    def recover(self) -> None:
        """End what ``fail`` began."""
        self._failing = False

    def start(self, base_url: str) -> None:
        self.base_url = base_url
        self._ticker = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.kill(block=True, timeout=2)
        self._http.close()

    def _run(self) -> None:
        while True:
            self.tick()
            gevent.sleep(self._tick_seconds)

    def tick(self) -> None:
        """Ship what is due and announce it with one SHIP_NOTIFY per batch."""
        shipped = self.warehouse.tick()
        if not shipped:
            return
        self._batch += 1
        self._batches[self._batch] = [s["shipmentId"] for s in shipped]
        if self.webhook_url:
            resource = f"{self.base_url}/shipments?{urlencode({'batchId': self._batch})}"
            gevent.spawn(self._notify, {"resource_url": resource, "resource_type": "SHIP_NOTIFY"})

    def _target(self) -> str:
        assert self.webhook_url is not None
        if "token=" in (urlsplit(self.webhook_url).query or ""):
            return self.webhook_url
        joiner = "&" if "?" in self.webhook_url else "?"
        return f"{self.webhook_url}{joiner}{urlencode({'token': self.webhook_token})}"

    def _notify(self, body: dict[str, str]) -> None:
        for attempt in range(_NOTIFY_ATTEMPTS):
            started = self.webhook_ledger.begin()
            status, outcome = 0, "refused"
            try:
                status = self._http.post(self._target(), json=body, timeout=(1.0, 10.0)).status_code
                outcome = "delivered" if 200 <= status < 300 else "rejected"
            except requests.RequestException:
                pass
            self.webhook_ledger.end(started, "POST", "SHIP_NOTIFY", status, outcome, body["resource_url"])
            if outcome == "delivered":
                return
            gevent.sleep(0.5 * 2**attempt)

    def handle(self, request: Request) -> Response:
        """Serve one HTTP request (the WSGI server calls this)."""
        if request.path == "/_sandbox/ledger" and request.method == "GET":
            return json_response(200, {"ledger": self.ledger.snapshot(request.detail),
                                       "webhooks": self.webhook_ledger.snapshot(request.detail),
                                       "state": self.warehouse.snapshot()})
        if request.path.startswith("/v2/"):
            self.tick()
            return self.inventory.handle(request)
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), self._expected.encode()):
            started = self.ledger.clock_time()
            self.ledger.end(started, request.method, request.path, 401, "unauthorized", in_flight=False)
            return json_response(401, {"Message": "Authorization has been denied for this request."})
        if self._failing:
            started = self.ledger.clock_time()
            self.ledger.end(started, request.method, request.path, 500, "error", in_flight=False)
            return json_response(500, {"Message": "An error has occurred."})
        decision = self.window.admit()
        if not decision.allowed:
            started = self.ledger.clock_time()
            self.ledger.end(started, request.method, request.path, 429, "throttled", in_flight=False)
            return json_response(429, {"statusCode": 429, "message": "ThrottlerException: Too Many Requests"},
                                 decision.headers())
        started = self.ledger.begin()
        self.tick()
        key = ""
        try:
            status, payload, key = self._route(request)
            outcome = "ok"
        except WarehouseError as exc:
            status, payload, outcome = exc.status, exc.body(), "invalid"
        self.ledger.end(started, request.method, request.path, status, outcome, key)
        return json_response(status, payload, decision.headers())

    def _route(self, request: Request) -> tuple[int, Any, str]:
        query, state = request.query, self.warehouse
        if request.method == "POST" and request.path == "/orders/createorder":
            try:
                body = request.json()
            except ValueError as exc:
                raise WarehouseError(400, "The request is invalid.", {"apiOrder": [str(exc)]}) from None
            order = state.upsert_order(body)
            return 200, order, str(order["orderKey"])
        if request.method == "GET" and request.path.startswith("/orders/"):
            ident = request.path.removeprefix("/orders/")
            found = state.order_by_id(int(ident)) if ident.isdigit() else None
            if found is None:
                raise WarehouseError(404, f"No order with orderId {ident!r} was found.")
            return 200, found, str(found["orderKey"])
        if request.method == "GET" and request.path == "/orders":
            with state.lock:
                # An exact match on the number: ShipStation's own matching is looser, so callers
                # (the WMS connector does) pick their order out by orderKey.
                orders = [copy.deepcopy(o) for o in state.orders.values()
                          if "orderNumber" not in query or o["orderNumber"] == query["orderNumber"]]
            return 200, _page(sorted(orders, key=lambda o: o["orderId"]), query, "orders"), ""
        if request.method == "GET" and request.path == "/shipments":
            since = _since(query, "modifyDateStart")
            with state.lock:
                rows = list(state.shipments)
            if "batchId" in query:
                wanted = set(self._batches.get(int(query["batchId"]) if query["batchId"].isdigit() else -1, []))
                rows = [s for s in rows if s["shipmentId"] in wanted]
            if since is not None:
                rows = [s for s in rows if s["_at"] >= since]
            rows = [{k: v for k, v in s.items() if not k.startswith("_")} for s in rows]
            return 200, _page(rows, query, "shipments"), ""
        raise WarehouseError(404, f"No HTTP resource was found that matches the request URI '{request.url}'.")
