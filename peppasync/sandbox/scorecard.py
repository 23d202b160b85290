"""The scorecard: the sandbox's final state compared with the orders it placed."""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .erp_book import BookedOrder
from .warehouse import OPEN_STATUSES

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = ["Scorecard", "StockLags", "oversold_units", "score", "stock_lags"]


@dataclass(frozen=True)
class Scorecard:
    """What an integration got right and wrong, by Shopify order id.

    ERP sales orders are matched by Shopify order id (`ErpSimulator.booked`);
    WMS orders by orderKey. Stock drift is Shopify's available minus the WMS's
    (onHand - allocated) per SKU, before any safety buffer the engine keeps.
    Oversold units are those no stock was left for (see `oversold_units`);
    Shopify points spent are the GraphQL cost actually charged.
    """

    placed: int
    valid: int
    malformed: int
    erp_orders: int
    erp_missing: tuple[int, ...]
    erp_malformed: tuple[int, ...]
    erp_duplicate_creates: int
    erp_not_cancelled: tuple[int, ...]
    wms_missing: tuple[int, ...]
    wms_not_cancelled: tuple[int, ...]
    unfulfilled_shipments: tuple[int, ...]
    tracking_mismatches: tuple[int, ...]
    stock_drift: dict[str, int]
    throttled: dict[str, int]
    erp_max_in_flight: int
    webhooks: dict[str, int]
    oversold_units: int = 0
    shopify_points_spent: int = 0
    # Orders the WMS was told to ship (awaiting_shipment) while their fulfillment order was on hold in Shopify.
    released_while_held: tuple[int, ...] = ()

    @property
    def consistent(self) -> bool:
        """Every valid order in the ERP and WMS once, nothing malformed let through, shipments fulfilled,
        nothing sent to be shipped while Shopify held it."""
        return not (self.erp_missing or self.erp_malformed or self.erp_duplicate_creates or self.erp_not_cancelled
                    or self.wms_missing or self.wms_not_cancelled or self.unfulfilled_shipments
                    or self.tracking_mismatches or self.released_while_held)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "consistent": self.consistent}


def score(sandbox: Sandbox) -> Scorecard:
    """Compare what the sandbox placed with what each simulator holds now."""
    shop = sandbox.shopify.shop
    warehouse = sandbox.wms.warehouse
    sales = sandbox.erp.booked()
    with shop.lock:
        orders = {oid: dict(o) for oid, o in shop.orders.items()}
        fulfilled = {oid: shop.fulfillment_status(oid) for oid in orders}
        tracking: dict[int, set[str]] = {}
        for f in shop.fulfillments.values():
            tracking.setdefault(f["order_id"], set()).update(t["number"] for t in f["tracking"] if t["number"])
        available = {item.sku: shop.levels[item.inventory_item_id]["available"] for item in shop.catalog.items}
        holds = [dict(h) for h in shop.hold_log]
    with warehouse.lock:
        wms_orders = set(warehouse.orders)
        wms_open = {key for key, o in warehouse.orders.items() if o["orderStatus"] in OPEN_STATUSES}
        shipped: dict[str, set[str]] = {}
        for s in warehouse.shipments:
            shipped.setdefault(str(s["orderKey"]), set()).add(s["trackingNumber"])
        wms_available = {sku: v["onHand"] - v["allocated"] for sku, v in warehouse.stock.items()}
        to_ship = [(at, key) for at, key, status in warehouse.status_log if status == "awaiting_shipment"]

    def in_erp(order_id: int) -> BookedOrder | None:
        return sales.get(str(order_id))

    placed = sandbox.placed
    valid = [p for p in placed if p.valid]
    # An order cancelled before it was synced need never reach the ERP; one synced must be cancelled there.
    erp_missing = tuple(p.id for p in valid if in_erp(p.id) is None and not orders[p.id].get("cancelled_at"))
    erp_malformed = tuple(p.id for p in placed if not p.valid and in_erp(p.id) is not None)
    not_cancelled = tuple(
        oid for oid, o in orders.items()
        if o.get("cancelled_at") and (record := in_erp(oid)) is not None
        and not record.cancelled)
    needs_shipping = [p for p in valid if any(line.get("requires_shipping") for line in p.payload["line_items"])]
    wms_missing = tuple(p.id for p in needs_shipping
                        if str(p.id) not in wms_orders and not orders[p.id].get("cancelled_at"))
    # Cancelled in Shopify, yet the warehouse would still pick and ship it.
    wms_not_cancelled = tuple(oid for oid, o in orders.items() if o.get("cancelled_at") and str(oid) in wms_open)
    unfulfilled = tuple(int(key) for key in shipped
                        if key.isdigit() and int(key) in orders and fulfilled[int(key)] != "FULFILLED"
                        and not orders[int(key)].get("cancelled_at"))
    mismatched = tuple(oid for oid, numbers in tracking.items() if not numbers <= shipped.get(str(oid), set()))
    duplicates = sandbox.erp.duplicate_creates()
    released_while_held = tuple(sorted({
        int(key) for at, key in to_ship for h in holds
        if str(h["order_id"]) == key and h["placed"] <= at and (h["released"] is None or at < h["released"])}))
    drift = {sku: available[sku] - wms_available[sku] for sku in wms_available
             if sku in available and available[sku] != wms_available[sku]}
    return Scorecard(
        placed=len(placed), valid=len(valid), malformed=len(placed) - len(valid), erp_orders=len(sales),
        erp_missing=erp_missing, erp_malformed=erp_malformed, erp_duplicate_creates=duplicates,
        erp_not_cancelled=not_cancelled, wms_missing=wms_missing,
        wms_not_cancelled=wms_not_cancelled, unfulfilled_shipments=unfulfilled,
        tracking_mismatches=mismatched, stock_drift=drift, released_while_held=released_while_held,
        throttled={"shopify": sandbox.shopify.ledger.outcomes().get("throttled", 0),
                   sandbox.erp_kind: sandbox.erp.ledger.outcomes().get("throttled", 0),
                   "wms": sandbox.wms.ledger.outcomes().get("throttled", 0)},
        erp_max_in_flight=sandbox.erp.ledger.max_in_flight,
        oversold_units=sum(oversold_units(sandbox).values()),
        shopify_points_spent=sandbox.shopify.ledger.events().get("points_spent", 0),
        webhooks={**sandbox.webhooks.ledger.outcomes(), **sandbox.webhooks.ledger.events(),
                  "duplicated": sum(1 for p in sandbox.webhooks.plans if p.copies > 1 and not p.dropped)},
    )


def oversold_units(sandbox: Sandbox) -> dict[str, int]:
    """Per SKU, units Shopify sold when the true stock could not cover them.

    Replays Shopify's sales and cancellations and the units other channels took
    from the warehouse in time order, from the catalogue's starting stock: a sale
    of q units when r are left oversells max(0, q - max(0, r)). Units a channel
    takes after Shopify sold them are that channel's oversell, not Shopify's, but
    they leave less for Shopify's next sale. Only oversold SKUs appear.
    """
    shop = sandbox.shopify.shop
    warehouse = sandbox.wms.warehouse
    with shop.lock:
        events = [(at, 1, sku, units) for at, sku, units in shop.sales]
    with warehouse.lock:
        events += [(at, 0, sku, 1) for at, sku in warehouse.channel_log]
    left = {item.sku: item.stock for item in sandbox.catalog.physical}
    out: dict[str, int] = {}
    for _, shopify_sale, sku, units in sorted(events):
        if sku not in left:
            continue
        if shopify_sale and units > 0:
            short = max(0, units - max(0, left[sku]))
            if short:
                out[sku] = out.get(sku, 0) + short
        left[sku] -= units
    return out


@dataclass(frozen=True)
class StockLags:
    """How long stock taken by other channels took to show on Shopify, in the sandbox clock's seconds.

    Only units taken while Shopify still showed the SKU as available count (when
    it shows zero there is nothing to correct). Such a change is reflected by the
    first inventorySetQuantities applied to its SKU after a WMS stock read that
    began after the change. `unreflected` counts changes no such write followed
    and that left Shopify, at the end, showing more than the WMS has free: a
    change that Shopify's own sales made moot, or that a write of a later value
    covered, is not one.
    """

    lags: tuple[float, ...]
    unreflected: int

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0..1) of the lags, nearest rank; None when there are none."""
        if not self.lags:
            return None
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def _shown(sandbox: Sandbox) -> dict[str, list[tuple[float, int]]]:
    """Per SKU, Shopify's available after each sale and each write, in time order."""
    shop = sandbox.shopify.shop
    skus = {item.inventory_item_id: item.sku for item in sandbox.catalog.physical}
    with shop.lock:
        events = [(at, 0, sku, units) for at, sku, units in shop.sales if units > 0]
        events += [(at, 1, skus[item], quantity) for at, item, quantity in shop.inventory_sets if item in skus]
    level = {item.sku: item.stock for item in sandbox.catalog.physical}
    history: dict[str, list[tuple[float, int]]] = {sku: [] for sku in level}
    for at, is_write, sku, units in sorted(events):
        level[sku] = units if is_write else level[sku] - units
        history[sku].append((at, level[sku]))
    return history


def stock_lags(sandbox: Sandbox) -> StockLags:
    """Measure `StockLags` from the warehouse's channel log, the WMS ledger and Shopify's writes."""
    reads = sorted((e.started, e.started + e.duration) for e in sandbox.wms.ledger.entries("ok")
                   if e.path == "/v2/inventory")
    starts = [start for start, _ in reads]
    shop = sandbox.shopify.shop
    with shop.lock:
        sets = list(shop.inventory_sets)
    with sandbox.wms.warehouse.lock:
        changes = list(sandbox.wms.warehouse.channel_log)
    by_item: dict[int, list[float]] = {}
    for at, item_id, _ in sets:
        by_item.setdefault(item_id, []).append(at)
    for times in by_item.values():
        times.sort()
    items = {item.sku: item.inventory_item_id for item in sandbox.catalog.items}
    stocks = {item.sku: item.stock for item in sandbox.catalog.items}
    history = _shown(sandbox)
    with sandbox.wms.warehouse.lock:
        free = {sku: v["onHand"] - v["allocated"] for sku, v in sandbox.wms.warehouse.stock.items()}
    lags: list[float] = []
    unreflected = 0
    for at, sku in changes:
        shown = history.get(sku, [])
        k = bisect.bisect_right(shown, (at, float("inf"))) - 1
        if (shown[k][1] if k >= 0 else stocks[sku]) <= 0:
            continue  # Shopify already showed none
        n = bisect.bisect_left(starts, at)
        times = by_item.get(items[sku], [])
        m = bisect.bisect_left(times, reads[n][1]) if n < len(reads) else len(times)
        if m >= len(times):
            final = shown[-1][1] if shown else stocks[sku]
            if final > free.get(sku, final):
                unreflected += 1
        else:
            lags.append(times[m] - at)
    return StockLags(tuple(lags), unreflected)
