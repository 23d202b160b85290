"""The simulated shop's data: orders, fulfillment orders and their holds, fulfillments and inventory levels.

Fulfillment holds follow Shopify's Admin API: since 2025-01 a fulfillment order can carry
several holds, each app up to 10 per fulfillment order, told apart by a ``handle`` unique per
app and fulfillment order; a held fulfillment order is ``ON_HOLD`` and cannot be fulfilled;
releasing without hold ids releases every hold, other apps' too
(https://shopify.dev/docs/api/admin-graphql/latest/mutations/fulfillmentOrderHold ,
https://shopify.dev/docs/api/admin-graphql/latest/mutations/fulfillmentorderreleasehold).
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from peppasync.clock import Clock

from .catalog import Catalog

__all__ = ["HOLD_LIMIT", "LOCATION_ID", "OUR_APP", "HoldError", "ShopState", "gid", "iso", "money_set", "parse_gid"]

LOCATION_ID = 61_000_000_001
#: The app that calls the Admin API with the sandbox's access token (the engine).
OUR_APP = "peppasync"
#: Active holds one app may place on one fulfillment order.
HOLD_LIMIT = 10


class HoldError(Exception):
    """A refused hold or release: Shopify's user error ``code`` and its message."""

    def __init__(self, code: str, message: str, field: tuple[str, ...] = ("id",)) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = list(field)


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str, kind: str) -> int | None:
    """The number in `gid://shopify/{kind}/{n}`, or None if it is not one."""
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix) or not value[len(prefix):].isdigit():
        return None
    return int(value[len(prefix):])


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ShopState:
    """Everything the shop knows; all changes go through these methods, under one lock."""

    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self.catalog = catalog
        self.clock = clock
        self.lock = threading.RLock()
        self.orders: dict[int, dict[str, Any]] = {}
        self.fulfillment_orders: dict[int, dict[str, Any]] = {}
        self.fulfillments: dict[int, dict[str, Any]] = {}
        # Each order's fulfillment orders and fulfillments (ids, oldest first): a surge's lookups by
        # order must not scan every order's.
        self._fos_by_order: dict[int, list[int]] = {}
        self._fulfillments_by_order: dict[int, list[int]] = {}
        self.levels: dict[int, dict[str, Any]] = {
            item.inventory_item_id: {"available": item.stock, "on_hand": item.stock, "updated_at": clock.time()}
            for item in catalog.items
        }
        self.idempotency: dict[str, tuple[str, Any]] = {}
        # Units of accepted, not cancelled orders per SKU; checkouts refused as sold out.
        self.sold: Counter[str] = Counter()
        self.refused = 0
        # (time, SKU, units) of every sale (+) and cancellation (-), in order.
        self.sales: list[tuple[float, str, int]] = []
        # (time, inventory item id, quantity) of every quantity an inventorySetQuantities call applied.
        self.inventory_sets: list[tuple[float, int, int]] = []
        # Called with an order's new state when the API (not the sandbox's driver) changed it.
        self.listeners: list[Callable[[dict[str, Any]], object]] = []
        # Each order's refunds (REST refund bodies), as GraphQL's Order.refunds answers them.
        self.refunds: dict[int, list[dict[str, Any]]] = {}
        # Every fulfillment hold ever placed, in order: hold and order ids, app, reason, placed and released times.
        self.hold_log: list[dict[str, Any]] = []
        self._next_id = 5_000_000_000

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def add_order(self, order: dict[str, Any]) -> None:
        """Take a REST-shaped order as placed: stock is committed and shippable lines get a fulfillment order."""
        with self.lock:
            order = copy.deepcopy(order)
            self.orders[order["id"]] = order
            lines = []
            for line in order.get("line_items", []):
                item = self.catalog.get(line.get("sku"))
                if item is not None and not item.gift_card and isinstance(line.get("quantity"), int):
                    level = self.levels[item.inventory_item_id]
                    level["available"] -= max(0, line["quantity"])
                    level["updated_at"] = self.clock.time()
                    self.sold[item.sku] += max(0, line["quantity"])
                    self.sales.append((self.clock.time(), item.sku, max(0, line["quantity"])))
                if line.get("requires_shipping") and isinstance(line.get("quantity"), int) and line["quantity"] > 0:
                    lines.append({"id": self.new_id(), "line_item_id": line["id"], "sku": line.get("sku"),
                                  "total": line["quantity"], "remaining": line["quantity"]})
            if lines:
                fo_id = self.new_id()
                self.fulfillment_orders[fo_id] = {
                    "id": fo_id, "order_id": order["id"], "status": "OPEN", "lines": lines,
                    "created_at": self.clock.time(), "updated_at": self.clock.time(), "holds": [],
                }
                self._fos_by_order.setdefault(order["id"], []).append(fo_id)

    def fulfillment_orders_of(self, order_id: int) -> list[dict[str, Any]]:
        """An order's fulfillment orders, oldest first."""
        with self.lock:
            return [self.fulfillment_orders[fo_id] for fo_id in self._fos_by_order.get(order_id, ())]

    def fulfillments_of(self, order_id: int) -> list[dict[str, Any]]:
        """An order's fulfillments, oldest first."""
        with self.lock:
            return [self.fulfillments[f_id] for f_id in self._fulfillments_by_order.get(order_id, ())]

    def add_fulfillment(self, record: dict[str, Any]) -> None:
        """Keep a fulfillment (its ``id`` and ``order_id`` set)."""
        with self.lock:
            self.fulfillments[record["id"]] = record
            self._fulfillments_by_order.setdefault(record["order_id"], []).append(record["id"])

    def try_order(self, order: dict[str, Any]) -> bool:
        """Check out as a shop that does not sell past zero: False (nothing placed) when a line is sold out."""
        with self.lock:
            wanted: Counter[int] = Counter()
            for line in order.get("line_items", []):
                item = self.catalog.get(line.get("sku"))
                if item is not None and not item.gift_card and isinstance(line.get("quantity"), int):
                    wanted[item.inventory_item_id] += max(0, line["quantity"])
            if any(self.levels[item_id]["available"] < n for item_id, n in wanted.items()):
                self.refused += 1
                return False
            self.add_order(order)
            return True

    def edit_lines(self, order_id: int, quantities: dict[str, int]) -> None:
        """Set live quantities per SKU as Shopify's order editing does (prices are not recomputed here).

        A raised quantity adds units to ``quantity`` and ``current_quantity``; a lowered one
        lowers only ``current_quantity`` (``quantity`` keeps counting removed units); a SKU the
        order lacks becomes a new line; 0 removes. Stock and the fulfillment order follow.
        """
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise KeyError(f"the shop has no order {order_id!r}")
            lines: list[dict[str, Any]] = order["line_items"]
            open_fos = [fo for fo in self.fulfillment_orders_of(order_id) if fo["status"] == "OPEN"]
            for sku, wanted in quantities.items():
                item = self.catalog.get(sku)
                if item is None or item.gift_card or wanted < 0:
                    raise ValueError(f"cannot set {sku!r} to {wanted!r}: edits take catalogue SKUs and counts >= 0")
                line = next((x for x in lines if x.get("sku") == sku), None)
                live = 0 if line is None else int(line.get("current_quantity", line["quantity"]))
                delta = wanted - live
                if delta == 0:
                    continue
                if line is None:
                    line = {"id": self.new_id(), "variant_id": item.variant_id, "product_id": item.product_id,
                            "sku": sku, "title": item.title, "name": item.title, "quantity": 0,
                            "current_quantity": 0, "fulfillable_quantity": 0, "price": str(item.price),
                            "grams": 300, "requires_shipping": item.requires_shipping, "taxable": True,
                            "gift_card": False, "fulfillment_service": "manual", "total_discount": "0.00",
                            "price_set": money_set(item.price, order.get("currency") or "USD"),
                            "discount_allocations": [], "tax_lines": []}
                    lines.append(line)
                if delta > 0:
                    line["quantity"] += delta
                line["current_quantity"] = line["fulfillable_quantity"] = wanted
                level = self.levels[item.inventory_item_id]
                level["available"] -= delta
                level["updated_at"] = self.clock.time()
                self.sold[sku] += delta
                self.sales.append((self.clock.time(), sku, delta))
                self._edit_fulfillment_order(open_fos, line, delta)

    def _edit_fulfillment_order(self, open_fos: list[dict[str, Any]], line: dict[str, Any], delta: int) -> None:
        if not open_fos:
            return
        fo_line = next((x for fo in open_fos for x in fo["lines"] if x["line_item_id"] == line["id"]), None)
        if fo_line is None:
            fo_line = {"id": self.new_id(), "line_item_id": line["id"], "sku": line["sku"], "total": 0, "remaining": 0}
            open_fos[0]["lines"].append(fo_line)
        fo_line["total"] += delta
        fo_line["remaining"] += delta

    def restock(self, sku: str, quantity: int) -> None:
        """Put refunded units back in ``available``, as Shopify does for a refund that restocks them."""
        with self.lock:
            item = self.catalog.get(sku)
            if item is None or item.gift_card or quantity <= 0:
                return
            level = self.levels[item.inventory_item_id]
            level["available"] += quantity
            level["updated_at"] = self.clock.time()

    def touch(self, order_id: int, **changes: Any) -> dict[str, Any]:
        """Change an order and bump its `updated_at`; returns the order as it now is."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise KeyError(f"the shop has no order {order_id!r}")
            order.update(changes)
            order["updated_at"] = iso(self.clock.time())
            return copy.deepcopy(order)

    def cancel(self, order_id: int, reason: str = "customer") -> dict[str, Any]:
        with self.lock:
            if order_id not in self.orders:
                raise KeyError(f"the shop has no order {order_id!r}")
            if not self.orders[order_id].get("cancelled_at"):
                for line in self.orders[order_id].get("line_items", []):
                    item = self.catalog.get(line.get("sku"))
                    if item is not None and not item.gift_card and isinstance(line.get("quantity"), int):
                        self.sold[item.sku] -= max(0, line["quantity"])
                        self.sales.append((self.clock.time(), item.sku, -max(0, line["quantity"])))
            for fo in self.fulfillment_orders_of(order_id):
                if fo["status"] in ("OPEN", "IN_PROGRESS", "ON_HOLD"):
                    fo["status"] = "CANCELLED"
            now = iso(self.clock.time())
            return self.touch(order_id, cancelled_at=now, cancel_reason=reason, closed_at=now)

    def hold(self, fo_id: int, *, reason: str, app: str, handle: str = "", notes: str | None = None
             ) -> dict[str, Any]:
        """Place a hold on a fulfillment order as ``app``; returns the hold.

        Refused as Shopify refuses it: an unknown or closed fulfillment order, a handle the
        app already uses on it, an app's eleventh hold.
        """
        with self.lock:
            fo = self.fulfillment_orders.get(fo_id)
            if fo is None or fo["status"] not in ("OPEN", "IN_PROGRESS", "ON_HOLD"):
                raise HoldError("FULFILLMENT_ORDER_NOT_FOUND", f"Fulfillment order {fo_id} could not be held.")
            own = [h for h in fo["holds"] if h["app"] == app]
            if any(h["handle"] == handle for h in own):
                raise HoldError("DUPLICATE_FULFILLMENT_HOLD_HANDLE",
                                f"This app already has a hold with handle {handle!r} on this fulfillment order.",
                                ("fulfillmentHold", "handle"))
            if len(own) >= HOLD_LIMIT:
                raise HoldError("FULFILLMENT_ORDER_HOLD_LIMIT_REACHED",
                                f"An app can place at most {HOLD_LIMIT} holds on a fulfillment order.")
            hold = {"id": self.new_id(), "fo_id": fo_id, "app": app, "handle": handle, "reason": reason,
                    "notes": notes}
            if not fo["holds"]:
                fo["held_from"] = fo["status"]
            fo["holds"].append(hold)
            fo["status"] = "ON_HOLD"
            fo["updated_at"] = self.clock.time()
            self.hold_log.append({"hold_id": hold["id"], "order_id": fo["order_id"], "app": app, "reason": reason,
                                  "placed": self.clock.time(), "released": None})
            return dict(hold)

    def release(self, fo_id: int, hold_ids: list[int] | None) -> list[dict[str, Any]]:
        """Release the listed holds of a fulfillment order (ids of another one's are ignored), or
        every hold when ``hold_ids`` is None; returns the holds released."""
        with self.lock:
            fo = self.fulfillment_orders.get(fo_id)
            if fo is None:
                raise HoldError("FULFILLMENT_ORDER_NOT_FOUND", f"Fulfillment order {fo_id} does not exist.")
            released = [h for h in fo["holds"] if hold_ids is None or h["id"] in hold_ids]
            fo["holds"] = [h for h in fo["holds"] if h not in released]
            now = self.clock.time()
            for entry in self.hold_log:
                if entry["released"] is None and any(entry["hold_id"] == h["id"] for h in released):
                    entry["released"] = now
            if released and not fo["holds"] and fo["status"] == "ON_HOLD":
                fo["status"] = fo.pop("held_from", "OPEN")
                fo["updated_at"] = now
            return released

    def open_fulfillment_order_ids(self, order_id: int) -> list[int]:
        """The ids of an order's fulfillment orders that can still be fulfilled or held."""
        with self.lock:
            return [fo["id"] for fo in self.fulfillment_orders_of(order_id)
                    if fo["status"] in ("OPEN", "IN_PROGRESS", "ON_HOLD")]

    def fulfillment_status(self, order_id: int) -> str:
        with self.lock:
            fos = self.fulfillment_orders_of(order_id)
            if not fos:
                return "FULFILLED" if self.orders[order_id].get("line_items") else "UNFULFILLED"
            remaining = sum(line["remaining"] for fo in fos for line in fo["lines"])
            total = sum(line["total"] for fo in fos for line in fo["lines"])
            if remaining == 0:
                return "FULFILLED"
            return "UNFULFILLED" if remaining == total else "PARTIALLY_FULFILLED"

    def available(self, sku: str) -> int:
        """The shop's `available` quantity for a SKU at its one location."""
        item = self.catalog.get(sku)
        if item is None:
            raise KeyError(f"unknown SKU {sku!r}")
        with self.lock:
            return int(self.levels[item.inventory_item_id]["available"])

    def snapshot(self) -> dict[str, Any]:
        """Final state as JSON-ready data: orders, fulfillments with tracking, stock."""
        with self.lock:
            by_item = {item.inventory_item_id: item.sku for item in self.catalog.items}
            return {
                "orders": {str(k): {"name": o.get("name"), "updated_at": o.get("updated_at"),
                                    "cancelled_at": o.get("cancelled_at"),
                                    "fulfillment_status": self.fulfillment_status(k)}
                           for k, o in self.orders.items()},
                "fulfillments": [
                    {"id": f["id"], "order_id": f["order_id"], "tracking": f["tracking"],
                     "created_at": iso(f["created_at"])}
                    for f in self.fulfillments.values()
                ],
                "stock": {by_item[k]: v["available"] for k, v in self.levels.items()},
            }


def money_set(amount: Decimal, currency: str) -> dict[str, Any]:
    """A REST ``*_set`` value: the amount in the shop's currency and the buyer's (the same here)."""
    money = {"amount": str(amount), "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}

