"""ShopifyConnector: Shopify Admin GraphQL with a cost-bucket limiter."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from peppasync.config import ShopifyConfig
from peppasync.errors import ConnectorError
from peppasync.retry import RetryPolicy

from .aimd import AimdLimit
from .bucket import CostBucket
from .connector import Connector
from .failure import PermanentFailure, TransientFailure, classify_status
from .hooks import ConnectorHooks
from .limiter import Priority
from .shopify_queries import (
    FULFILLMENT_CREATE,
    FULFILLMENT_HOLDS,
    FULFILLMENT_ORDER_HOLD,
    FULFILLMENT_ORDER_RELEASE_HOLD,
    ORDER_FULFILLMENT_ORDERS,
    ORDER_PRODUCT_TAGS,
    ORDERS_UPDATED_SINCE,
    SET_QUANTITIES,
    UNIT_COST,
    gid,
    levels_query,
    search_value,
    transactions_query,
    variants_query,
)

__all__ = ["OrdersPage", "SetResult", "ShopifyConnector"]

_ALIASES_PER_CALL = 50
_MAX_QUANTITIES = 250
_OPEN = ("OPEN", "IN_PROGRESS")


@dataclass(frozen=True)
class SetResult:
    """What became of one quantity in an ``inventorySetQuantities`` call.

    The mutation is all or nothing: when any item fails, the others report
    ``NOT_APPLIED`` and can be sent again as they are; a ``CHANGE_FROM_QUANTITY_STALE``
    item needs a fresh compare value first.
    """

    inventory_item_id: str
    applied: bool
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class OrdersPage:
    """One page of order summaries, oldest update first, and where the next page starts."""

    nodes: list[dict[str, Any]]
    end_cursor: str | None
    has_next: bool


class ShopifyConnector(Connector):
    """One shop: ``POST {shop_url}/admin/api/{api_version}/graphql.json``."""

    def __init__(
        self,
        config: ShopifyConfig,
        *,
        name: str = "shopify",
        limit: AimdLimit | None = None,
        retry: RetryPolicy | None = None,
        hooks: ConnectorHooks | None = None,
        timeout: tuple[float, float] = (3.05, 30.0),
        session: requests.Session | None = None,
    ) -> None:
        if not config.access_token:
            raise ValueError("shopify.access_token is empty; set it (or PEPPASYNC_SHOPIFY_ACCESS_TOKEN)")
        super().__init__(name, limit=limit or AimdLimit(8, maximum=32), retry=retry, hooks=hooks,
                         timeout=timeout, session=session)
        self.config = config
        self.url = f"{config.shop_url.rstrip('/')}/admin/api/{config.api_version}/graphql.json"
        self.bucket = CostBucket(self.clock, self.retry.sleep)
        self._costs: dict[str, float] = {}

    def bucket_available(self) -> float | None:
        return self.bucket.available()

    def _admit(self, cost: float) -> None:
        self.bucket.reserve(cost)

    # -- the wire ------------------------------------------------------------------

    def graphql(self, query: str, variables: dict[str, Any] | None = None, *, operation: str,
                estimate: float = 10.0, priority: int = Priority.NORMAL) -> dict[str, Any]:
        """Run one document and return its ``data``; THROTTLED and 5xx are retried.

        Stock numbers and fulfillments go in the HIGH lane: a stock number late
        is a chance to oversell, and a tracking number late is a customer asking.
        Reads in bulk (the reconciler's paging, the catalogue) wait behind them.
        """
        headers = {"X-Shopify-Access-Token": self.config.access_token, "Content-Type": "application/json"}
        body = {"query": query, "variables": variables or {}}
        cost = min(self._costs.get(operation, estimate), 1000.0)

        def classify(response: requests.Response) -> dict[str, Any]:
            return self._classify(response, operation)

        return self.exchange("POST", self.url, classify, cost=cost, priority=priority, json=body, headers=headers)

    def _classify(self, response: requests.Response, operation: str) -> dict[str, Any]:
        payload: Any = None
        try:
            payload = response.json()
        except ValueError:
            pass
        cost = (payload or {}).get("extensions", {}).get("cost") if isinstance(payload, dict) else None
        if isinstance(cost, dict):
            requested = cost.get("requestedQueryCost")
            if requested is not None:
                self._costs[operation] = float(requested)
            cap = None
            predicted = self.bucket.available()
            if self.limiter.inflight > 1 and predicted is not None:
                # Others are in flight: their points are spent in our model, not yet in Shopify's
                # report. This call's unused points come back either way.
                actual = cost.get("actualQueryCost")
                cap = predicted + max(0.0, float(requested or 0) - float(actual if actual is not None else 0))
            available = self.bucket.observe(cost.get("throttleStatus") or {}, cap=cap)
            if available is not None:
                self.hooks.on_bucket(self.name, available)
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if isinstance(errors, str):
            # Authentication failures come as one string, not a list of GraphQL errors.
            errors = [{"message": errors}]
        if errors and any(_code(e) == "THROTTLED" for e in errors):
            raise TransientFailure("THROTTLED by Shopify", status=response.status_code, code="THROTTLED",
                                   retry_after=self.bucket.wait_for(self._costs.get(operation, 10.0)),
                                   throttled=True)
        message = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict)) if errors else ""
        classify_status(response, message, _code(errors[0]) if errors else "")
        if errors:
            raise PermanentFailure(f"GraphQL errors: {message}", status=response.status_code,
                                   code=_code(errors[0]) or "GRAPHQL_ERROR")
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise TransientFailure(f"no data in the response (HTTP {response.status_code})",
                                   status=response.status_code, congestion=False)
        data: dict[str, Any] = payload["data"]
        return data

    # -- reads ---------------------------------------------------------------------

    def orders_updated_since(self, since: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Order summaries updated after ``since`` (ISO 8601), oldest update first, page by page."""
        if not 1 <= page_size <= 250:
            raise ValueError(f"page_size must be between 1 and 250, got {page_size}")
        if not since or "'" in since:
            raise ValueError(f"since must be an ISO 8601 time such as 2026-11-01T00:00:00Z, got {since!r}")
        return self._order_pages(since, page_size)

    def _order_pages(self, since: str, page_size: int) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            page = self.orders_page(since, after=after, page_size=page_size)
            yield from page.nodes
            if not page.has_next:
                return
            after = page.end_cursor

    def orders_page(self, since: str, *, after: str | None = None, page_size: int = 100,
                    priority: int = Priority.NORMAL) -> OrdersPage:
        """One page of the summaries ``orders_updated_since`` pages through, from the cursor ``after``.

        For callers that keep their place between pages (the reconciler commits it after each).
        """
        if not 1 <= page_size <= 250:
            raise ValueError(f"page_size must be between 1 and 250, got {page_size}")
        if not since or "'" in since:
            raise ValueError(f"since must be an ISO 8601 time such as 2026-11-01T00:00:00Z, got {since!r}")
        data = self.graphql(ORDERS_UPDATED_SINCE,
                            {"first": page_size, "after": after, "query": f"updated_at:>'{since}'"},
                            operation="orders", estimate=page_size + 2, priority=priority)
        page = data["orders"]
        info = page["pageInfo"]
        return OrdersPage(list(page["nodes"]), info.get("endCursor"), bool(info["hasNextPage"]))

    def variants_by_sku(self, skus: Sequence[str | int]) -> dict[str, str]:
        """SKU -> inventory item GID for the SKUs Shopify knows; unknown SKUs are left out.

        A SKU is text in Shopify; one given as a number is looked up, and answered, as its text.
        """
        wanted = list(dict.fromkeys(str(s) for s in skus if s is not None and str(s) != ""))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), _ALIASES_PER_CALL):
            chunk = wanted[start:start + _ALIASES_PER_CALL]
            query, variables = variants_query(chunk)
            data = self.graphql(query, variables, operation=f"variants{len(chunk)}", estimate=len(chunk) * 12.0)
            for n, sku in enumerate(chunk):
                for node in (data.get(f"v{n}") or {}).get("nodes", []):
                    # Shopify's search matches loosely; only an exact SKU counts.
                    if node.get("sku") == sku:
                        found[sku] = node["inventoryItem"]["id"]
                        break
        return found

    def orders_transactions(self, order_ids: Sequence[str | int]) -> dict[str, list[dict[str, Any]] | None]:
        """Each order's transactions (kind, status, gateway, amount, fees) by order id, up to
        ``_ALIASES_PER_CALL`` orders a call; None for an order Shopify does not have."""
        wanted = list(dict.fromkeys(str(i) for i in order_ids))
        found: dict[str, list[dict[str, Any]] | None] = {}
        for start in range(0, len(wanted), _ALIASES_PER_CALL):
            chunk = wanted[start:start + _ALIASES_PER_CALL]
            query, variables = transactions_query([gid("Order", i) for i in chunk])
            data = self.graphql(query, variables, operation=f"transactions{len(chunk)}", estimate=len(chunk) * 6.0,
                                priority=Priority.BACKGROUND)
            for n, order_id in enumerate(chunk):
                order = data.get(f"o{n}")
                found[order_id] = None if order is None else list(order.get("transactions") or [])
        return found

    def order_product_tags(self, order_id: str | int) -> set[str]:
        """The tags of the products on the order's first 25 lines (lines without a product have none)."""
        order = self._order(ORDER_PRODUCT_TAGS, gid("Order", order_id), operation="product_tags", estimate=52.0,
                            priority=Priority.NORMAL)
        return {str(tag) for node in order["lineItems"]["nodes"] for tag in (node.get("product") or {}).get("tags")
                or ()}

    def unit_cost(self, sku: str) -> str | None:
        """The SKU's ``InventoryItem.unitCost`` amount (shop currency), or None when none is set
        or Shopify has no variant with exactly this SKU."""
        data = self.graphql(UNIT_COST, {"query": f"sku:{search_value(str(sku))}"}, operation="unit_cost",
                            estimate=12.0, priority=Priority.BACKGROUND)
        for node in (data.get("productVariants") or {}).get("nodes", []):
            if node.get("sku") == str(sku):
                cost = (node.get("inventoryItem") or {}).get("unitCost")
                return str(cost["amount"]) if cost else None
        return None

    def available(self, inventory_item_ids: Sequence[str | int], *,
                  priority: int = Priority.HIGH) -> dict[str | int, int | None]:
        """The ``available`` quantity at the configured location per item; None when not stocked there."""
        location = self._location()
        ids = list(dict.fromkeys(inventory_item_ids))
        result: dict[str | int, int | None] = {}
        for start in range(0, len(ids), _ALIASES_PER_CALL):
            chunk = ids[start:start + _ALIASES_PER_CALL]
            query, variables = levels_query([gid("InventoryItem", i) for i in chunk], location)
            data = self.graphql(query, variables, operation=f"levels{len(chunk)}", estimate=len(chunk) * 3.0,
                                priority=priority)
            for n, ident in enumerate(chunk):
                item = data.get(f"i{n}")
                level = (item or {}).get("inventoryLevel")
                quantities = {q["name"]: q["quantity"] for q in (level or {}).get("quantities", [])}
                result[ident] = quantities.get("available")
        return result

    # -- writes --------------------------------------------------------------------

    def fulfillment_holds(self, order_id: str | int) -> list[dict[str, Any]]:
        """The holds on the order's fulfillment orders (``FulfillmentHold``: id, handle, reason,
        heldByRequestingApp), each with its ``fulfillmentOrderId``; [] when none is held."""
        return _holds(self._hold_nodes(order_id))

    def _hold_nodes(self, order_id: str | int) -> list[dict[str, Any]]:
        # The normal lane: this decides whether new work goes ahead, as the ERP's first calls do.
        order = self._order(FULFILLMENT_HOLDS, gid("Order", order_id), operation="fulfillment_holds", estimate=12.0,
                            priority=Priority.NORMAL)
        return list(order["fulfillmentOrders"]["nodes"])

    def hold_fulfillment(self, order_id: str | int, handle: str, notes: str,
                         reason: str = "OTHER") -> list[dict[str, Any]]:
        """Hold every open fulfillment order of the order with our hold ``handle``; returns our holds
        with that handle (as ``fulfillment_holds`` gives them). A fulfillment order that has our
        hold with that handle already is left as it is, so holding again changes nothing."""
        nodes = self._hold_nodes(order_id)
        for node in nodes:
            if node["status"] not in (*_OPEN, "ON_HOLD") or any(
                    h.get("heldByRequestingApp") and h.get("handle") == handle for h in node["fulfillmentHolds"]):
                continue
            data = self.graphql(FULFILLMENT_ORDER_HOLD, {"id": node["id"], "hold": {
                "reason": reason, "handle": handle, "reasonNotes": notes}}, operation="hold", priority=Priority.HIGH)
            errors = data["fulfillmentOrderHold"]["userErrors"]
            if errors and not all(e.get("code") == "DUPLICATE_FULFILLMENT_HOLD_HANDLE" for e in errors):
                raise ConnectorError(f"{self.name}: fulfillmentOrderHold on {node['id']} refused: "
                                     + "; ".join(e["message"] for e in errors), connector=self.name,
                                     code=errors[0].get("code") or "USER_ERROR")
        return [h for h in _holds(self._hold_nodes(order_id), held_only=False)
                if h.get("heldByRequestingApp") and h.get("handle") == handle]

    def release_holds(self, holds: Sequence[tuple[str, str]]) -> None:
        """Release these holds, ``(fulfillment order id, hold id)``, and no other; one released already is done."""
        by_order: dict[str, list[str]] = {}
        for fo_id, hold_id in holds:
            by_order.setdefault(fo_id, []).append(hold_id)
        for fo_id, hold_ids in by_order.items():
            if not fo_id or not hold_ids:
                raise ValueError(f"release_holds needs fulfillment order and hold ids, got {fo_id!r}, {hold_ids!r}")
            data = self.graphql(FULFILLMENT_ORDER_RELEASE_HOLD, {"id": fo_id, "holdIds": hold_ids},
                                operation="release_hold", priority=Priority.HIGH)
            errors = data["fulfillmentOrderReleaseHold"]["userErrors"]
            if errors:
                raise ConnectorError(f"{self.name}: fulfillmentOrderReleaseHold on {fo_id} refused: "
                                     + "; ".join(e["message"] for e in errors), connector=self.name,
                                     code=errors[0].get("code") or "USER_ERROR")

    def fulfill(self, order_id: str | int, tracking_number: str, company: str, url: str = "") -> dict[str, Any]:
        """Fulfil every open fulfillment order of the order with this tracking; already fulfilled is success.

        Returns ``{"fulfillment_id": ..., "already_fulfilled": bool, "held": [...]}``. While a
        fulfillment order is on hold, nothing is fulfilled and ``held`` lists its holds (as
        ``fulfillment_holds`` does): Shopify refuses to fulfil a held fulfillment order, and
        fulfilling the rest would tell the customer half a story.
        """
        order_gid = gid("Order", order_id)
        for _ in range(2):
            nodes, status = self._fulfillment_orders(order_gid)
            held = _holds(nodes)
            if held:
                return {"fulfillment_id": None, "already_fulfilled": False, "held": held}
            open_ids = [n["id"] for n in nodes if n["status"] in _OPEN]
            if not open_ids:
                if status == "FULFILLED":
                    return {"fulfillment_id": None, "already_fulfilled": True, "held": []}
                raise ConnectorError(f"{self.name}: order {order_id} has no open fulfillment orders "
                                     f"(status {status})", connector=self.name, code="NO_OPEN_FULFILLMENT_ORDERS")
            tracking: dict[str, Any] = {"number": tracking_number, "company": company}
            if url:
                tracking["url"] = url
            fulfillment = {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": i} for i in open_ids],
                           "notifyCustomer": True, "trackingInfo": tracking}
            data = self.graphql(FULFILLMENT_CREATE, {"fulfillment": fulfillment}, operation="fulfill",
                                priority=Priority.HIGH)
            payload = data["fulfillmentCreate"]
            if not payload["userErrors"]:
                return {"fulfillment_id": payload["fulfillment"]["id"], "already_fulfilled": False, "held": []}
            errors = payload["userErrors"]
        # Someone else fulfilled in between, or Shopify refused: a second look decided neither way.
        raise ConnectorError(f"{self.name}: fulfillmentCreate for order {order_id} refused: "
                             + "; ".join(e["message"] for e in errors), connector=self.name, code="USER_ERROR")

    def _fulfillment_orders(self, order_gid: str) -> tuple[list[dict[str, Any]], str]:
        order = self._order(ORDER_FULFILLMENT_ORDERS, order_gid, operation="fulfillment_orders", estimate=42.0,
                            priority=Priority.HIGH)
        return list(order["fulfillmentOrders"]["nodes"]), order["displayFulfillmentStatus"]

    def _order(self, document: str, order_gid: str, *, operation: str, estimate: float,
               priority: int) -> dict[str, Any]:
        """The ``order`` a one-order document reads; NOT_FOUND when Shopify has no such order."""
        order: dict[str, Any] | None = self.graphql(document, {"id": order_gid}, operation=operation,
                                                    estimate=estimate, priority=priority).get("order")
        if order is None:
            raise ConnectorError(f"{self.name}: order {order_gid} does not exist", connector=self.name,
                                 code="NOT_FOUND")
        return order

    def set_available(self, quantities: Sequence[tuple[str | int, int, int | None]],
                      idempotency_key: str, *, reason: str = "correction") -> list[SetResult]:
        """Set ``available`` absolutely, compare-and-set on ``change_from`` (None opts out).

        ``quantities`` holds ``(inventory_item_id, quantity, change_from)``, at most 250.
        Per-item refusals come back as ``SetResult``\\ s, not as exceptions.
        """
        if not quantities:
            return []
        if len(quantities) > _MAX_QUANTITIES:
            raise ValueError(f"at most {_MAX_QUANTITIES} quantities per call, got {len(quantities)}")
        if not idempotency_key:
            raise ValueError("an idempotency key is required, so a retried call is not applied twice")
        location = self._location()
        items = [gid("InventoryItem", item) for item, _, _ in quantities]
        rows = [{"inventoryItemId": item, "locationId": location, "quantity": int(qty), "changeFromQuantity": prev}
                for item, (_, qty, prev) in zip(items, quantities)]
        variables = {"input": {"name": "available", "reason": reason, "quantities": rows}, "key": idempotency_key}
        data = self.graphql(SET_QUANTITIES, variables, operation="set_quantities", priority=Priority.HIGH)
        errors = data["inventorySetQuantities"]["userErrors"]
        by_index: dict[int, tuple[str, str]] = {}
        general: list[str] = []
        for error in errors:
            index = _quantity_index(error.get("field"))
            entry = (error.get("code") or "USER_ERROR", error.get("message", ""))
            if index is None or index >= len(items):
                general.append(f"{entry[0]}: {entry[1]}")
            else:
                by_index.setdefault(index, entry)
        if general and not by_index:
            raise ConnectorError(f"{self.name}: inventorySetQuantities refused: " + "; ".join(general),
                                 connector=self.name, code=errors[0].get("code") or "USER_ERROR")
        results = []
        for n, (_item, (original, _, _)) in enumerate(zip(items, quantities)):
            if n in by_index:
                results.append(SetResult(str(original), False, *by_index[n]))
            elif errors:
                results.append(SetResult(str(original), False, "NOT_APPLIED",
                                         "another quantity in the same call was refused"))
            else:
                results.append(SetResult(str(original), True))
        return results

    def _location(self) -> str:
        if not self.config.location_id:
            raise ConnectorError(f"{self.name}: shopify.location_id is not configured", connector=self.name,
                                 code="CONFIG")
        return gid("Location", self.config.location_id)


def _holds(nodes: list[dict[str, Any]], *, held_only: bool = True) -> list[dict[str, Any]]:
    return [{**hold, "fulfillmentOrderId": node["id"]} for node in nodes if node["status"] == "ON_HOLD" or not held_only
            for hold in node.get("fulfillmentHolds") or ()]


def _code(error: Any) -> str:
    if isinstance(error, dict):
        return str((error.get("extensions") or {}).get("code") or "")
    return ""


def _quantity_index(field: Any) -> int | None:
    """``["input", "quantities", "3", ...]`` -> 3."""
    if isinstance(field, list) and len(field) >= 3 and field[1] == "quantities":
        try:
            return int(field[2])
        except (TypeError, ValueError):
            return None
    return None
