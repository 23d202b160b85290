"""ShipStation V2's inventory API over the simulated warehouse: ``GET /v2/inventory``.

ShipStation V1 has no inventory resource; stock levels come from V2, which has
its own auth (an ``API-Key`` header), its own limit (200 requests a minute,
then 429 with ``Retry-After``) and its own error body
(``{request_id, errors: [{error_source, error_type, error_code, message}]}``).
The documented filters are ``sku``, ``inventory_warehouse_id``,
``inventory_location_id``, ``group_by`` and ``limit``; there is no modified-since
filter, and later pages are reached through ``links.next.href``. Sources are in
``peppasync/contracts/shipstation.json``.
"""

from __future__ import annotations

import hmac
import math
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from .ledger import Ledger
from .server import Request, Response, json_response
from .warehouse import WarehouseState
from .window import RequestWindow

__all__ = ["INVENTORY_LOCATION_ID", "INVENTORY_WAREHOUSE_ID", "InventoryApi"]

INVENTORY_WAREHOUSE_ID = "se-1000001"
INVENTORY_LOCATION_ID = "se-2000001"
# How many rows a page holds when the request gives no limit: ShipStation does not say; ours.
_DEFAULT_LIMIT = 100


class _Refused(Exception):
    def __init__(self, status: int, error_type: str, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.error_code = error_code
        self.message = message


def error_body(error_type: str, error_code: str, message: str) -> dict[str, Any]:
    """V2's error_response_body for one error raised by ShipStation itself."""
    return {"request_id": str(uuid.uuid4()), "errors": [
        {"error_source": "ShipStation", "error_type": error_type, "error_code": error_code, "message": message}]}


class InventoryApi:
    """The ``/v2/`` part of the WMS port: the warehouse's stock, one row per SKU and location."""

    def __init__(self, warehouse: WarehouseState, *, api_key: str, window: RequestWindow, ledger: Ledger,
                 base_url: Callable[[], str]) -> None:
        self.api_key = api_key
        self.window = window
        self.warehouse = warehouse
        self.ledger = ledger
        self._base_url = base_url

    def handle(self, request: Request) -> Response:
        if not hmac.compare_digest(request.headers.get("api-key", "").encode(), self.api_key.encode()):
            self.ledger.end(self.ledger.clock_time(), request.method, request.path, 401, "unauthorized",
                            in_flight=False)
            return json_response(401, error_body(
                "security", "unauthorized", "The API key is missing or invalid: send it in the API-Key header."))
        decision = self.window.admit()
        if not decision.allowed:
            self.ledger.end(self.ledger.clock_time(), request.method, request.path, 429, "throttled",
                            in_flight=False)
            return json_response(429, error_body(
                "system", "rate_limit_exceeded", "You have exceeded the rate limit; retry after Retry-After seconds."),
                [("Retry-After", str(max(1, decision.reset)))])
        started = self.ledger.begin()
        try:
            if request.method == "GET" and request.path == "/v2/inventory":
                status, payload, outcome = 200, self._inventory(request.query), "ok"
            else:
                raise _Refused(404, "validation", "invalid_identifier",
                               f"No such resource: {request.method} {request.path}")
        except _Refused as exc:
            status, payload, outcome = exc.status, error_body(exc.error_type, exc.error_code, exc.message), "invalid"
        self.ledger.end(started, request.method, request.path, status, outcome)
        return json_response(status, payload)

    def _inventory(self, query: dict[str, str]) -> dict[str, Any]:
        group_by = query.get("group_by")
        if group_by not in (None, "warehouse", "location"):
            raise _Refused(400, "validation", "invalid_field_value",
                           f"group_by must be warehouse or location, got {group_by!r}")
        limit = _positive(query, "limit", _DEFAULT_LIMIT)
        page = _positive(query, "page", 1)
        warehouse_id = query.get("inventory_warehouse_id")
        location_id = query.get("inventory_location_id")
        rows = []
        if warehouse_id in (None, INVENTORY_WAREHOUSE_ID) and location_id in (None, INVENTORY_LOCATION_ID):
            with self.warehouse.lock:
                levels = sorted((sku, level["onHand"], level["allocated"])
                                for sku, level in self.warehouse.stock.items()
                                if "sku" not in query or sku == query["sku"])
            for sku, on_hand, allocated in levels:
                item = self.warehouse.catalog.get(sku)
                row: dict[str, Any] = {
                    "sku": sku, "on_hand": on_hand, "allocated": allocated, "available": on_hand - allocated,
                    "average_cost": {"amount": float(item.cost) if item else 0.0, "currency": "USD"},
                    "inventory_warehouse_id": INVENTORY_WAREHOUSE_ID}
                if group_by != "warehouse":
                    row["inventory_location_id"] = INVENTORY_LOCATION_ID
                rows.append(row)
        pages = max(1, math.ceil(len(rows) / limit))
        filters = {k: v for k, v in query.items() if k in ("sku", "inventory_warehouse_id", "inventory_location_id",
                                                            "group_by", "limit")}

        def link(n: int) -> dict[str, str]:
            return {"href": f"{self._base_url()}/v2/inventory?{urlencode({**filters, 'page': n})}"}

        return {
            "inventory": rows[(page - 1) * limit: page * limit], "total": len(rows), "page": page, "pages": pages,
            "links": {"first": link(1), "last": link(pages), "prev": link(page - 1) if page > 1 else {},
                      "next": link(page + 1) if page < pages else {}},
        }


def _positive(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise _Refused(400, "validation", "invalid_field_value", f"{name} must be a positive integer, got {text!r}")
    return value
