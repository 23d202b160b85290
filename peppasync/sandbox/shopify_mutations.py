"""The Shopify mutations that change state: fulfillmentCreate, fulfillmentOrderHold,
fulfillmentOrderReleaseHold and inventorySetQuantities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from .shop import LOCATION_ID, OUR_APP, HoldError, gid, iso, parse_gid

if TYPE_CHECKING:
    from .shopify_resolvers import ShopifyRoot

__all__ = ["REASONS", "create_fulfillment", "hold_fulfillment_order", "release_fulfillment_order_holds",
           "set_quantities"]

REASONS = frozenset({"correction", "cycle_count_available", "damaged", "movement_created", "movement_updated",
                     "movement_received", "movement_canceled", "other", "promotion", "quality_control",
                     "received", "reservation_created", "reservation_deleted", "reservation_updated",
                     "restock", "safety_stock", "shrinkage"})
_NAMES = frozenset({"available", "on_hand"})
_LIMIT = 1_000_000_000
_MAX_INPUTS = 250


def _fail(field: list[str], message: str) -> dict[str, Any]:
    return {"fulfillment": None, "userErrors": [{"field": field, "message": message}]}


def create_fulfillment(root: ShopifyRoot, data: dict[str, Any]) -> dict[str, Any]:
    """Fulfil fulfillment-order lines (all remaining ones when none are listed), with tracking."""
    shop = root.state
    tracking = data.get("trackingInfo") or {}
    if tracking.get("number") is not None and tracking.get("numbers"):
        return _fail(["fulfillment", "trackingInfo"], "use number or numbers, not both")
    if tracking.get("url") is not None and tracking.get("urls"):
        return _fail(["fulfillment", "trackingInfo"], "use url or urls, not both")
    if tracking.get("url") and not tracking.get("number"):
        return _fail(["fulfillment", "trackingInfo", "url"], "a tracking url needs a tracking number")
    groups = data.get("lineItemsByFulfillmentOrder") or []
    if not groups:
        return _fail(["fulfillment", "lineItemsByFulfillmentOrder"], "at least one fulfillment order is required")
    with shop.lock:
        plan: list[tuple[dict[str, Any], dict[str, Any], int]] = []
        order_ids = set()
        for n, group in enumerate(groups):
            fo_id = parse_gid(group["fulfillmentOrderId"], "FulfillmentOrder")
            fo = shop.fulfillment_orders.get(fo_id) if fo_id is not None else None
            where = ["fulfillment", "lineItemsByFulfillmentOrder", str(n), "fulfillmentOrderId"]
            if fo is None:
                return _fail(where, f"Fulfillment order {group['fulfillmentOrderId']} does not exist.")
            if fo["status"] not in ("OPEN", "IN_PROGRESS"):
                return _fail(where, f"Fulfillment order {group['fulfillmentOrderId']} has an unfulfillable "
                                    f"status= {fo['status'].lower()}.")
            order_ids.add(fo["order_id"])
            wanted = group.get("fulfillmentOrderLineItems")
            if not wanted:
                plan.extend((fo, line, line["remaining"]) for line in fo["lines"] if line["remaining"] > 0)
                continue
            lines = {gid("FulfillmentOrderLineItem", line["id"]): line for line in fo["lines"]}
            for m, want in enumerate(wanted):
                line = lines.get(want["id"])
                at = [*where[:-1], "fulfillmentOrderLineItems", str(m)]
                if line is None:
                    return _fail([*at, "id"], f"{want['id']} is not a line item of this fulfillment order "
                                              "(order line-item ids are not accepted)")
                if not 0 < want["quantity"] <= line["remaining"]:
                    return _fail([*at, "quantity"], f"quantity {want['quantity']} is not between 1 and the "
                                                    f"{line['remaining']} remaining")
                plan.append((fo, line, want["quantity"]))
        if len(order_ids) > 1:
            return _fail(["fulfillment"], "all fulfillment orders must belong to the same order")
        if not plan:
            return _fail(["fulfillment"], "nothing left to fulfil")
        for _fo, line, quantity in plan:
            line["remaining"] -= quantity
        now = shop.clock.time()
        for fo in {id(fo): fo for fo, _, _ in plan}.values():
            fo["status"] = "CLOSED" if all(x["remaining"] == 0 for x in fo["lines"]) else "IN_PROGRESS"
            fo["updated_at"] = now
        numbers = tracking.get("numbers") or ([tracking["number"]] if tracking.get("number") else [])
        urls = tracking.get("urls") or ([tracking["url"]] if tracking.get("url") else [])
        order_id = order_ids.pop()
        count = len(shop.fulfillments_of(order_id))
        record = {
            "id": shop.new_id(), "order_id": order_id, "status": "SUCCESS", "created_at": now,
            "name": f"{shop.orders[order_id].get('name')}.{count + 1}",
            "tracking": [{"company": tracking.get("company"), "number": number,
                          "url": urls[i] if i < len(urls) else None} for i, number in enumerate(numbers)],
            "lines": [(line["line_item_id"], quantity) for _, line, quantity in plan],
        }
        shop.add_fulfillment(record)
        order = shop.touch(order_id)
    for listener in shop.listeners:
        listener(order)  # Shopify follows a fulfillment with orders/updated
    return {"fulfillment": root._fulfillment(record), "userErrors": []}


def hold_fulfillment_order(root: ShopifyRoot, fo_gid: str, data: dict[str, Any]) -> dict[str, Any]:
    """Hold a whole fulfillment order as the calling app (holding some lines, which splits it, is not simulated)."""
    shop = root.state
    if data.get("fulfillmentOrderLineItems"):
        raise GraphQLError("holding some lines of a fulfillment order is not simulated; hold it whole",
                           extensions={"code": "NOT_SIMULATED"})
    fo_id = parse_gid(fo_gid, "FulfillmentOrder")
    try:
        if fo_id is None:
            raise HoldError("FULFILLMENT_ORDER_NOT_FOUND", f"Fulfillment order {fo_gid} does not exist.")
        hold = shop.hold(fo_id, reason=data["reason"], app=OUR_APP, handle=data.get("handle") or "",
                         notes=data.get("reasonNotes"))
    except HoldError as exc:
        return {"fulfillmentHold": None, "fulfillmentOrder": None, "remainingFulfillmentOrder": None,
                "userErrors": [{"field": exc.field, "message": exc.message, "code": exc.code}]}
    with shop.lock:
        fo = root._fulfillment_order(shop.fulfillment_orders[hold["fo_id"]])
    return {"fulfillmentHold": root.fulfillment_hold(hold), "fulfillmentOrder": fo,
            "remainingFulfillmentOrder": None, "userErrors": []}


def release_fulfillment_order_holds(root: ShopifyRoot, fo_gid: str, hold_ids: list[str] | None) -> dict[str, Any]:
    """Release the named holds of the fulfillment order, or all of them (other apps' too) without ids."""
    shop = root.state
    fo_id = parse_gid(fo_gid, "FulfillmentOrder")
    wanted = None if hold_ids is None else [n for n in (parse_gid(h, "FulfillmentHold") for h in hold_ids)
                                            if n is not None]
    try:
        if fo_id is None:
            raise HoldError("FULFILLMENT_ORDER_NOT_FOUND", f"Fulfillment order {fo_gid} does not exist.")
        shop.release(fo_id, wanted)
    except HoldError as exc:
        return {"fulfillmentOrder": None, "userErrors": [{"field": exc.field, "message": exc.message,
                                                          "code": exc.code}]}
    with shop.lock:
        fo = root._fulfillment_order(shop.fulfillment_orders[fo_id])
    return {"fulfillmentOrder": fo, "userErrors": []}


def set_quantities(root: ShopifyRoot, data: dict[str, Any]) -> dict[str, Any]:
    """Set absolute quantities, all or nothing, honouring compare-and-swap per quantity."""
    shop = root.state
    errors: list[dict[str, Any]] = []

    def fail(field: list[str], code: str | None, message: str) -> None:
        errors.append({"field": field, "code": code, "message": message})

    name = data["name"]
    if name not in _NAMES:
        fail(["input", "name"], "INVALID_NAME", f"name must be one of {sorted(_NAMES)}, got {name!r}")
    if data["reason"] not in REASONS:
        fail(["input", "reason"], "INVALID_REASON", f"unknown reason {data['reason']!r}")
    quantities = data["quantities"]
    if len(quantities) > _MAX_INPUTS:
        fail(["input", "quantities"], "INVALID_QUANTITY_TOO_HIGH",
             f"at most {_MAX_INPUTS} quantities per call, got {len(quantities)}")
    by_item = {item.inventory_item_id: item for item in shop.catalog.items}
    seen = set()
    with shop.lock:
        for n, q in enumerate(quantities):
            at = ["input", "quantities", str(n)]
            item_id = parse_gid(q["inventoryItemId"], "InventoryItem")
            location_id = parse_gid(q["locationId"], "Location")
            if item_id not in by_item:
                fail([*at, "inventoryItemId"], "INVALID_INVENTORY_ITEM",
                     f"The specified inventory item could not be found: {q['inventoryItemId']}")
                continue
            if location_id != LOCATION_ID:
                fail([*at, "locationId"], "INVALID_LOCATION",
                     f"The specified location could not be found: {q['locationId']}")
                continue
            if (item_id, location_id) in seen:
                fail(at, "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                     "The combination of inventoryItemId and locationId must be unique.")
            seen.add((item_id, location_id))
            if q["quantity"] > _LIMIT:
                fail([*at, "quantity"], "INVALID_QUANTITY_TOO_HIGH", f"quantity must be at most {_LIMIT}")
            if q["quantity"] < -_LIMIT:
                fail([*at, "quantity"], "INVALID_QUANTITY_TOO_LOW", f"quantity must be at least {-_LIMIT}")
            current = shop.levels[item_id].get(name, 0) if name in _NAMES else 0
            # Since 2026-04 every quantity carries changeFromQuantity; an explicit null opts out of the
            # check and leaving it out "returns an error" (no code for it is documented)
            # (https://shopify.dev/changelog/finalizing-compare-and-swap-redesign-for-inventory-set-quantities).
            if "changeFromQuantity" not in q:
                fail([*at, "changeFromQuantity"], None,
                     "changeFromQuantity is required: pass the quantity you expect, or null to skip the check.")
                continue
            expected = q["changeFromQuantity"]
            if expected is not None and expected != current:
                fail([*at, "changeFromQuantity"], "CHANGE_FROM_QUANTITY_STALE",
                     f"The quantity couldn't be updated because changeFromQuantity {expected} does not "
                     f"match the current quantity {current}.")
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        changes = []
        now = shop.clock.time()
        for q in quantities:
            item = by_item[parse_gid(q["inventoryItemId"], "InventoryItem")]  # type: ignore[index]
            level = shop.levels[item.inventory_item_id]
            delta = q["quantity"] - level[name]
            level[name] = q["quantity"]
            other = "on_hand" if name == "available" else "available"
            level[other] += delta
            level["updated_at"] = now
            shop.inventory_sets.append((now, item.inventory_item_id, q["quantity"]))
            for changed in (name, other):
                changes.append({"name": changed, "delta": delta, "quantityAfterChange": None,
                                "item": root._inventory_item(item), "location": root.location(None)})  # type: ignore[arg-type]
        return {"inventoryAdjustmentGroup": {
            "id": gid("InventoryAdjustmentGroup", shop.new_id()), "createdAt": iso(now), "reason": data["reason"],
            "referenceDocumentUri": data.get("referenceDocumentUri"), "changes": changes}, "userErrors": []}
