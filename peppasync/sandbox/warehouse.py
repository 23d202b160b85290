"""The simulated warehouse: orders by orderKey, shipments that appear later, stock per SKU."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from peppasync.clock import Clock

from .catalog import Catalog
from .profile import chance
from .shop import iso

__all__ = ["OPEN_STATUSES", "WarehouseError", "WarehouseState"]

OPEN_STATUSES = frozenset({"awaiting_payment", "awaiting_shipment", "on_hold"})
_STATUSES = OPEN_STATUSES | {"shipped", "cancelled"}
_CARRIERS = [("ups", "ups_ground", "https://www.ups.com/track?tracknum={}"),
             ("fedex", "fedex_ground", "https://www.fedex.com/fedextrack/?trknbr={}"),
             ("usps", "usps_priority_mail", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}")]


class WarehouseError(Exception):
    """A refused WMS call: HTTP status and ShipStation-style message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Pending:
    order_key: str
    due: float


class WarehouseState:
    """All changes go through these methods, under one lock; `tick` makes due shipments appear."""

    def __init__(self, catalog: Catalog, clock: Clock, *, seed: int, shipment_delay: float,
                 consumption_rate: float) -> None:
        self.catalog = catalog
        self._clock = clock
        self._seed = seed
        self._delay = shipment_delay
        self._consumption = consumption_rate
        self.lock = threading.RLock()
        self.orders: dict[str, dict[str, Any]] = {}
        self.shipments: list[dict[str, Any]] = []
        self.stock: dict[str, dict[str, Any]] = {
            i.sku: {"onHand": i.stock, "allocated": 0, "modified": clock.time()}
            for i in catalog.items if not i.gift_card}
        self.consumed = 0
        # (time, SKU) of every unit other channels took, and units taken per SKU.
        self.channel_log: list[tuple[float, str]] = []
        self.consumed_by_sku: Counter[str] = Counter()
        self._pending: list[_Pending] = []
        self._next_id = 100_000
        self._last_tick = clock.time()
        self._owed = 0.0

    @property
    def consumption_rate(self) -> float:
        """Units per second (of the sandbox's clock) other channels take."""
        return self._consumption

    @consumption_rate.setter
    def consumption_rate(self, rate: float) -> None:
        if rate < 0:
            raise ValueError(f"a consumption rate must be >= 0, got {rate!r}")
        with self.lock:
            self._consume(self._clock.time())  # what is owed so far, at the old rate
            self._consumption = rate

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def upsert_order(self, body: Any) -> dict[str, Any]:
        """`POST /orders/createorder`: create, or replace the whole order found by orderKey."""
        if not isinstance(body, dict):
            raise WarehouseError(400, "The request body must be a JSON order object.")
        for name in ("orderNumber", "orderKey", "orderStatus", "shipTo"):
            if not body.get(name):
                raise WarehouseError(400, f"The order is missing {name}.")
        status = body["orderStatus"]
        if status not in _STATUSES:
            raise WarehouseError(400, f"orderStatus {status!r} is not one of {', '.join(sorted(_STATUSES))}.")
        items = body.get("items") or []
        for n, item in enumerate(items):
            qty = item.get("quantity") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not item.get("sku") or not isinstance(qty, int) or qty <= 0:
                raise WarehouseError(400, f"items[{n}] needs a sku and a positive integer quantity.")
        key = str(body["orderKey"])
        now = self._clock.time()
        with self.lock:
            existing = self.orders.get(key)
            if existing is not None and existing["orderStatus"] not in OPEN_STATUSES:
                raise WarehouseError(400, f"Order {key} is {existing['orderStatus']} and can no longer be updated.")
            if existing is not None:
                self._release(existing)
            order = copy.deepcopy(body)
            order.update(orderId=existing["orderId"] if existing else self._id(),
                         createDate=existing["createDate"] if existing else iso(now), modifyDate=iso(now))
            self.orders[key] = order
            self._pending = [p for p in self._pending if p.order_key != key]
            if status == "awaiting_shipment":
                for item in items:
                    if item["sku"] in self.stock:
                        self.stock[item["sku"]]["allocated"] += item["quantity"]
                        self.stock[item["sku"]]["modified"] = now
                self._pending.append(_Pending(key, now + self._delay))
            return copy.deepcopy(order)

    def _release(self, order: dict[str, Any]) -> None:
        if order["orderStatus"] != "awaiting_shipment":
            return
        for item in order.get("items") or []:
            if item["sku"] in self.stock:
                self.stock[item["sku"]]["allocated"] -= item["quantity"]

    def tick(self) -> list[dict[str, Any]]:
        """Ship what is due and let other channels take stock; returns the new shipments."""
        now = self._clock.time()
        shipped = []
        with self.lock:
            self._consume(now)
            due = [p for p in self._pending if p.due <= now]
            self._pending = [p for p in self._pending if p.due > now]
            for pending in due:
                shipped.append(self._ship(self.orders[pending.order_key], now))
        return shipped

    def _ship(self, order: dict[str, Any], now: float) -> dict[str, Any]:
        key = order["orderKey"]
        carrier, service, url = _CARRIERS[int(chance(self._seed, "carrier", key) * len(_CARRIERS))]
        tracking = f"1Z{int(chance(self._seed, 'tracking', key) * 10**16):016d}"
        for item in order.get("items") or []:
            if item["sku"] in self.stock:
                level = self.stock[item["sku"]]
                level["allocated"] -= item["quantity"]
                level["onHand"] -= item["quantity"]
                level["modified"] = now
        order.update(orderStatus="shipped", modifyDate=iso(now))
        shipment = {
            "shipmentId": self._id(), "orderId": order["orderId"], "orderKey": key,
            "orderNumber": order["orderNumber"], "createDate": iso(now), "shipDate": iso(now)[:10],
            "modifyDate": iso(now), "trackingNumber": tracking, "carrierCode": carrier, "serviceCode": service,
            "trackingUrl": url.format(tracking), "voided": False,
            "shipmentCost": round(4.0 + 12.0 * chance(self._seed, "label", key), 2), "insuranceCost": 0.0,
            "shipmentItems": [{"sku": i["sku"], "name": i.get("name"), "quantity": i["quantity"]}
                              for i in order.get("items") or []],
            "_at": now,
        }
        self.shipments.append(shipment)
        return shipment

    def _consume(self, now: float) -> None:
        # Other sales channels take whole units at the configured rate, SKU chosen from the seed.
        self._owed += max(0.0, now - self._last_tick) * self._consumption
        self._last_tick = now
        skus = sorted(self.stock)
        while self._owed >= 1.0 and skus:
            sku = skus[int(chance(self._seed, "channel", self.consumed) * len(skus))]
            self._owed -= 1.0
            self.consumed += 1
            level = self.stock[sku]
            if level["onHand"] - level["allocated"] > 0:
                level["onHand"] -= 1
                level["modified"] = now
                self.channel_log.append((now, sku))
                self.consumed_by_sku[sku] += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "orders": {k: {"orderId": o["orderId"], "status": o["orderStatus"],
                               "items": [{"sku": i["sku"], "quantity": i["quantity"]} for i in o.get("items") or []]}
                           for k, o in self.orders.items()},
                "shipments": [{k: v for k, v in s.items() if not k.startswith("_")} for s in self.shipments],
                "stock": {sku: {"onHand": v["onHand"], "allocated": v["allocated"]} for sku, v in self.stock.items()},
                "consumed_by_other_channels": self.consumed,
            }
