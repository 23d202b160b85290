"""The simulated warehouse: orders by orderKey, shipments that appear later, stock per SKU."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peppasync.clock import Clock
from peppasync.contracts import contract

from .catalog import Catalog
from .profile import chance
from .shop import iso

__all__ = ["OPEN_STATUSES", "WarehouseError", "WarehouseState", "order_model_state"]

# Only these can be updated through createorder; shipped and cancelled orders may not be
# (https://www.shipstation.com/docs/api/orders/create-update-order/).
OPEN_STATUSES = frozenset({"awaiting_payment", "awaiting_shipment", "on_hold"})
_CARRIERS = [("ups", "ups_ground", "https://www.ups.com/track?tracknum={}"),
             ("fedex", "fedex_ground", "https://www.fedex.com/fedextrack/?trknbr={}"),
             ("usps", "usps_priority_mail", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}")]


class WarehouseError(Exception):
    """A refused WMS call: HTTP status and ShipStation V1's error body (``Message``, ``ModelState``)."""

    def __init__(self, status: int, message: str, model_state: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.model_state = model_state

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Message": self.message}
        if self.model_state:
            body["ModelState"] = self.model_state
        return body


def order_model_state(body: Any) -> dict[str, list[str]]:
    """What the ``CreateOrderRequest`` contract finds wrong with ``body``, keyed as ShipStation keys it.

    ShipStation (ASP.NET model binding) names each field ``apiOrder.<path>`` and says
    "The <field> field is required." of a missing one; other problems keep the
    contract's words.
    """
    problems: dict[str, list[str]] = {}
    for error in contract("shipstation", "CreateOrderRequest").iter_errors(body):
        path = [str(p) for p in error.absolute_path]
        if error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:
                if name not in error.instance:
                    problems.setdefault(".".join(["apiOrder", *path, name]), []).append(
                        f"The {name} field is required.")
        else:
            problems.setdefault(".".join(["apiOrder", *path]), []).append(error.message)
    return problems


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
        self.order_keys: dict[int, str] = {}  # orderId -> orderKey
        self.shipments: list[dict[str, Any]] = []
        self.stock: dict[str, dict[str, Any]] = {
            i.sku: {"onHand": i.stock, "allocated": 0, "modified": clock.time()}
            for i in catalog.items if not i.gift_card}
        self.consumed = 0
        # (time, SKU) of every unit other channels took, and units taken per SKU.
        self.channel_log: list[tuple[float, str]] = []
        self.consumed_by_sku: Counter[str] = Counter()
        self._pending: list[_Pending] = []
        # (time, orderKey, status) of every status an order was written with or moved to, in order.
        self.status_log: list[tuple[float, str, str]] = []
        # Called with each new shipment, outside the lock.
        self.ship_listeners: list[Callable[[dict[str, Any]], object]] = []
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
        """`POST /orders/createorder`: create, or replace the whole order found by orderKey.

        A body that breaks the contract is refused as ShipStation refuses it: 400,
        ``{"Message": "The request is invalid.", "ModelState": {...}}``. An order no
        longer open (shipped, cancelled...) may not be updated; the docs do not say
        what ShipStation answers then, so the sandbox answers what it answers any
        refused update: 400 with a ``Message``, and the order stays as it was.
        """
        problems = order_model_state(body)
        if problems:
            raise WarehouseError(400, "The request is invalid.", problems)
        status = body["orderStatus"]
        now = self._clock.time()
        with self.lock:
            # Without an orderKey, ShipStation creates a new order and makes a key up.
            key = str(body.get("orderKey") or f"ss-{self._next_id + 1}")
            existing = self.orders.get(key)
            if existing is not None and existing["orderStatus"] not in OPEN_STATUSES:
                raise WarehouseError(400, f"Order {key} is {existing['orderStatus']}: only orders awaiting "
                                          "payment, awaiting shipment or on hold can be updated.")
            if existing is not None:
                self._release(existing)
            order = copy.deepcopy(body)
            order.update(orderKey=key, orderId=existing["orderId"] if existing else self._id(),
                         createDate=existing["createDate"] if existing else iso(now), modifyDate=iso(now))
            self.orders[key] = order
            self.order_keys[order["orderId"]] = key
            self.status_log.append((now, key, status))
            self._pending = [p for p in self._pending if p.order_key != key]
            if status == "awaiting_shipment":
                for sku, quantity in _units(order, self.stock):
                    self.stock[sku]["allocated"] += quantity
                    self.stock[sku]["modified"] = now
                self._pending.append(_Pending(key, now + self._delay))
            return copy.deepcopy(order)

    def order_by_id(self, order_id: int) -> dict[str, Any] | None:
        """`GET /orders/{orderId}`: the order as stored, or None."""
        with self.lock:
            key = self.order_keys.get(order_id)
            return copy.deepcopy(self.orders[key]) if key is not None else None

    def _release(self, order: dict[str, Any]) -> None:
        if order["orderStatus"] != "awaiting_shipment":
            return
        for sku, quantity in _units(order, self.stock):
            self.stock[sku]["allocated"] -= quantity

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
        for shipment in shipped:
            for listener in self.ship_listeners:
                listener(shipment)
        return shipped

    def _ship(self, order: dict[str, Any], now: float) -> dict[str, Any]:
        key = order["orderKey"]
        carrier, service, url = _CARRIERS[int(chance(self._seed, "carrier", key) * len(_CARRIERS))]
        tracking = f"1Z{int(chance(self._seed, 'tracking', key) * 10**16):016d}"
        for sku, quantity in _units(order, self.stock):
            level = self.stock[sku]
            level["allocated"] -= quantity
            level["onHand"] -= quantity
            level["modified"] = now
        order.update(orderStatus="shipped", modifyDate=iso(now))
        self.status_log.append((now, key, "shipped"))
        shipment = {
            "shipmentId": self._id(), "orderId": order["orderId"], "orderKey": key,
            "orderNumber": order["orderNumber"], "createDate": iso(now), "shipDate": iso(now)[:10],
            "modifyDate": iso(now), "trackingNumber": tracking, "carrierCode": carrier, "serviceCode": service,
            "trackingUrl": url.format(tracking), "voided": False,
            "shipmentCost": round(4.0 + 12.0 * chance(self._seed, "label", key), 2), "insuranceCost": 0.0,
            "shipmentItems": [{"sku": i.get("sku"), "name": i.get("name"), "quantity": i.get("quantity")}
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
                               "items": [{"sku": i.get("sku"), "quantity": i.get("quantity")}
                                         for i in o.get("items") or []]}
                           for k, o in self.orders.items()},
                "shipments": [{k: v for k, v in s.items() if not k.startswith("_")} for s in self.shipments],
                "stock": {sku: {"onHand": v["onHand"], "allocated": v["allocated"]} for sku, v in self.stock.items()},
                "consumed_by_other_channels": self.consumed,
            }


def _units(order: dict[str, Any], stock: dict[str, Any]) -> list[tuple[str, int]]:
    """(SKU, units) of the order's lines that name a stocked SKU and a positive quantity.

    The contract lets a line without a SKU through (an adjustment, a service):
    nothing is picked for it.
    """
    return [(item["sku"], item["quantity"]) for item in order.get("items") or []
            if item.get("sku") in stock and isinstance(item.get("quantity"), int) and item["quantity"] > 0]
