"""The scorecard: the sandbox's final state compared with the orders it placed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = ["Scorecard", "score"]


@dataclass(frozen=True)
class Scorecard:
    """What an integration got right and wrong, by Shopify order id.

    ERP sales orders are matched by external id `{order id}` or `shopify-{order id}`;
    WMS orders by orderKey. Stock drift is Shopify's available minus the WMS's
    (onHand - allocated) per SKU, before any safety buffer the engine keeps.
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
    unfulfilled_shipments: tuple[int, ...]
    tracking_mismatches: tuple[int, ...]
    stock_drift: dict[str, int]
    throttled: dict[str, int]
    erp_max_in_flight: int
    webhooks: dict[str, int]

    @property
    def consistent(self) -> bool:
        """Every valid order in the ERP and WMS once, nothing malformed let through, shipments fulfilled."""
        return not (self.erp_missing or self.erp_malformed or self.erp_duplicate_creates or self.erp_not_cancelled
                    or self.wms_missing or self.unfulfilled_shipments or self.tracking_mismatches)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "consistent": self.consistent}


def score(sandbox: Sandbox) -> Scorecard:
    """Compare what the sandbox placed with what each simulator holds now."""
    shop = sandbox.shopify.shop
    erp = sandbox.netsuite.erp
    warehouse = sandbox.wms.warehouse
    sales = erp.sales_orders()
    with shop.lock:
        orders = {oid: dict(o) for oid, o in shop.orders.items()}
        fulfilled = {oid: shop.fulfillment_status(oid) for oid in orders}
        tracking: dict[int, set[str]] = {}
        for f in shop.fulfillments.values():
            tracking.setdefault(f["order_id"], set()).update(t["number"] for t in f["tracking"] if t["number"])
        available = {item.sku: shop.levels[item.inventory_item_id]["available"] for item in shop.catalog.items}
    with warehouse.lock:
        wms_orders = set(warehouse.orders)
        shipped: dict[str, set[str]] = {}
        for s in warehouse.shipments:
            shipped.setdefault(str(s["orderKey"]), set()).add(s["trackingNumber"])
        wms_available = {sku: v["onHand"] - v["allocated"] for sku, v in warehouse.stock.items()}

    def in_erp(order_id: int) -> dict[str, Any] | None:
        return sales.get(str(order_id)) or sales.get(f"shopify-{order_id}")

    placed = sandbox.placed
    valid = [p for p in placed if p.valid]
    erp_missing = tuple(p.id for p in valid if in_erp(p.id) is None)
    erp_malformed = tuple(p.id for p in placed if not p.valid and in_erp(p.id) is not None)
    not_cancelled = tuple(
        oid for oid, o in orders.items()
        if o.get("cancelled_at") and (record := in_erp(oid)) is not None
        and (record.get("orderStatus") or {}).get("id") != "C")
    needs_shipping = [p for p in valid if any(line.get("requires_shipping") for line in p.payload["line_items"])]
    wms_missing = tuple(p.id for p in needs_shipping
                        if str(p.id) not in wms_orders and not orders[p.id].get("cancelled_at"))
    unfulfilled = tuple(int(key) for key in shipped
                        if key.isdigit() and int(key) in orders and fulfilled[int(key)] != "FULFILLED"
                        and not orders[int(key)].get("cancelled_at"))
    mismatched = tuple(oid for oid, numbers in tracking.items() if not numbers <= shipped.get(str(oid), set()))
    duplicates = sum(erp.duplicates.values()) + sum(n - 1 for n in erp.creates.values() if n > 1)
    drift = {sku: available[sku] - wms_available[sku] for sku in wms_available
             if sku in available and available[sku] != wms_available[sku]}
    return Scorecard(
        placed=len(placed), valid=len(valid), malformed=len(placed) - len(valid), erp_orders=len(sales),
        erp_missing=erp_missing, erp_malformed=erp_malformed, erp_duplicate_creates=duplicates,
        erp_not_cancelled=not_cancelled, wms_missing=wms_missing, unfulfilled_shipments=unfulfilled,
        tracking_mismatches=mismatched, stock_drift=drift,
        throttled={"shopify": sandbox.shopify.ledger.outcomes().get("throttled", 0),
                   "netsuite": sandbox.netsuite.ledger.outcomes().get("throttled", 0),
                   "wms": sandbox.wms.ledger.outcomes().get("throttled", 0)},
        erp_max_in_flight=sandbox.netsuite.ledger.max_in_flight,
        webhooks={**sandbox.webhooks.ledger.outcomes(), **sandbox.webhooks.ledger.events(),
                  "duplicated": sum(1 for p in sandbox.webhooks.plans if p.copies > 1 and not p.dropped)},
    )
